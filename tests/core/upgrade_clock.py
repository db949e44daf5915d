"""The clock of an upgrade's wait before its steps are said
(:mod:`crisisdesk.core.upgrade_steps`), the test's to run: ``clock`` (the moment passes
when the test says) and ``steps_said_at_once`` (every upgrade is a long one)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crisisdesk.core import upgrade_steps


class Clock:
    """The waits the upgrade's listener starts, over only when the test says so."""

    def __init__(self) -> None:
        self.waits: list[tuple[Callable[[], None], list[bool]]] = []

    def later(self, seconds: float, call: Callable[[], None]) -> Callable[[], None]:
        assert seconds > 0
        cancelled = [False]
        self.waits.append((call, cancelled))
        return lambda: cancelled.__setitem__(0, True)

    def time_passes(self, *, even_cancelled: bool = False) -> None:
        """The moment has passed: each wait not cancelled is over (``even_cancelled``: a
        timer whose thread had already woken when it was cancelled)."""
        for call, cancelled in list(self.waits):
            if even_cancelled or not cancelled[0]:
                call()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The upgrade's waits, over only when the test says (``Clock.time_passes``)."""
    made = Clock()
    monkeypatch.setattr(upgrade_steps, "later", made.later)
    return made


@pytest.fixture
def steps_said_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every upgrade runs past the moment at once: each of its steps is said (for the
    tests of what is said of a long upgrade, whose upgrades are quick)."""
    def at_once(seconds: float, call: Callable[[], None]) -> Callable[[], None]:
        call()
        return lambda: None

    monkeypatch.setattr(upgrade_steps, "later", at_once)
