"""Review of session 11's GUI changes: what an analyst reads in them must be true."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.core.review import Queue
from crisisdesk.core.store.schema import StoreError
from crisisdesk.gui.dialogs.retrain_headline import headline
from crisisdesk.gui.labelling import Targets


def _plain(html: str) -> str:
    """``html`` as read: tags dropped, a no-break space (a count held to its word) a space."""
    return re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", " ")


def test_the_retrain_report_does_not_say_the_holdout_was_trained_on() -> None:
    """The training's sizes are its train, early-stopping and scored splits: the report
    said "Trained on 75 train, 9 validation, 18 dev labels", the 18 dev labels being the
    ones the version is scored on, never trained on (README: a head is never scored on
    an input it trained on)."""
    entry = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=18,
                        holdout_split="dev", new={"macro_f1": 0.61, "n": 18},
                        sizes={"train": 75, "validation": 9, "dev": 18})
    said = _plain(headline(entry))
    trained = re.search(r"Trained on [^.;]*", said)
    assert trained is not None, said
    assert "75" in trained.group() and "dev" not in trained.group(), said
    assert "early-stopped on 9 validation labels" in said



def test_a_selection_refused_as_the_list_changed_shows_no_not_saved_bar(
        qtbot, demo_like_project: Project) -> None:
    """A Shift-click selection whose unread rows moved (a watch imported meanwhile) is
    refused, once: the red bar said "Labels given until this is put right are not saved
    either", while the next label was saved as usual. The status bar says what to do."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = window.detail.task_boxes[window.detail.focused_task].view
    moved = Targets((), ((2, 2),), Queue("all"), total=window.model.total + 5)
    window.labeller.give(moved, view.task, view.classes[1])
    settle(qtbot, window)
    assert "the list changed since it was read" in window.statusBar().currentMessage()
    assert not window.save_warning.isVisible()
    assert window.save_warning.text() == ""


def test_a_store_that_cannot_be_opened_to_save_a_label_shows_the_bar(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """The store's own refusal to open (a read-only folder, a drive too full for the WAL
    index) is a label not saved: the bar says it, in the store's words."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = window.detail.task_boxes[window.detail.focused_task].view.task
    stored = current_labels(demo_like_project, task)
    why = (f"its folder {demo_like_project.root} is read-only (a write-protected drive?): "
           "copy the project folder to a writable place and open the copy")

    def refuse(self):  # type: ignore[no-untyped-def]
        raise StoreError(why)

    monkeypatch.setattr(Project, "open_store", refuse)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    monkeypatch.undo()
    assert window.save_warning.isVisible()
    assert f"was not saved ({task}: " in window.save_warning.text()
    assert f": {why}" in window.save_warning.text()
    assert "StoreError" not in window.save_warning.text()  # the store's words, no type name
    assert current_labels(demo_like_project, task) == stored
