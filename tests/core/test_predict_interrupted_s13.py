"""A predict cancelled part-way through a task says so for that task: its report entry
counts the items it did not reach, and `crisisdesk predict` says the task was
interrupted there ("damage: 10 items predicted" read as the task's finished count)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_leftovers_h23_s13 import _StopAt
from test_training_job import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk import cli_progress
from crisisdesk.cli import PROBLEMS, main
from crisisdesk.core.fusion import predict
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project

N = 30
STEP = 10  # items per chunk here: three chunks for the task


def _trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = _project(tmp_path, n=N)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    monkeypatch.setattr(predict, "CHUNK", STEP)
    return project


def _cancelled_at(project: Project, message: str) -> PredictJob:
    """A predict of damage cancelled (the app's Cancel) at its progress ``message``."""
    job = PredictJob(project, ["damage"])
    steps = job.run()
    for progress in steps:
        if progress.message == message:
            break
    steps.close()  # the job stops at this yield
    return job


def test_a_task_cancelled_midway_counts_the_items_not_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _trained(tmp_path, monkeypatch)
    job = _cancelled_at(project, f"damage: {STEP} predicted")
    entry = job.report.tasks["damage"]
    assert entry["predicted"] == STEP
    assert entry["not_reached"] == N - STEP

    # The same command again resumes: it finishes the task, and says nothing is left.
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["predicted"] == N - STEP
    assert "not_reached" not in again.report.tasks["damage"]


def test_a_task_stopped_after_its_last_chunk_is_not_called_interrupted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _trained(tmp_path, monkeypatch)
    job = _cancelled_at(project, f"damage: {N} predicted")
    assert job.report.tasks["damage"]["predicted"] == N
    assert "not_reached" not in job.report.tasks["damage"]


def test_predict_cancelled_midway_says_the_task_was_interrupted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = _trained(tmp_path, monkeypatch)
    monkeypatch.setattr(cli_progress, "progress_view",
                        lambda stream, unit: _StopAt(f"damage: {STEP} predicted"))
    assert main(["predict", str(project.root), "--task", "damage"]) == PROBLEMS
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("damage:")]
    assert f"{STEP} items predicted" in line
    assert "interrupted" in line and f"{N - STEP} items not reached" in line, out
