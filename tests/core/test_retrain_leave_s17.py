"""A retrain's report opened again after the task's active version changed since (another
retrain switched it, an older version made active again): the report says, per task, that
Switch leaves it as it is and why, before the click that apply_retrain would refuse."""

from __future__ import annotations

import pytest
from test_retrain import FAST
from test_retrain_saved_s16 import _retrained

from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.retrain import ActiveChanged, apply_retrain, reactivate_version
from crisisdesk.core.retrain_saved import last_retrain


def _other_active(project) -> tuple[int, str]:
    """Train another version of damage and make it active (a second retrain's switch,
    the versions window): its id and name."""
    other = TrainJob(project, "damage", image_encoder="img-enc", text_encoder=None,
                     recipe=FAST, activate=False)
    list(other.run())
    with project.open_store() as store:
        reactivate_version(store, other.report.model_version)
        return other.report.model_version, store.model_version(
            other.report.model_version)["name"]


def test_a_report_whose_tasks_active_version_changed_since_leaves_it(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    _id, name = _other_active(project)
    saved = last_retrain(project)
    why = saved.leave.get("damage", "")
    assert name in why and "Retrain" in why, saved.leave
    # What the report says is what the switch does: it refuses that task.
    with pytest.raises(ActiveChanged):
        list(apply_retrain(project, saved.report, override_tasks=["damage"]))


def test_switched_then_another_version_made_active_leaves_it_too(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    list(apply_retrain(project, job.report, override_tasks=["damage"]))
    _id, name = _other_active(project)
    saved = last_retrain(project)
    assert name in saved.leave.get("damage", ""), saved.leave
    assert "active version already" not in saved.leave["damage"]


def test_the_version_compared_with_made_active_again_still_switches(tmp_path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    list(apply_retrain(project, job.report, override_tasks=["damage"]))
    with project.open_store() as store:
        reactivate_version(store, entry.active)  # back to the one it was compared with
    saved = last_retrain(project)
    assert "damage" not in saved.leave  # the comparison holds: Switch may switch
    list(apply_retrain(project, saved.report, override_tasks=["damage"]))
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == entry.candidate
