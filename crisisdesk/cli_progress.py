"""Progress of a CLI job where stderr is no terminal (``nohup``, cron, ``2> log``).

The terminal's progress bar (tqdm) writes nothing off a terminal, so a long import or
embed read as hung in its log. :class:`LogProgress` writes plain lines there instead:
none for a job of a few seconds, then about one per 10% of the work and never more often
than every 10 s (whichever is rarer), each with the time left at the pace so far, and one
at the end saying how the job ended.
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from crisisdesk.core.progress import Progress

#: No line before the job has run this long: a short job's log stays as it was.
QUIET_FOR_S = 5.0
#: Never two lines closer together than this.
EVERY_S = 10.0
#: With a known total, a line per this share of it.
STEP = 0.1
#: A total that grows as the job goes (an import counting as it reads, a watch) has no
#: share to step by: a line this often, when something moved.
GROWING_EVERY_S = 60.0


def _duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min: as an analyst reads a log."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class LogProgress:
    """Plain progress lines for a log, fed the job's :class:`Progress` one by one."""

    def __init__(self, stream: TextIO, unit: str) -> None:
        self.stream, self.unit = stream, unit
        # Read through the module, so a test's fake clock reaches it.
        self.start = time.monotonic()
        self.last_at: float | None = None  # when the last line was written
        self.last: Progress | None = None  # what it said
        self.latest: Progress | None = None
        # (time, done, total) where the work of this total began to be counted: the time
        # left is measured from there (a model's loading or a count before left out).
        self.since: tuple[float, int, int] | None = None

    def update(self, progress: Progress) -> None:
        """Take the job's latest progress; write a line when one is due."""
        self.latest = progress
        now = time.monotonic()
        since = self.since
        if since is None or progress.total != since[2] or progress.done < since[1]:
            self.since = (now, progress.done, progress.total)  # a new phase, or the first
        if self._due(progress, now):
            self._write(progress, now, "")

    def close(self, finished: bool) -> None:
        """The job ended (``finished``) or was stopped: say so, if the log heard of it."""
        if self.last_at is not None and self.latest is not None:
            self._write(self.latest, time.monotonic(), "done" if finished else "stopped")

    def _due(self, progress: Progress, now: float) -> bool:
        if now - self.start < QUIET_FOR_S:
            return False
        if self.last_at is None:
            return True
        since = now - self.last_at
        if since < EVERY_S:
            return False
        last = self.last
        assert last is not None
        if progress.total and progress.total == last.total and progress.done < progress.total:
            return progress.fraction - last.fraction >= STEP
        return since >= GROWING_EVERY_S and (progress.done, progress.message) != (
            last.done, last.message)

    def _write(self, progress: Progress, now: float, ending: str) -> None:
        self.last_at, self.last = now, progress
        if progress.total and progress.total >= progress.done:
            count = f"{progress.done:,}/{progress.total:,} {self.unit}s"
            if progress.total != progress.done or not ending:
                count += f" ({progress.fraction:.0%})"
        else:
            count = f"{progress.done:,} {self.unit}s"
        what = f"{ending}: " if ending else ""
        message = f", {progress.message}" if progress.message else ""
        # The caption job's own "captions/s, ETA" went to the front ends: this is the log's.
        if not ending and (left := self._left(progress, now)) is not None:
            message = f", about {_duration(left)} left{message}"
        print(f"crisisdesk: {what}{count} after {_duration(now - self.start)}{message} "
              f"(on {progress.device})", file=self.stream, flush=True)

    def _left(self, progress: Progress, now: float) -> float | None:
        """Seconds left at the pace since this phase began; None without a total or
        before anything advanced."""
        if self.since is None or not progress.total or progress.done >= progress.total:
            return None
        start, done, _ = self.since
        if progress.done <= done or now <= start:
            return None
        return (progress.total - progress.done) * (now - start) / (progress.done - done)


class ProgressView(Protocol):
    """What :func:`crisisdesk.cli.drive` shows a job's progress with."""

    def update(self, progress: Progress) -> None: ...

    def close(self, finished: bool) -> None: ...


class TerminalBar:
    """The progress bar on a terminal (tqdm), redrawn in place."""

    def __init__(self, stream: TextIO, unit: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=0, unit=unit, disable=None, file=stream, dynamic_ncols=True)

    def update(self, progress: Progress) -> None:
        bar = self.bar
        bar.total = progress.total
        bar.n = progress.done
        bar.set_description_str(progress.message[:60], refresh=False)
        bar.set_postfix_str(f"on {progress.device}", refresh=False)
        bar.refresh()

    def close(self, finished: bool) -> None:
        self.bar.close()


def progress_view(stream: TextIO | None, unit: str) -> ProgressView:
    """A bar on a terminal; plain lines now and then on anything else (a log, a pipe).
    No stream at all (``pythonw``) gets the bar, which then writes nothing, as before."""
    isatty = getattr(stream, "isatty", None)
    if stream is None or (isatty is not None and isatty()):
        return TerminalBar(stream, unit)
    return LogProgress(stream, unit)
