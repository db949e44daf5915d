"""What a new analyst sees, window by window: the task the keys label is in view, counts
read as words, the retrain report fits its figures, times read alike in both version
lists, and the jobs panel says a job failed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QScrollArea, QToolTip
from window_helpers import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.core.review import ItemRow
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog
from crisisdesk.gui.item_list import chips_in_words
from crisisdesk.gui.jobs_panel import JobsPanel
from crisisdesk.gui.task_box import TaskBox

NEEDS = ["water", "food", "shelter", "medical_help", "evacuation_transport",
         "search_and_rescue", "power_and_fuel", "communications_outage",
         "missing_persons_reports", "donations_and_volunteering",
         "infrastructure_and_road_damage", "other_not_actionable"]


def _add_needs(project: Project) -> None:
    """The project's own 12-class task, after the three built-in ones."""
    with project.open_store() as store:
        store.add_scheme(scheme_from_json({"task": "needs", "classes": NEEDS}, "needs.json"))


def test_the_task_the_keys_label_is_scrolled_into_view(qtbot, demo_like_project: Project
                                                       ) -> None:
    """Picking the fourth task (its queue, or Tab) outlined a box below the fold: the
    number keys labelled "needs" while the analyst read the numbers off the damage and
    humanitarian boxes in view."""
    _add_needs(demo_like_project)
    window = open_window(qtbot, demo_like_project)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: len(window.detail.task_boxes) == 4)
    window.detail.focus_task("needs")
    box = TaskBox.focused_in(window)
    assert box is not None and box.view.task == "needs"
    qtbot.waitUntil(lambda: not box.visibleRegion().isEmpty())
    # On the next item too, whose boxes are new.
    window.move(1)
    qtbot.waitUntil(lambda: (b := TaskBox.focused_in(window)) is not None
                    and b is not box and b.view.task == "needs"
                    and not b.visibleRegion().isEmpty())


def test_the_list_title_counts_one_item_as_one_item(qtbot, demo_like_project: Project
                                                    ) -> None:
    """A search that found one post said "All items: 1 items matching “Bridge”"."""
    window = open_window(qtbot, demo_like_project)
    window.search.setText("Bridge")
    window._search_now()
    qtbot.waitUntil(lambda: window.model.total == 1 and "matching" in window.list_title.text())
    assert window.list_title.text() == "All items: 1 item matching “Bridge”"


def _scores(classes: list[str]) -> dict:
    """A classification report on ``classes`` (every item right but one)."""
    k = len(classes)
    confusion = [[2 if r == c else 0 for c in range(k)] for r in range(k)]
    confusion[1][0] = 1
    return {"macro_f1": 0.81, "n": 2 * k + 1, "classes": classes, "confusion": confusion,
            "per_class": {c: {"f1": 0.8} for c in classes}}


@pytest.mark.parametrize("classes", [
    # CrisisMMD's humanitarian task as shipped, and a project's own twelve classes.
    ["infrastructure_and_utility_damage", "other_relevant_information",
     "rescue_volunteering_or_donation_effort", "vehicle_damage", "affected_individuals"],
    NEEDS])
def test_the_retrain_report_never_scrolls_sideways(qtbot, demo_like_project: Project,
                                                   classes: list[str]) -> None:
    """Side by side, the two confusion matrices of the five humanitarian classes were
    wider than the report: each tab scrolled sideways and its headline ("Recommended:
    keep the active version ... 5 labelled items of the frozen test s") was cut off."""
    entry = TaskRetrain("humanitarian", holdout_split="test", holdout=11, candidate=7,
                        candidate_name="humanitarian-v7", new=_scores(classes),
                        current=_scores(classes), active=3, active_name="humanitarian-v3",
                        recommend_switch=False)
    dialog = RetrainDialog(demo_like_project, RetrainReport({"humanitarian": entry}))
    qtbot.addWidget(dialog)
    # Its size as it opens on a laptop screen: the tests' screen, 800 pixels wide, makes
    # it narrower (it fits the screen, see test_small_screens_s12).
    dialog.resize(880, 720)
    dialog.show()
    scroll = dialog.tabs.currentWidget()
    assert isinstance(scroll, QScrollArea)
    page = dialog.pages["humanitarian"]
    five = len(classes) == 5
    if five:  # side by side as it opens: the two versions compare at a glance
        qtbot.waitUntil(lambda: page.new_grid.y() == page.active_grid.y())
    # As it opens, widened, and (five classes: one matrix fits) narrowed.
    for width in (dialog.width(), 1400, *([720] if five else [])):
        dialog.resize(width, 720)
        qtbot.waitUntil(lambda: scroll.widget().width() == scroll.viewport().width())
        assert scroll.horizontalScrollBar().maximum() == 0


