"""A retrain's switch tells the truth about tasks it cannot or need not switch.

* A new version whose checkpoint files were deleted between the retrain and the click
  (the report still open, or opened again): the switch made it active all the same, and
  the task was left with an active version that cannot load, whose every Predict failed.
  That task's switch is refused naming the missing file; the other tasks still switch,
  and the refusal says so (as for a task whose active version changed meanwhile).
* A task whose new version is active already (the report opened again from Jobs > Last
  retrain report after a switch): the job's last words said "kept <old> active for
  <task> (as asked)": nobody asked, and <old> is not the active one.

The retrain is test_switch_mixed_s15's: damage's new version recommended, informative's
not (this file is in tests/gui only to share it; nothing here needs a window).
"""

from __future__ import annotations

import pytest
from test_switch_mixed_s15 import _informative_refused, _mixed_retrain

from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.retrain import apply_retrain


@pytest.mark.parametrize("which", [0, 1], ids=["weights", "sidecar"])
def test_a_new_version_whose_files_were_deleted_is_not_made_active(tmp_path, which) -> None:
    project, report, before = _mixed_retrain(tmp_path)
    informative = report.tasks["informative"]
    with project.open_store() as store:
        gone = checkpoint_paths(store.model_version(informative.candidate)["path"])[which]
    gone.unlink()  # deleted by hand (or by a clean-up) after the retrain
    # A refusal (the jobs panel shows a failed job's message; ``switched`` lets the
    # window refresh the tasks that did switch).
    with pytest.raises(RuntimeError) as caught:
        list(apply_retrain(project, report, override_tasks=["informative"]))
    said = str(caught.value)
    assert "informative not switched" in said and gone.name in said, said
    # The other task still switched, and the refusal says so; the task kept a version
    # that loads: its Predict still runs (it raised before).
    _informative_refused(project, report, before, caught.value)


def test_a_task_whose_new_version_is_active_already_is_said_so(tmp_path) -> None:
    project, report, _ = _mixed_retrain(tmp_path)
    damage, informative = report.tasks["damage"], report.tasks["informative"]
    list(apply_retrain(project, report))  # damage switched
    # The report opened again: damage is left as it is (active already); informative's
    # override ticked.
    steps = list(apply_retrain(project, report, override_tasks=["informative"],
                               keep_tasks=["damage"]))
    last = steps[-1].message
    assert f"informative switched to {informative.candidate_name}" in last, last
    assert f"damage: {damage.candidate_name} is active already" in last, last
    assert "as asked" not in last and f"kept {damage.active_name}" not in last, last


def test_a_task_left_for_a_deleted_new_version_says_why(tmp_path) -> None:
    # The report opened again leaves damage as it is (its new version's files gone):
    # the last words said "(as asked)" for it.
    project, report, _ = _mixed_retrain(tmp_path)
    damage = report.tasks["damage"]
    with project.open_store() as store:
        checkpoint_paths(store.model_version(damage.candidate)["path"])[0].unlink()
    last = list(apply_retrain(project, report, override_tasks=["informative"],
                              keep_tasks=["damage"]))[-1].message
    assert f"kept {damage.active_name} active for damage (its new version was deleted)" \
        in last, last
