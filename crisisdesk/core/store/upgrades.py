"""An upgrade of a project's store that failed: where it stopped, and the words that
say so (:mod:`crisisdesk.core.store.schema` runs the migrations)."""

from __future__ import annotations

from dataclasses import dataclass

#: What to do about an upgrade that failed for a reason of crisisdesk's own.
REPORT = "please report this, with this message, to crisisdesk's developers"


@dataclass(frozen=True)
class FailedUpgrade:
    """Where an upgrade of a project's store stopped: the schema it was at (``start``),
    the one it was going to (``target``) and the step (the migration to schema
    ``step``) that failed. Each step is its own transaction, so the store is left at
    schema ``step - 1``."""

    start: int
    target: int
    step: int
    #: The failed migration's name (the function's).
    name: str

    def left(self) -> str:
        """What the upgrade left of the project, and which crisisdesk opens it."""
        if self.step == self.start + 1:
            return ("nothing in it was changed, so the crisisdesk release that wrote it "
                    f"(schema {self.start}) still opens it")
        return (f"each step is saved on its own, so it is left at schema {self.step - 1}"
                " as the last finished step made it (the release that wrote it, schema "
                f"{self.start}, no longer opens it); opening it again retries the rest")

    def says(self, why: str, todo: str = REPORT) -> str:
        """The failure as a clause: the step, ``why``, what is left, and ``todo``."""
        return (f"upgrading it from schema {self.start} to {self.target} failed at step "
                f"{self.step} ({self.name}): {why}; {self.left()}; {todo}")


def failed_upgrade(exc: BaseException) -> FailedUpgrade | None:
    """The upgrade a SQLite error stopped, when a migration raised it (else None)."""
    return getattr(exc, "crisisdesk_upgrade", None)
