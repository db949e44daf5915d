"""Two analysts on one project, one of them in the app: what Enter accepts when the
other's retrain switched the task's model version while this window was open."""

from __future__ import annotations

from PySide6.QtCore import Qt
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.store import Prediction

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")


def _version(project: Project, name: str, predicted: str) -> None:
    """A new active damage version predicting ``predicted`` for every item."""
    with project.open_store() as store:
        ids = [row[0] for row in store.conn.execute("SELECT id FROM items")]
        version = store.add_model_version("damage", name, f"/models/{name}")
        probs = {c: 0.8 if c == predicted else 0.1 for c in DAMAGE}
        store.add_predictions(version, [Prediction(i, "damage", probs) for i in ids])


def test_enter_accepts_the_prediction_the_detail_panel_shows(qtbot, demo_like_project
                                                               ) -> None:
    """The list's rows keep the predictions they were read with; the detail panel reads
    the item when it is shown. After a colleague's retrain switched the version, the
    panel showed the new version's class, and Enter labelled the item with the old
    version's class from the list's row."""
    _version(demo_like_project, "v1", "severe_damage")
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    boxes = window.detail.task_boxes
    while boxes[window.detail.focused_task].view.task != "damage":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    _version(demo_like_project, "v2", "little_or_no_damage")  # the other window's retrain
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    row = window.current_row()
    assert row.predicted["damage"][0] == "severe_damage"  # the list's row, read before
    qtbot.waitUntil(lambda: window.detail.detail is not None
                    and window.detail.item_id == row.id)
    settle(qtbot, window)
    shown = window.detail.task_boxes[window.detail.focused_task].view
    assert (shown.task, shown.predicted, shown.model_version) == (
        "damage", "little_or_no_damage", "v2")
    qtbot.keyClick(window.items, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "damage")[row.id] == "little_or_no_damage"
