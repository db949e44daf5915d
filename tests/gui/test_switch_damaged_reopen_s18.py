"""A retrain's report opened again offered Switch for a task whose new version's
checkpoint is damaged (there, but cut short or spoilt): the analyst clicked, the switch
was refused ("its file … is damaged"), and the next open of the report offered it again,
the same refusal after each click. The report now says, before any click, that the new
version's files are damaged and that Switch leaves the task as it is, naming the file;
its Switch is off for that task, even with the override ticked.
"""

from __future__ import annotations

from pathlib import Path

from test_report_switch_rechecked_s17 import _says_switch_leaves
from test_retrain_saved_s16 import _retrained
from test_switch_damaged_s17 import DAMAGE

from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.core.retrain_saved import last_retrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


def _damaged_candidate(tmp_path: Path) -> tuple[Project, RetrainJob, Path]:
    """A finished retrain of damage whose new version's weights were then cut short;
    the file damaged."""
    project, job = _retrained(tmp_path)
    with project.open_store() as store:
        row = store.model_version(job.report.tasks["damage"].candidate)
    named = DAMAGE["weights-cut-short"](*checkpoint_paths(row["path"]))
    return project, job, named


def test_the_reopened_report_says_the_new_versions_files_are_damaged(tmp_path) -> None:
    project, job, named = _damaged_candidate(tmp_path)
    saved = last_retrain(project)
    why = saved.leave.get("damage")
    assert why is not None, saved.leave  # Switch leaves it: said before the click
    name = job.report.tasks["damage"].candidate_name
    assert name in why and str(named) in why and "damaged" in why, why
    assert "\n" not in why


def test_its_switch_is_off_and_the_tab_says_why_before_the_click(qtbot, tmp_path) -> None:
    project, _job, named = _damaged_candidate(tmp_path)
    saved = last_retrain(project)
    dialog = RetrainDialog(project, saved.report, saved=saved)
    qtbot.addWidget(dialog)
    dialog.pages["damage"].override.setChecked(True)  # even ticked: it cannot switch
    _says_switch_leaves(dialog, "damage", str(named))  # Switch off, the file named
    assert "damaged" in dialog.tabs.tabToolTip(0), dialog.tabs.tabToolTip(0)
    assert "damaged" in dialog.made.text()  # said above the tabs, too
    dialog.reject()


def test_a_report_whose_new_version_loads_still_offers_its_switch(qtbot, tmp_path) -> None:
    # The check refuses only what does not load: an intact new version is switchable.
    project, _job = _retrained(tmp_path)
    saved = last_retrain(project)
    assert "damage" not in saved.leave, saved.leave
    dialog = RetrainDialog(project, saved.report, saved=saved)
    qtbot.addWidget(dialog)
    dialog.pages["damage"].override.setChecked(True)
    assert dialog.tasks_to_switch() == ["damage"] and dialog.switch.isEnabled()
    dialog.reject()


def test_the_switch_of_the_other_tasks_says_why_the_damaged_one_was_kept(tmp_path) -> None:
    # The report leaves the task out of the switch (keep_tasks): the jobs panel's line
    # said it was kept "as asked", though the analyst asked for nothing.
    from crisisdesk.core.retrain import apply_retrain

    project, job, _named = _damaged_candidate(tmp_path)
    report = job.report
    report.tasks["damage"].recommend_switch = True
    said = [step.message for step in apply_retrain(project, report, keep_tasks=["damage"])]
    assert said and "files are damaged" in said[-1] and "as asked" not in said[-1], said
