"""What a finished row says, and an ETA that holds still: a done row shows the job's
outcome and its notes (the notes replaced the outcome), the caption row says what was
written and names the file that got no caption, the retrain's Switch counts the
predictions it writes and says what it switched, and the ETA does not swing up and down
with uneven batches or while a batch is under way. Clocks are fakes (see the s14 test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_caption_job import FakeCaptioner
from test_caption_job import _project as caption_project
from test_jobs_panel import _panel
from test_jobs_truth_s14 import _Clock, _row, clock  # noqa: F401 - clock: a fixture
from test_retrain import FAST
from test_retrain import _project as retrain_project

from crisisdesk.core.captions.job import CaptionJob
from crisisdesk.core.progress import Progress
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.gui.worker import JobRunner


def _done(qtbot, runner: JobRunner) -> None:
    qtbot.waitUntil(lambda: runner.state not in ("pending", "running"), timeout=120_000)
    assert runner.state == "done", runner.details


def test_a_done_row_with_notes_still_shows_its_outcome(qtbot) -> None:
    panel = _panel(qtbot)

    def job() -> Iterator[Progress]:
        yield Progress(10, 10, "9 images encoded, 1 unreadable", "cpu",
                       notes=("1 image could not be read: a.jpg (truncated)",))

    runner = panel.run("Embed images", job, unit="images")
    _done(qtbot, runner)
    shown = panel.row_of(runner).message.text()
    assert "9 images encoded, 1 unreadable" in shown, shown
    assert "a.jpg (truncated)" in shown, shown


def test_the_caption_row_says_what_was_written_and_names_the_failed_file(
        qtbot, tmp_path: Path) -> None:
    project = caption_project(tmp_path)
    panel = _panel(qtbot)
    runner = panel.run("Caption images (fake)", lambda: CaptionJob(
        project, FakeCaptioner(fail="report 3"), batch_size=3).run(), unit="captions")
    _done(qtbot, runner)
    row = panel.row_of(runner)
    shown = row.message.text()
    assert "captions written, 1 failed" in shown, shown
    assert "3.jpg (fake: model said no)" in shown, shown
    assert "captions/s" not in shown, shown  # the rate is the figures', not the message's
    row.grab().save(str(tmp_path / "caption_row.png"))


def test_the_switch_row_counts_predictions_and_says_what_it_switched(
        qtbot, tmp_path: Path) -> None:
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    project = retrain_project(tmp_path, n=120)
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    list(job.run())
    panel = _panel(qtbot)
    dialog = RetrainDialog(project, job.report, jobs=panel)
    qtbot.addWidget(dialog)
    runner = dialog.apply()
    assert runner is not None
    _done(qtbot, runner)
    row = panel.row_of(runner)
    assert row.figures.text().endswith(" predictions"), row.figures.text()
    name = job.report.tasks["damage"].candidate_name
    assert f"damage switched to {name}" in row.message.text(), row.message.text()


def _landings(runner: JobRunner, clock: _Clock, batches: list[tuple[float, int]],
              total: int, waiting_every: float = 0.0) -> list[float | None]:
    """Feed a job's progress: each batch of ``n`` lands ``seconds`` after the one before,
    with a progress of the same count every ``waiting_every`` seconds meanwhile (a server
    captioner's waits); the ETA after each progress."""
    etas, done, start = [], 0, clock.now
    runner._on_progress(Progress(0, total, "", "cpu"))
    for seconds, n in batches:
        waited = waiting_every
        while waiting_every and waited < seconds:
            clock.now = start + waited
            runner._on_progress(Progress(done, total, "", "cpu"))
            etas.append(runner.eta)
            waited += waiting_every
        start += seconds
        clock.now, done = start, done + n
        runner._on_progress(Progress(done, total, "", "cpu"))
        etas.append(runner.eta)
    return etas


def _never_rises(etas: list[float | None]) -> None:
    known = [eta for eta in etas if eta is not None]
    rises = [(a, b) for a, b in zip(known, known[1:]) if b > a + 1e-9]
    assert known and not rises, rises


def test_uneven_batches_at_a_steady_pace_give_an_eta_that_only_falls(qtbot, clock) -> None:
    # Captions sorted by tweet length: short batches and long ones in turn. Rated over
    # the last batch only, the ETA tripled and fell back at every other batch.
    runner, row = _row(qtbot, "captions")
    etas = _landings(runner, clock, [(4.0, 8), (12.0, 8)] * 6, total=400)
    _never_rises(etas[4:])
    assert runner.rate == pytest.approx(1.0)  # 16 captions every 16 s


def test_the_eta_holds_while_a_batch_is_under_way(qtbot, clock) -> None:
    # A server captioner's job yields every 0.5 s while a batch is out: each of those
    # lowered the rate, so the ETA rose until the batch landed, then fell.
    runner, row = _row(qtbot, "captions")
    etas = _landings(runner, clock, [(8.0, 16)] * 6, total=400, waiting_every=0.5)
    _never_rises(etas)
    assert runner.rate == pytest.approx(2.0)
    assert "2.0 captions/s" in row.figures.text()


def test_a_job_that_stopped_advancing_shows_no_rate_nor_eta(qtbot, clock) -> None:
    # A steadier rate must not hide a stall: minutes without a caption are not 2 a second.
    runner, row = _row(qtbot, "captions")
    _landings(runner, clock, [(8.0, 16)] * 4, total=400)
    clock.now += 120
    runner._on_progress(Progress(64, 400, "", "cpu"))
    assert runner.rate is None and runner.eta is None
    assert "captions/" not in row.figures.text() and "ETA" not in row.figures.text()
