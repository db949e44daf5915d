"""A retrain whose new versions went different ways: each task is decided on its own.

One retrain of two tasks where one task's new version is better (switch recommended) and
the other's is worse (keep recommended): Switch makes the better one active and leaves
the worse task on its active version, and only that task is predicted again; ticking the
worse task's override then switches it too. A switch of all tasks or none (the first
task's recommendation taken for every task, or any task's override for all) would give
the worse task a new version the analyst never chose, or keep the better one from
them. The figures of the comparison are test_retrain's concern; here the recommendation
is set as the report gives it for a better and a worse version (as test_dialogs does).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from test_retrain import FAST, _project

from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, RetrainReport, SwitchRefused, apply_retrain
from crisisdesk.core.store import LabelChange
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

TASKS = ("damage", "informative")


def _mixed_retrain(tmp_path) -> tuple[Project, RetrainReport, dict[str, int]]:
    """A project with an active text-only version of each task, and a retrain of both
    whose report says: damage's new version better, informative's worse. Returns the
    project, the report and the versions active before it."""
    project = _project(tmp_path, n=120)
    with project.open_store() as store:
        damage = dict((i, label) for i, label, _ in store.labelled_items("damage"))
        # informative follows damage, so the txt-enc vectors carry it too
        store.add_labels([LabelChange(i, "informative", "not_informative"
                                      if label == "little_or_no_damage" else "informative")
                          for i, label in damage.items()], annotator="ana")
    for task in TASKS:
        list(TrainJob(project, task, image_encoder=None, text_encoder="txt-enc",
                      recipe=FAST).run())
    with project.open_store() as store:
        before = {t: store.active_model_version(t)["id"] for t in TASKS}
    job = RetrainJob(project, list(TASKS), image_encoder=None, text_encoder="txt-enc",
                     recipe=FAST)
    list(job.run())
    report = job.report
    for task in TASKS:
        entry = report.tasks[task]
        assert entry.candidate is not None and entry.active == before[task]
    report.tasks["damage"].recommend_switch = True  # the new version is better
    report.tasks["informative"].recommend_switch = False  # the new version is worse
    return project, report, before


def _informative_refused(project: Project, report: RetrainReport, before: dict[str, int],
                         refusal: SwitchRefused) -> None:
    """After a switch that refused informative's new version (``refusal``, as raised)
    and switched damage's: the refusal says damage switched, and informative kept the
    version active before, whose Predict still runs."""
    damage, informative = report.tasks["damage"], report.tasks["informative"]
    said = str(refusal)
    assert refusal.switched == ["damage"]  # the window refreshes the tasks that switched
    assert f"damage switched to {damage.candidate_name}" in said, said
    with project.open_store() as store:
        assert store.active_model_version("informative")["id"] == before["informative"]
        assert store.active_model_version("damage")["id"] == damage.candidate
    predict = PredictJob(project, ["informative"])
    list(predict.run())
    assert predict.report.tasks["informative"]["model_version"] == informative.active_name


def _state(project: Project, report: RetrainReport) -> tuple[dict, dict]:
    """(active version id per task, how many items each task's candidate predicted)."""
    with project.open_store() as store:
        active = {t: store.active_model_version(t)["id"] for t in TASKS}
        predicted = {t: store.conn.execute(
            "SELECT COUNT(*) FROM predictions WHERE model_version = ?",
            [report.tasks[t].candidate]).fetchone()[0] for t in TASKS}
    return active, predicted


def test_the_report_switches_the_better_task_and_keeps_the_worse_one(
        qtbot, tmp_path) -> None:
    project, report, before = _mixed_retrain(tmp_path)
    damage, informative = report.tasks["damage"], report.tasks["informative"]
    dialog = RetrainDialog(project, report)
    qtbot.addWidget(dialog)
    pages = dialog.pages
    assert not pages["damage"].override.isVisibleTo(dialog)  # nothing to override
    assert pages["informative"].override.isVisibleTo(pages["informative"])
    assert dialog.tasks_to_switch() == ["damage"]
    with qtbot.waitSignal(dialog.switched, timeout=60_000) as switched:
        qtbot.mouseClick(dialog.switch, Qt.MouseButton.LeftButton)
    assert switched.args == [["damage"]]
    active, predicted = _state(project, report)
    assert active == {"damage": damage.candidate, "informative": before["informative"]}
    # Only the switched task was predicted again with its new version.
    assert predicted["damage"] == 120 and predicted["informative"] == 0

    # The analyst's override of the worse task switches that one too, on its own.
    dialog = RetrainDialog(project, report)
    qtbot.addWidget(dialog)
    dialog.pages["informative"].override.setChecked(True)
    with qtbot.waitSignal(dialog.switched, timeout=60_000):
        dialog.switch.click()
    active, predicted = _state(project, report)
    assert active == {"damage": damage.candidate, "informative": informative.candidate}
    assert predicted["informative"] == 120


def test_apply_retrain_decides_each_task_on_its_own(tmp_path) -> None:
    """The core switch the report's Switch runs (apply_job)."""
    project, report, before = _mixed_retrain(tmp_path)
    list(apply_retrain(project, report))
    active, predicted = _state(project, report)
    assert active == {"damage": report.tasks["damage"].candidate,
                      "informative": before["informative"]}
    assert predicted["informative"] == 0
    # An override names one task: the worse task switches only when named.
    list(apply_retrain(project, report, override_tasks=["informative"]))
    active, _ = _state(project, report)
    assert active == {t: report.tasks[t].candidate for t in TASKS}
