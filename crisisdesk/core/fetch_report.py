"""What a run of the media fetch (:mod:`crisisdesk.core.media_fetch`) did: its counts,
its problems naming item and URL, the JSON saved in the project's reports/ and the lines
the terminal shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisisdesk.core.importers.records import Problem
from crisisdesk.core.words import file_size_text, plural


@dataclass
class FetchReport:
    """What a fetch run did; its problems name item and URL."""

    fetched: int = 0  # media that got a file
    downloaded: int = 0  # downloads made
    stored_files: int = 0  # new files under media/fetched (the rest were stored already)
    bytes: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # by status left: remote/unreadable
    problems: list[Problem] = field(default_factory=list)
    cancelled: bool = False
    total_limit_reached: bool = False
    # Media still remote when the total size limit stopped the run: a limit the analyst
    # set is no failure (a script reads one from the exit status), so not in problems.
    left_to_fetch: int = 0
    total_limit: int = 0  # bytes, said when it was reached

    def counts(self) -> dict[str, object]:
        return {"fetched": self.fetched, "downloaded": self.downloaded,
                "stored_files": self.stored_files, "bytes": self.bytes,
                "failed": dict(self.failed), "total_limit_reached": self.total_limit_reached,
                "left_to_fetch": self.left_to_fetch}

    def to_json(self) -> dict[str, Any]:
        """The counts and every problem, as saved in the project's reports/."""
        return {**self.counts(), "cancelled": self.cancelled, "problems": [
            {"item": p.where.file, "severity": p.severity, "message": p.message}
            for p in self.problems]}

    def limit_text(self, whose: str, then: str) -> str:
        """What the total size limit, reached, left: ``whose`` limit it was ("this run's"),
        and ``then`` how the rest is fetched (a command, or a watch's next look)."""
        return (f"{whose} total size limit ({file_size_text(self.total_limit)}) was "
                f"reached: {self.left_to_fetch} media left to fetch; {then}")

    def summary(self, max_problems: int = 20,
                then: str = "run again to fetch them (or raise --max-total-mb)") -> str:
        """A few lines for a terminal; ``then``: how the media a total size limit left are
        fetched, in the words of the command that ran (see :meth:`limit_text`)."""
        failed = ", ".join(f"{n} left {s}" for s, n in sorted(self.failed.items())) or "none"
        lines = [f"{'Cancelled' if self.cancelled else 'Fetched'}: {self.fetched} media "
                 f"({plural(self.downloaded, 'download')}, "
                 f"{plural(self.stored_files, 'new file')}, "
                 f"{file_size_text(self.bytes)}); failed: {failed}"]
        if self.total_limit_reached:
            lines.append("  " + self.limit_text("this run's", then))
        lines += [f"  {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more in the report")
        return "\n".join(lines)
