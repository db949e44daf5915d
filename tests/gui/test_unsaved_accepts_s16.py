"""A lost "accept the prediction" label is listed with the class it would have given.

The list of labels not saved (the close question's details, exports/labels-not-saved-*.csv)
gave an accepted prediction's class as "(its predicted class)": its line could not be
given back with ``crisisdesk label``. The list's row holds the item's predicted class of
each task (what the analyst saw when accepting): the line names it now. Items of a
selection not read yet have no row, so their line keeps the words.
"""

from __future__ import annotations

import dataclasses

from test_label_not_saved_s11 import _disk_full
from test_unsaved_at_close_s16 import _button, _focused, _listed
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemRow
from crisisdesk.gui.label_step import Step
from crisisdesk.gui.targets import Targets
from crisisdesk.gui.unsaved_labels import rows


def _row(n: int, predicted: dict[str, tuple[str, float]]) -> ItemRow:
    return ItemRow(n, f"posts:{n}:0", "water rising", None, None, None, None,
                   predicted=predicted)


def test_a_lost_accept_lists_each_items_predicted_class() -> None:
    first = _row(1, {"damage": ("severe_damage", 0.9), "informative": ("informative", 0.8)})
    second = _row(2, {"damage": ("mild_damage", 0.6)})
    step = Step(lambda _store: [], "damage: prediction accepted", "", task="damage",
                targets=Targets((first, second), ranges=((10, 3),)))
    listed = rows([step.unsaved("the drive is full")])
    assert listed[:2] == [("posts:1:0", "damage", "severe_damage", "the drive is full"),
                          ("posts:2:0", "damage", "mild_damage", "the drive is full")]
    # The three not read yet: no ids, no classes known.
    assert listed[2][:3] == ("", "damage", "(its predicted class)")


def test_an_item_with_no_prediction_keeps_the_words() -> None:
    step = Step(lambda _store: [], "damage: prediction accepted", "", task="damage",
                targets=Targets((_row(1, {"informative": ("informative", 0.8)}),)))
    assert rows([step.unsaved("why")])[0][2] == "(its predicted class)"


def test_the_list_written_at_close_names_the_accepted_class(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = _focused(window)
    # The row as the list holds it once the task is predicted.
    row = dataclasses.replace(window.current_row(),
                              predicted={view.task: (view.classes[1], 0.9)})
    _disk_full(monkeypatch)
    window.labeller.accept(Targets((row,)), view.task)
    assert not window.close()  # asked first
    box = window.close_question
    assert box is not None
    assert f"{row.uid}\t{view.task}\t{view.classes[1]}" in box.detailedText()
    written = next((demo_like_project.root / "exports").glob("labels-not-saved-*.csv"))
    assert [(r["item"], r["task"], r["class"]) for r in _listed(written)] == [
        (row.uid, view.task, view.classes[1])]
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())
