"""The log lines of a CLI job off a terminal (cli_progress) that no test held, found by
planting bugs in a copy (session 18): never two lines within 10 s; a job whose total
grows keeps saying where it is; a job that waits on one step (a model loading) does not
crash on the time left; a count past its total is no percentage over 100; a stopped
job's last line tells no time left; minutes with their seconds. Clocks are fakes
(test_progress_log_s13): nothing waits or measures."""

from __future__ import annotations

import re
from itertools import islice

from test_progress_log_s13 import LogStream, clock, drive_to, job  # noqa: F401 - clock

from crisisdesk.cli import drive
from crisisdesk.cli_progress import _duration
from crisisdesk.core.progress import Progress


def _seconds(line: str) -> int:
    """The "after ..." time of a log line, in seconds."""
    found = re.search(r"after (?:(\d+) min )?(\d+) s", line)
    assert found, line
    return int(found.group(1) or 0) * 60 + int(found.group(2))


def test_log_lines_are_never_closer_than_every_s(clock, monkeypatch) -> None:
    # 1,000 units in 20 s: a tenth of the work every 2 s, more often than a line may be.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 1000, 0.02))
    times = [_seconds(line) for line in lines[:-1]]  # the last says how it ended
    assert len(times) >= 2
    assert all(b - a >= 10 for a, b in zip(times, times[1:])), lines


def test_a_growing_job_keeps_logging_through_its_run(clock, monkeypatch) -> None:
    # 20 minutes of an import counting as it reads: a line a minute or so, not one at
    # the start and one at the end.
    lines = drive_to(LogStream(), monkeypatch, job(clock, 1200, 1.0, grow=True))
    assert len(lines) >= 10, lines


def test_a_job_waiting_on_one_step_logs_without_crashing(clock, monkeypatch) -> None:
    def loading_then_working():
        for _ in range(30):  # 30 s of "loading the model": nothing done yet
            clock.now += 1.0
            yield Progress(0, 100, "loading the model")
        yield from job(clock, 100, 0.5)

    lines = drive_to(LogStream(), monkeypatch, loading_then_working())
    assert any("loading the model" in line for line in lines), lines
    assert "100/100" in lines[-1]


def test_a_count_past_its_total_is_said_without_a_share(clock, monkeypatch) -> None:
    def over():
        for done in range(1, 1301):
            clock.now += 0.1
            yield Progress(done, 1000, "")  # a total counted short

    lines = drive_to(LogStream(), monkeypatch, over())
    assert "1,300 items" in lines[-1] and "/1,000" not in lines[-1], lines[-1]
    assert not any(re.search(r"\(1[0-9]{2}%\)", line) for line in lines), lines


def test_a_stopped_jobs_last_line_tells_no_time_left(clock, monkeypatch) -> None:
    stream = LogStream()
    monkeypatch.setattr("sys.stderr", stream)

    def ctrl_c_after(jobs, n: int):
        yield from islice(jobs, n)
        raise KeyboardInterrupt

    assert drive(ctrl_c_after(job(clock, 1000, 0.3), 300), unit="item") is False
    last = stream.getvalue().strip().splitlines()[-1]
    assert "300/1,000" in last and "stopped" in last and "left" not in last, last


def test_durations_keep_their_seconds_and_minutes() -> None:
    assert _duration(185) == "3 min 05 s"
    assert _duration(3725) == "1 h 02 min"
