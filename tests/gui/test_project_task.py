"""A task the project added (issue 5) shows in the app like a built-in one: its queues,
its box in the detail panel (labelled with the number keys) and the export dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.gui.dialogs.export_dialog import ExportDialog

SEVERITY = {"task": "severity", "classes": ["low", "medium", "high_risk"]}


def test_the_main_window_lists_and_labels_a_project_task(qtbot, demo_like_project) -> None:
    with demo_like_project.open_store() as store:
        store.add_scheme(scheme_from_json(SEVERITY, "severity.json"))
    window = open_window(qtbot, demo_like_project)
    assert "severity" in window.tasks
    assert window.queues.count_of(Queue("unlabelled", "severity")) == window.model.total
    tasks = [box.view.task for box in window.detail.task_boxes]
    assert "severity" in tasks
    box = window.detail.task_boxes[tasks.index("severity")]
    assert box.view.classes == ("low", "medium", "high_risk")
    while window.detail.task_boxes[window.detail.focused_task].view.task != "severity":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    item = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "severity") == {item: "high_risk"}
    dialog = ExportDialog(demo_like_project, tasks=window.tasks)
    qtbot.addWidget(dialog)
    assert "severity" in [dialog.task.itemData(i) for i in range(dialog.task.count())]


def test_a_project_task_without_a_model_is_told_to_retrain_not_to_embed() -> None:
    from crisisdesk.gui.advice import no_model_advice

    advice = no_model_advice("severity")
    assert "Retrain" in advice and "Embed" not in advice
    assert "Embed" in no_model_advice("damage")  # the shipped head's start


def test_a_project_tasks_queue_group_reads_as_words(qtbot, demo_like_project) -> None:
    with demo_like_project.open_store() as store:
        store.add_scheme(scheme_from_json({"task": "water_supply", "classes": ["ok", "cut"]},
                                          "water.json"))
    window = open_window(qtbot, demo_like_project)
    groups = [window.queues.topLevelItem(i).text(0)
              for i in range(window.queues.topLevelItemCount())]
    assert "Water supply" in groups and "Damage" in groups
