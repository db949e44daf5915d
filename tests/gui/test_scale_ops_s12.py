"""Analyst operations on a big queue, beyond scrolling: Select All then a label key, a
Shift-click range across rows never read, in a list sorted by a chosen task's confidence.

Found at 100,000 items: the label key after Ctrl+A walked every selected row on the UI
thread (an index per row, then the model asked row by row: 0.36 s frozen at 100,000,
over a second at 300,000), and the label write then read every selected item's whole row
(text, predictions, labels: 3.5 s and ~100 MB at 100,000) to use its id alone. And a
selection of rows not read yet, in a list of no task sorted by confidence, was read back
in the first task's confidence order, not the one the list shows: other items were
labelled than those selected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel
from test_item_model import build_large_project, make_list

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import Prediction
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.labelling import Labeller, selected_targets

N = 10_000  # rows of the Select All tests: enough pages that row-by-row work shows


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return build_large_project(tmp_path_factory.mktemp("many") / "project", N)


def labelled(project: Project, task: str, annotator: str) -> set[int]:
    with project.open_store() as store:
        return {r[0] for r in store.conn.execute(
            "SELECT item FROM label_state WHERE task = ? AND annotator = ?"
            " AND label IS NOT NULL", [task, annotator])}


def give_and_wait(qtbot, labeller: Labeller, targets, task: str, label: str) -> list[int]:
    with qtbot.waitSignal(labeller.labels_changed, timeout=60_000) as changed:
        labeller.give(targets, task, label)
    return changed.args[0]


def test_select_all_then_a_label_key_reads_the_selection_by_ranges(
        qtbot, many: Project, monkeypatch) -> None:
    """The targets of Ctrl+A are worked out from the selection's ranges and the pages
    held, not row by row on the UI thread; every item is labelled all the same."""
    background, model, view = make_list(qtbot, many)
    model.set_query(Queue("all"), "", "priority")
    qtbot.waitUntil(lambda: model.total == N and model.row_at(0) is not None)
    view.selectAll()
    asked: list[int] = []
    real_row_at = model.row_at
    monkeypatch.setattr(model, "row_at", lambda row, **kw: asked.append(row)
                        or real_row_at(row, **kw))
    targets = selected_targets(view, model)
    monkeypatch.undo()
    # a row asked per page not held, and the rows of the pages held: not one per row
    assert len(asked) <= model.loaded_rows() + N // PAGE + 1 < N
    assert len(targets.rows) + sum(count for _, count in targets.ranges) == N
    labeller = Labeller(many, background, "ana-all")
    changed = give_and_wait(qtbot, labeller, targets, "informative", "informative")
    assert len(changed) == N
    assert len(labelled(many, "informative", "ana-all")) == N
    background.wait()


def test_the_label_write_of_a_selection_reads_ids_not_whole_rows(
        qtbot, many: Project, monkeypatch) -> None:
    """The write of a label to Ctrl+A's unread rows reads their ids alone: the items'
    texts, predictions and labels (the list's rows) are not built for them."""
    background, model, view = make_list(qtbot, many)
    model.set_query(Queue("all"), "", "time")
    qtbot.waitUntil(lambda: model.total == N and model.row_at(0) is not None)
    background.wait()
    view.selectAll()
    targets = selected_targets(view, model)
    assert targets.ranges  # rows never read are part of it
    built: list[int] = []
    real_rows = review._rows
    monkeypatch.setattr(review, "_rows", lambda store, ids, actives: built.append(len(ids))
                        or real_rows(store, ids, actives))
    labeller = Labeller(many, background, "ana-ids")
    changed = give_and_wait(qtbot, labeller, targets, "damage", "severe_damage")
    assert len(changed) == N
    assert sum(built) == 0  # before: every unread selected row, text and all
    assert len(labelled(many, "damage", "ana-ids")) == N
    background.wait()


def test_a_range_not_read_in_a_list_sorted_by_a_chosen_task_labels_the_rows_selected(
        qtbot, tmp_path: Path) -> None:
    """"All items" sorted by the confidence of the task worked on (informative); the
    first task with a model (damage) orders them the other way. A Shift-click range of
    rows not read yet labels the items the list shows on those rows."""
    project = build_large_project(tmp_path / "project", 400)
    schemes = builtin_schemes()
    with project.open_store() as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        for task, rising in (("damage", True), ("informative", False)):
            classes = schemes[task].classes
            version = store.add_model_version(task, f"{task}-v1", "x")
            predictions = []
            for n, item in enumerate(ids):
                top = 0.5 + 0.49 * (n if rising else len(ids) - n) / len(ids)
                rest = (1 - top) / (len(classes) - 1)
                predictions.append(Prediction(item, task, {
                    c: top if k == 0 else rest for k, c in enumerate(classes)}))
            store.add_predictions(version, predictions)
    background, model, view = make_list(qtbot, project, height=300)
    queue = Queue("all")
    model.set_query(queue, "", "confidence", confidence_task="informative")
    qtbot.waitUntil(lambda: model.total == len(ids) and model.row_at(0) is not None)
    background.wait()
    first, count = 3 * PAGE, 20
    assert model.row_at(first) is None  # never read: resolved in the write
    view.selectionModel().select(
        QItemSelection(model.index(first), model.index(first + count - 1)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect)
    with project.open_store() as store:
        shown = {r.id for r in review.queue_page(
            store, queue, offset=first, limit=count, sort="confidence",
            confidence_task="informative")}
    labeller = Labeller(project, background, "ana-range")
    give_and_wait(qtbot, labeller, selected_targets(view, model), "humanitarian",
                  "rescue_volunteering_or_donation_effort")
    assert labelled(project, "humanitarian", "ana-range") == shown
    background.wait()


def test_the_items_a_label_changed_reach_each_listener_as_they_are(
        qtbot, many: Project) -> None:
    """The ids of a label given to 10,000 items go to every listener (the list, the
    queue counts, the not-saved bar) as the one list: declared a ``list`` signal, Qt
    copied them, item by item, to each (0.1 s of UI thread at 100,000 items)."""
    background, model, view = make_list(qtbot, many)
    model.set_query(Queue("all"), "", "priority")
    qtbot.waitUntil(lambda: model.total == N and model.row_at(0) is not None)
    view.selectAll()
    labeller = Labeller(many, background, "ana-same")
    got: list[list[int]] = []
    labeller.labels_changed.connect(got.append)
    labeller.labels_changed.connect(got.append)
    give_and_wait(qtbot, labeller, selected_targets(view, model), "informative",
                  "not_informative")
    assert len(got) == 2 and len(got[0]) == N
    assert got[0] is got[1]  # one list, not a copy per listener
    background.wait()
