"""Progress reports of long jobs.

A long job is a plain generator that yields :class:`Progress` after each unit of work it
has committed. The caller (CLI progress bar, GUI worker, test) may stop it at any yield by
calling ``close()`` on the generator: the job then ends with everything done so far kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where a job stands: ``done`` of ``total`` units (total 0 when not yet known)."""

    done: int
    total: int
    message: str = ""
    device: str = "cpu"

    @property
    def fraction(self) -> float:
        """Share of the work done, 0..1 (0 while the total is unknown)."""
        return self.done / self.total if self.total else 0.0
