"""Progress where there is no terminal: a job the CLI drives with its stderr going to a
log (``nohup``, cron, ``2> log``) writes plain progress lines there, a bounded number of
them; a short job writes none; a terminal keeps its progress bar. Before, the bar
(tqdm with ``disable=None``) wrote nothing off a terminal, so a 50 s import or an hour
of embedding read as hung in the log.

Time is a fake clock advanced by the job itself: no test waits or measures."""

from __future__ import annotations

import io
import time

import pytest

from crisisdesk.cli import drive
from crisisdesk.core.progress import Progress


class FakeClock:
    """``time.monotonic`` that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LogStream(io.StringIO):
    """stderr sent to a file: not a terminal."""

    def isatty(self) -> bool:
        return False


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(clock: FakeClock, total: int, seconds_each: float, grow: bool = False):
    """A job of ``total`` units, each taking ``seconds_each`` on the fake clock; with
    ``grow`` its total grows as it goes (as an import's or a watch's does)."""
    for done in range(1, total + 1):
        clock.now += seconds_each
        yield Progress(done, done if grow else total, f"texts {done}/{total}")


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def drive_to(stream, monkeypatch, jobs) -> list[str]:
    monkeypatch.setattr("sys.stderr", stream)
    assert drive(jobs, unit="item")
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def test_a_long_job_logs_progress_lines_when_stderr_is_no_terminal(clock, monkeypatch):
    # 2,000 units, 0.1 s each: 200 s of work.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 2000, 0.1))
    assert lines, "a 200 s job wrote nothing to its log"
    # About one line per 10% (and never more often than every 10 s), plus the last one:
    # a log, not a flood.
    assert 5 <= len(lines) <= 12
    assert "2,000/2,000" in lines[-1]  # the log ends saying the job finished
    assert all("item" in line for line in lines)  # says what it counts
    assert any("%" in line for line in lines[:-1])


def test_many_small_steps_do_not_flood_the_log(clock, monkeypatch):
    # 100,000 units in 1,000 s: a line per unit would be 100,000 lines.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 100_000, 0.01))
    assert 5 <= len(lines) <= 12


def test_a_short_job_logs_nothing(clock, monkeypatch):
    # 50 units, a hundredth of a second each: half a second.
    assert drive_to(LogStream(), monkeypatch, job(clock, 50, 0.01)) == []


def test_a_job_whose_total_grows_logs_now_and_then(clock, monkeypatch):
    # An import that counts as it reads (done == total each time): 20 minutes of it.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 1200, 1.0, grow=True))
    assert lines, "a 20 minute import wrote nothing to its log"
    assert len(lines) <= 25  # not every second
    assert "1,200" in lines[-1]


def test_a_terminal_keeps_its_progress_bar(clock, monkeypatch):
    stream = TerminalStream()
    monkeypatch.setattr("sys.stderr", stream)
    assert drive(job(clock, 2000, 0.1), unit="item")
    out = stream.getvalue()
    assert "\r" in out  # tqdm's bar, redrawn in place
    assert not any(line.startswith("crisisdesk:") for line in out.splitlines())


def test_a_cancelled_job_says_where_it_stopped_in_the_log(clock, monkeypatch):
    stream = LogStream()
    monkeypatch.setattr("sys.stderr", stream)

    # 500 units of 0.2 s, then Ctrl-C: not all done.
    def partial():
        for progress in job(clock, 1000, 0.2):
            yield progress
            if progress.done == 500:
                raise KeyboardInterrupt

    assert drive(partial(), unit="item") is False
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert lines and "500/1,000" in lines[-1] and "stopped" in lines[-1]
