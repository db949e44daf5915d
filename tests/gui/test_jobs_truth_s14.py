"""What a job's row says is true: its rate never reads "0.0/s" nor mixes a planning
phase or an earlier phase into the work's, a slow job's rate is still readable, and the
app's jobs count in their own units (images, texts, predictions, tasks). The clock is a
fake: rates and ETAs follow from the times set here, never from sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from test_main_window import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui import worker
from crisisdesk.gui.jobs_panel import JobRow, JobsPanel
from crisisdesk.gui.worker import JobRunner


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(worker, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def _row(qtbot, unit: str = "items", scale: int = 1) -> tuple[JobRunner, JobRow]:
    """A row on a runner that is never started: the test feeds its progress."""
    panel = JobsPanel()
    qtbot.addWidget(panel)
    runner = JobRunner("job", lambda: iter(()))
    runner.state, runner.started_at = "running", worker.time.monotonic()
    shares = {"scale": scale} if scale != 1 else {}  # most jobs count whole units
    row = JobRow(panel, runner, lambda: iter(()), unit, **shares)
    return runner, row


def _feed(runner: JobRunner, clock: _Clock, *steps: tuple[float, int, int]) -> None:
    """Progress (done, total) landing at the given seconds after the start."""
    start = clock.now
    for seconds, done, total in steps:
        clock.now = start + seconds
        runner._on_progress(Progress(done, total, "working", "cpu"))


def test_a_job_that_did_not_advance_shows_no_rate_rather_than_zero(qtbot, clock) -> None:
    runner, row = _row(qtbot)
    _feed(runner, clock, (0, 5, 100), (1, 5, 100), (2, 5, 100))
    assert "0.0" not in row.figures.text()
    assert "items/" not in row.figures.text() and "ETA" not in row.figures.text()


def test_a_slow_job_shows_its_rate_per_minute_not_zero_per_second(qtbot, clock) -> None:
    # A 7B captioner on a CPU: one caption every 30 s read "0.0 captions/s".
    runner, row = _row(qtbot, "captions")
    _feed(runner, clock, (0, 0, 100), (30, 1, 100), (60, 2, 100))
    assert "2.0 captions/min" in row.figures.text(), row.figures.text()
    assert "/s" not in row.figures.text()


def test_a_planning_phase_without_a_total_is_not_counted_in_the_rate(qtbot, clock) -> None:
    # Predict reads every item before it predicts (no total yet): those seconds were
    # counted as the work's, so the rate read 6 times too low and the ETA too long.
    runner, row = _row(qtbot)
    _feed(runner, clock, (0, 0, 0), (5, 0, 0), (5, 0, 100), (6, 10, 100))
    assert runner.rate == pytest.approx(10.0)
    assert runner.eta == pytest.approx(9.0)
    assert "10.0 items/s" in row.figures.text() and "ETA 0:09" in row.figures.text()


def test_a_new_phase_counting_from_zero_starts_its_own_rate(qtbot, clock) -> None:
    # A switch predicts task after task: the second phase counts from 0 again.
    runner, row = _row(qtbot)
    _feed(runner, clock, (0, 0, 50), (5, 50, 50), (6, 0, 10), (8, 4, 10))
    assert runner.rate == pytest.approx(2.0)
    assert "2.0 items/s" in row.figures.text() and "ETA 0:03" in row.figures.text()


def test_a_row_counting_in_shares_of_its_unit_says_which_one_it_is_at(qtbot, clock
                                                                      ) -> None:
    # Retrain: 100 per task. "150 / 300 steps" read as training steps it never counted.
    runner, row = _row(qtbot, "tasks", scale=100)
    _feed(runner, clock, (0, 0, 300), (60, 150, 300))
    text = row.figures.text()
    assert "task 2 of 3" in text and "steps" not in text, text
    assert "1.5 tasks/min" in text and "ETA 1:00" in text, text
    _feed(runner, clock, (30, 300, 300))
    runner._on_ended("done", None, "")
    assert row.figures.text().endswith("3 tasks"), row.figures.text()


def test_a_watch_row_never_shows_a_full_bar_or_an_eta(qtbot, project: Project, tmp_path
                                                      ) -> None:
    from crisisdesk.core.importers.watch import WatchJob, WatchOptions

    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "posts.csv").write_text("id,text\n1,first post\n2,second post\n", "utf-8")
    panel = JobsPanel()
    qtbot.addWidget(panel)
    runner = panel.run("Watch", lambda: WatchJob(
        project, folder, watch=WatchOptions(interval=0.05, settle=0.0)).run(), unit="records")
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None
                    and runner.last_progress.done == 2, timeout=20_000)
    qtbot.waitUntil(lambda: "2 records" in row.figures.text(), timeout=5_000)
    assert row.bar.maximum() == 0, "a watch has no end: its bar is busy, never full"
    assert "ETA" not in row.figures.text() and "/ 2" not in row.figures.text()
    with qtbot.waitSignal(runner.finished, timeout=20_000):
        runner.cancel()


class _FakeJob:
    """Stands in for the app's jobs: yields one progress, then ends."""

    def __init__(self, *args, **kwargs) -> None:
        self.report = None

    def run(self) -> Iterator[Progress]:
        yield Progress(6, 18, "working", "cpu")


def test_the_apps_jobs_count_in_their_own_units(qtbot, demo_like_project: Project,
                                               monkeypatch) -> None:
    import crisisdesk.core.embed as embed
    import crisisdesk.core.fusion.predict as predict
    import crisisdesk.core.retrain as retrain

    for module, name in ((embed, "EmbedJob"), (predict, "PredictJob"),
                         (retrain, "RetrainJob")):
        monkeypatch.setattr(module, name, _FakeJob)
    window = open_window(qtbot, demo_like_project)
    actions, jobs = window.actions_, window.actions_.jobs
    monkeypatch.setattr(actions, "_retrained", lambda *args: None)  # no report dialog
    actions.embed.trigger()  # an image job and a text job; their end starts a Predict
    actions.retrain.trigger()
    qtbot.waitUntil(lambda: len(jobs.rows) == 4 and not jobs.running(), timeout=20_000)
    said = {row.runner.title.split(" (")[0]: row.figures.text() for row in jobs.rows}
    # An image embed counts images, a text embed texts, a Predict one prediction per
    # item and task (18 for 6 items and 3 tasks: "18 items" in a 6-item project).
    assert said["Embed images"].endswith("6 images"), said
    assert said["Embed texts"].endswith("6 texts"), said
    assert said["Predict"].endswith("6 predictions"), said
    assert "steps" not in said["Retrain"] and "task" in said["Retrain"], said
