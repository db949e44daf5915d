"""A keyboard-only analyst, session 13: the Undo / Redo menu items while a big step is
written, and what the keys do around it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_item_model import build_large_project
from window_helpers import ANNOTATOR, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.store import LabelChange
from crisisdesk.gui.labelling import BIG_STEP, Targets

TASK = "damage"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """More items than a big label step."""
    return build_large_project(tmp_path_factory.mktemp("big") / "project", BIG_STEP + 200)


def test_undo_and_redo_are_shown_unavailable_while_a_big_undo_is_written(
        qtbot, big: Project) -> None:
    """A second Ctrl+Z was refused with a status line, but the Edit menu still offered
    Undo and Redo as if they would act."""
    with big.open_store() as store:
        store.add_labels([LabelChange(i, TASK, "severe_damage")
                          for i in range(1, BIG_STEP + 1)], annotator=ANNOTATOR)
    window = open_window(qtbot, big)
    settle(qtbot, window)
    actions = window.actions_
    assert actions.undo.isEnabled() and actions.redo.isEnabled()
    said: list[str] = []
    window.labeller.message.connect(said.append)
    lock = big.open_store()  # another window's write: the undo waits behind it
    lock.conn.execute("BEGIN IMMEDIATE")
    try:
        actions.undo.trigger()
        qtbot.waitUntil(lambda: any("Undoing" in s for s in said), timeout=20_000)
        assert not actions.undo.isEnabled() and not actions.redo.isEnabled()
        # Why, where a pointer or a screen reader looks.
        assert "undoing" in actions.undo.toolTip().lower()
        # The list's keys still say why a second Ctrl+Z does nothing.
        qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert "not taken" in said[-1]
    finally:
        lock.conn.execute("ROLLBACK")
        lock.close()
    settle(qtbot, window)
    assert actions.undo.isEnabled() and actions.redo.isEnabled()
    with big.open_store() as store:  # the one undo took the big step back, no more
        assert not store.labelled_items(TASK)


def test_undo_is_offered_behind_a_big_label_until_one_undo_waits_for_it(
        qtbot, big: Project) -> None:
    """Behind a big label being written, one Ctrl+Z is taken (it waits, then takes that
    label back): Undo stays offered until then, and is shown unavailable after it."""
    window = open_window(qtbot, big)
    settle(qtbot, window)
    actions, labeller = window.actions_, window.labeller
    total = window.model.total
    said: list[str] = []
    labeller.message.connect(said.append)
    lock = big.open_store()
    lock.conn.execute("BEGIN IMMEDIATE")
    try:
        labeller.give(Targets((), ((0, total),), Queue("all"), total=total), TASK,
                      "mild_damage")
        qtbot.waitUntil(lambda: any("Labelling" in s for s in said), timeout=20_000)
        assert actions.undo.isEnabled()  # the first Ctrl+Z is taken
        actions.undo.trigger()
        assert not actions.undo.isEnabled() and not actions.redo.isEnabled()
    finally:
        lock.conn.execute("ROLLBACK")
        lock.close()
    settle(qtbot, window)
    assert actions.undo.isEnabled() and actions.redo.isEnabled()
    with big.open_store() as store:
        assert not store.labelled_items(TASK)
