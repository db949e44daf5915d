"""The last retrain's report read back from the project (core/retrain_saved.py): the same
figures as the report the retrain gave, what changed since (switched, deleted), and a
clear message for none or a damaged record."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from test_retrain import FAST, _project

from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import ActiveChanged, RetrainJob, apply_retrain, reactivate_version
from crisisdesk.core.retrain_saved import SavedReportError, last_retrain


def _retrained(tmp_path: Path) -> tuple[Project, RetrainJob]:
    """A project with a trained active version (text only), then a retrain (image and
    text): both versions scored on the holdout."""
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST)
    list(job.run())
    return project, job


def _set_result(project: Project, text: str) -> int:
    """Write ``text`` as the last retrain's stored result (a damaged record)."""
    with project.open_store() as store:
        job = store.last_job("retrain")
        assert job is not None
        with store.transaction():
            store.conn.execute("UPDATE jobs SET result = ? WHERE id = ?", [text, job["id"]])
        return job["id"]


def test_the_last_retrains_report_comes_back_with_the_same_figures(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    assert entry.new is not None and entry.current is not None  # a full comparison
    saved = last_retrain(project)
    assert asdict(saved.report) == asdict(job.report)
    assert saved.leave == {} and saved.notes == {}
    with project.open_store() as store:
        assert saved.made == store.job(saved.job)["finished_at"]
        assert store.job(saved.job)["kind"] == "retrain"


def test_a_report_whose_new_version_is_active_already_leaves_that_task(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    list(apply_retrain(project, job.report, override_tasks=["damage"]))
    saved = last_retrain(project)
    assert "active version already" in saved.leave["damage"]
    assert job.report.tasks["damage"].candidate_name in saved.leave["damage"]


def test_a_report_after_another_switch_is_refused_for_that_task(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    # Another version made active after the report (a second retrain's switch, the
    # versions window): the saved report compared the new one with another.
    other = TrainJob(project, "damage", image_encoder="img-enc", text_encoder=None,
                     recipe=FAST, activate=False)
    list(other.run())
    with project.open_store() as store:
        reactivate_version(store, other.report.model_version)
    saved = last_retrain(project)
    # Said before the click (session 17): Switch leaves it; apply_retrain still refuses.
    assert "damage" in saved.leave
    with pytest.raises(ActiveChanged, match="damage not switched"):
        list(apply_retrain(project, saved.report, override_tasks=["damage"]))
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == other.report.model_version
    assert entry.candidate != other.report.model_version


def test_a_report_whose_new_version_was_deleted_says_so(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    with project.open_store() as store:
        weights, _sidecar = checkpoint_paths(store.model_version(entry.candidate)["path"])
    weights.unlink()
    saved = last_retrain(project)
    assert "deleted" in saved.leave["damage"] and weights.name in saved.leave["damage"]
    assert asdict(saved.report) == asdict(job.report)  # the figures are still shown


def test_no_retrain_yet_says_so(tmp_path) -> None:
    project = _project(tmp_path, n=30)
    with pytest.raises(SavedReportError, match="No retrain has finished"):
        last_retrain(project)


@pytest.mark.parametrize(("result", "named"), [
    ('{"tasks": {"damage": {"task": "dam', "not JSON"),
    ('{"tasks": [1, 2]}', "tasks is missing"),
    ('{"tasks": {"damage": {"task": "damage", "candidate": "seven"}}}',
     "tasks.damage.candidate holds 'seven'"),
])
def test_a_damaged_saved_report_names_its_row_and_field(tmp_path, result, named) -> None:
    project = _project(tmp_path, n=30)
    list(RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                    recipe=FAST).run())
    row = _set_result(project, result)
    with pytest.raises(SavedReportError) as caught:
        last_retrain(project)
    assert named in str(caught.value)
    assert f"jobs row {row}" in str(caught.value) and "project.sqlite" in str(caught.value)


def test_figures_the_charts_cannot_draw_are_refused_naming_them(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    data = job.report.as_dict()
    data["tasks"]["damage"]["new"]["confusion"] = [[1, 2]]
    _set_result(project, json.dumps(data))
    with pytest.raises(SavedReportError, match="tasks.damage.new has no confusion matrix"):
        last_retrain(project)
