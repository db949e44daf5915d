"""A job shorter than a second says so in its row ("finished in under a second"): the
row said "finished in 0:00", which read as a job that did nothing (the job history says
"under a second" since session 17). The ETA and "working for" keep their clock times.

Clocks are fakes (see the s14 test): the test moves them itself.
"""

from __future__ import annotations

from test_jobs_truth_s14 import _Clock, _row, clock  # noqa: F401 - clock: a fixture

from crisisdesk.core.progress import Progress
from crisisdesk.gui.jobs_panel import format_seconds


def _ended(runner, clock: _Clock, seconds: float, state: str) -> None:
    """``runner`` ends ``state`` ``seconds`` after its start, as the worker ends it."""
    runner._on_progress(Progress(3, 3, "written"))
    clock.now += seconds
    runner._on_ended(state, None if state != "failed" else "it broke", "")


def test_a_job_under_a_second_finished_in_under_a_second(qtbot, clock) -> None:
    runner, row = _row(qtbot)
    _ended(runner, clock, 0.3, "done")
    shown = row.figures.text()
    assert shown.startswith("finished in under a second"), shown
    assert "0:00" not in shown and "3 items" in shown, shown


def test_a_job_of_a_second_or_more_keeps_its_clock_time(qtbot, clock) -> None:
    runner, row = _row(qtbot)
    _ended(runner, clock, 5.2, "done")
    assert row.figures.text().startswith(f"finished in {format_seconds(5.2)}"), \
        row.figures.text()
    assert "under a second" not in row.figures.text()


def test_a_job_stopped_within_a_second_does_not_say_0_00(qtbot, clock) -> None:
    runner, row = _row(qtbot)
    _ended(runner, clock, 0.2, "failed")
    shown = row.figures.text()
    assert "under a second" in shown and "0:00" not in shown, shown
    assert "3 items done" in shown, shown


def test_the_eta_keeps_its_clock_time(qtbot, clock) -> None:
    runner, row = _row(qtbot)
    for done in (10, 20, 30):  # 10 items a second: 70 left, 7 seconds
        runner._on_progress(Progress(done, 100, "batch"))
        clock.now += 1.0
    row.tick()
    assert f"ETA {format_seconds(runner.eta)}" in row.figures.text(), row.figures.text()
