"""A job that goes silent does not keep a confident rate and ETA: a row is updated when
its job yields, so a captioner stuck in one long batch (a model loading, a slow disk)
kept its last pace and an ETA that counted nothing down, for minutes. The panel's
ticker (one timer for all rows, running only while a job runs) re-reads the rate with
the time now: past the stall threshold the row says "–" and how long nothing came.
The clock is a fake (see the s14 test): the test moves it and fires the ticker itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from test_jobs_panel import _panel
from test_jobs_truth_s14 import _Clock, clock  # noqa: F401 - clock: a fixture

from crisisdesk.core.progress import Progress
from crisisdesk.gui.jobs_panel import JobsPanel
from crisisdesk.gui.worker import JobRunner


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds the job's thread until the test ends (set on the way out, even on failure)."""
    event = threading.Event()
    yield event
    event.set()


def _silent_job(qtbot, gate: threading.Event, unit: str = "captions"
                ) -> tuple[JobsPanel, JobRunner]:
    """A job really running in the panel whose thread yields nothing until ``gate``: the
    test hands its row the progress the job would have sent (``runner._on_progress``)."""
    panel = _panel(qtbot)

    def job() -> Iterator[Progress]:
        gate.wait(60)
        return iter(())

    runner = panel.run("Caption images", job, unit=unit)
    return panel, runner


def _steady(runner: JobRunner, clock: _Clock, batches: int = 4, every: float = 8.0,
            n: int = 16, total: int = 400) -> None:
    """``batches`` batches of ``n`` landing ``every`` seconds (2 a second by default)."""
    runner._on_progress(Progress(0, total, "captioning", "cpu"))
    for i in range(1, batches + 1):
        clock.now += every
        runner._on_progress(Progress(i * n, total, "captioning", "cpu"))


def _tick(panel: JobsPanel) -> None:
    """What the panel's ticker does once a second."""
    panel.ticker.timeout.emit()


def test_a_job_silent_for_minutes_shows_no_rate_nor_eta_and_says_so(
        qtbot, clock, gate) -> None:
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    _steady(runner, clock)
    assert "2.0 captions/s" in row.figures.text()  # the pace it had
    clock.now += 120  # one long batch: nothing yielded since
    _tick(panel)
    shown = row.figures.text()
    assert "captions/" not in shown and "ETA" not in shown, shown
    assert "no progress for 2:00" in shown, shown
    assert "64 / 400 captions" in shown, shown  # what was done still said
    clock.now += 60
    _tick(panel)
    assert "no progress for 3:00" in row.figures.text(), row.figures.text()


def test_the_runner_rate_is_judged_with_the_time_now(qtbot, clock, gate) -> None:
    # The runner judged a stall by its latest progress: silent, it never stalled.
    panel, runner = _silent_job(qtbot, gate)
    _steady(runner, clock)
    assert runner.rate == pytest.approx(2.0)
    clock.now += 120
    assert runner.rate is None and runner.eta is None


def test_a_short_pause_keeps_the_rate_and_says_nothing(qtbot, clock, gate) -> None:
    # Batches land every 8 s: 5 s without one is the job's usual pace, not a stall.
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    _steady(runner, clock)
    before = row.figures.text()
    clock.now += 5
    _tick(panel)
    assert row.figures.text() == before
    assert "no progress" not in before


def test_the_rate_comes_back_when_the_job_advances_again(qtbot, clock, gate) -> None:
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    _steady(runner, clock)
    clock.now += 120
    _tick(panel)
    assert "no progress" in row.figures.text()
    for i in range(5, 10):  # the batch landed, and the pace is back
        clock.now += 8
        runner._on_progress(Progress(i * 16, 400, "captioning", "cpu"))
    _tick(panel)
    shown = row.figures.text()
    assert "no progress" not in shown and "2.0 captions/s" in shown, shown


def test_a_job_stuck_before_its_first_advance_says_so(qtbot, clock, gate) -> None:
    # A model loading: the job said how much there is, then nothing for ten minutes
    # (past FIRST_ADVANCE_S: before it, a slow first batch is working, see the s16 test).
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    runner._on_progress(Progress(0, 400, "loading llava-1.5-7b", "cpu"))
    clock.now += 600
    _tick(panel)
    assert "no progress for 10:00" in row.figures.text(), row.figures.text()


def test_the_ticker_runs_only_while_a_job_runs(qtbot, clock, gate) -> None:
    # A timer ticking in an idle window is work for nothing (the heartbeat bench).
    panel, runner = _silent_job(qtbot, gate)
    assert panel.ticker.isActive()
    gate.set()
    qtbot.waitUntil(lambda: runner.state == "done", timeout=20_000)
    assert not panel.ticker.isActive()
    done = panel.row_of(runner).figures.text()
    clock.now += 600
    _tick(panel)  # a tick still queued when the job ended leaves its row alone
    assert panel.row_of(runner).figures.text() == done
