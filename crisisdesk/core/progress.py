"""Progress reports of long jobs.

A long job is a plain generator that yields :class:`Progress` after each unit of work it
has committed. The caller (CLI progress bar, GUI worker, test) may stop it at any yield by
calling ``close()`` on the generator: the job then ends with everything done so far kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where a job stands: ``done`` of ``total`` units (total 0 when not yet known).

    ``notes``: what the analyst is to be told of how the job went, beside its figures (a
    head that read texts of another kind than it trained on), for a front end that only
    drives the job (the app's jobs panel shows them when the job ends); a job yields
    them once it knows them, usually with its last progress."""

    done: int
    total: int
    message: str = ""
    device: str = "cpu"
    notes: tuple[str, ...] = ()

    @property
    def fraction(self) -> float:
        """Share of the work done, 0..1 (0 while the total is unknown)."""
        return self.done / self.total if self.total else 0.0
