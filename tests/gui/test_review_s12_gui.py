"""Defects found by the session-12 review of the day's changes, in the window.

* An undo or redo step that restored nothing (every label a colleague had changed since)
  is itself a step of no labels. Taken back, it is used up all the same, and the next
  Ctrl+Z reaches the step before: the status bar must say so, as it did before the step
  sizes were counted in labels ("nothing undone" read as if Ctrl+Z had done nothing).
* The "Label schemes not used" box: opened a third time, a second box stayed open
  beside the new one (the first box's deletion forgot the second).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox
from test_item_model import build_large_project

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange
from crisisdesk.gui.labelling import Labeller
from crisisdesk.gui.scheme_warning import SchemeWarning
from crisisdesk.gui.worker import Background

TASK = "damage"


def test_undoing_a_used_up_step_of_no_labels_says_the_step_before_comes_next(
        qtbot, tmp_path: Path) -> None:
    project = build_large_project(tmp_path / "p", 2)
    with project.open_store() as store:
        store.add_labels([LabelChange(1, TASK, "mild_damage")], annotator="ana")  # before
        store.add_labels([LabelChange(2, TASK, "mild_damage")], annotator="ana")
        store.add_labels([LabelChange(2, TASK, "severe_damage")], annotator="colleague")
    background = Background()
    labeller = Labeller(project, background, "ana")
    said: list[str] = []
    labeller.message.connect(said.append)

    def step(key) -> str:
        key()
        qtbot.waitUntil(lambda: not labeller.busy(), timeout=20_000)
        return said[-1]

    assert "colleague" in step(labeller.undo)  # restores nothing: the colleague's stays
    step(labeller.redo)  # the redo of that undo: nothing either, a step of no labels
    # Undoing that redo restores nothing and is used up: the next Ctrl+Z reaches item
    # 1's label, and the analyst must be told, not left with "nothing undone".
    assert "step before" in step(labeller.undo), said
    step(labeller.undo)
    with project.open_store() as store:
        assert store.current_label(1, TASK) is None
        assert store.current_label(2, TASK).label == "severe_damage"
    background.wait()


class _Window(QMainWindow):
    """What SchemeWarning reads of the main window."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project, self.background = project, Background()


def test_the_scheme_problems_box_opened_again_stays_one_box(qtbot, tmp_path: Path) -> None:
    window = _Window(Project.open(tmp_path / "p", create=True))
    qtbot.addWidget(window)
    warning = SchemeWarning(window)
    warning.problems = ["p.sqlite: the label scheme of task 'x' cannot be used"]
    for _ in range(3):
        warning.show_details()
        # The box closed by the next one is deleted at the event loop's next turn.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    shown = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert len(shown) == 1
    window.background.wait()