def test_both_version_lists_give_the_time_a_version_was_made_alike(
        qtbot, demo_like_project: Project) -> None:
    """The retrain report said "2026-11-28T01:20:56" (a raw ISO time), the Model versions
    window "2026-11-28 01:20", for the same version: both say it as the item header
    does, "28 Nov 2026 01:20 UTC"."""
    from test_dialog_keys_s10 import _report

    from crisisdesk.core.fusion.versions import summarise_versions

    with demo_like_project.open_store() as store:
        store.add_model_version("damage", "damage-v1", "models/damage-v1")
        made = store.model_versions("damage")
        summaries = summarise_versions(store, "damage")
    wanted = shown_time(made[0]["created_at"])
    assert "UTC" in wanted
    report = RetrainDialog(demo_like_project, _report(recommend=True))
    qtbot.addWidget(report)
    page = report.pages["damage"]
    qtbot.waitUntil(lambda: page.versions.topLevelItemCount() > 0)
    assert page.versions.topLevelItem(0).text(1) == wanted
    window = VersionsDialog(demo_like_project)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.loaded)
    rows = [window.tree.topLevelItem(n).child(m)
            for n in range(window.tree.topLevelItemCount())
            for m in range(window.tree.topLevelItem(n).childCount())]
    shown = {row.data(0, 256).id: row.text(5) for row in rows}
    assert shown[summaries[0].id] == wanted


def _failing() -> Iterator[Progress]:
    yield Progress(1, 10, "embedding images", "cpu")
    raise RuntimeError("the disk is full")


def test_the_jobs_panel_head_says_a_job_failed(qtbot) -> None:
    """With newer jobs above it, a failed job was out of the dock's few lines, and the
    summary counted it among the "finished": nothing said it had failed once the status
    bar's word was gone."""
    panel = JobsPanel()
    qtbot.addWidget(panel)
    failed = panel.run("Embed images", _failing)
    qtbot.waitUntil(lambda: not failed.is_running())
    gate = threading.Event()

    def waiting() -> Iterator[Progress]:
        yield Progress(1, 10, "captioning", "cpu")
        gate.wait(10)

    running = panel.run("Caption images", waiting)
    try:
        qtbot.waitUntil(lambda: running.last_progress is not None)
        assert panel.summary.text() == "1 running ·"
        assert panel.failures.isVisibleTo(panel)
        assert panel.failures.text() == "1 failed: see its row"
    finally:
        gate.set()
        qtbot.waitUntil(lambda: not running.is_running())
    panel.clear_finished()
    assert not panel.failures.isVisibleTo(panel)


def test_an_item_tooltip_says_what_its_chips_mean(qtbot, demo_like_project: Project) -> None:
    """The chips read "hum: infrastructure and utility damage ✓" or "inf: informative
    86%": shortened task names, and a label told from a prediction by colour alone,
    explained nowhere."""
    row = ItemRow(1, "src:1:0", "Bridge partly collapsed", None, None, None, None,
                  predicted={"humanitarian": ("infrastructure_and_utility_damage", 0.83)},
                  labels={"informative": "informative"})
    assert chips_in_words(row) == (
        "informative (inf): labelled informative ✓\n"
        "humanitarian (hum): predicted infrastructure and utility damage, 83% confident\n"
        "Green with ✓: the item's label · grey: the model's prediction")
    window = open_window(qtbot, demo_like_project)
    labelled = next(n for n in range(window.model.total)
                    if window.model.row_at(n) and window.model.row_at(n).labels)
    index = window.model.index(labelled)
    window.items.scrollTo(index)
    place = window.items.visualRect(index).center()
    event = QHelpEvent(QEvent.Type.ToolTip, place, window.items.viewport().mapToGlobal(place))
    QToolTip.hideText()
    window.items.viewportEvent(event)
    qtbot.waitUntil(lambda: "Green with ✓" in QToolTip.text())
    assert chips_in_words(window.model.row_at(labelled)) in QToolTip.text()
