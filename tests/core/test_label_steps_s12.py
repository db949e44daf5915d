"""One step naming an (item, task) more than once: its changes apply in order.

Found when add_labels became set-based: each change was compared with the label the
(item, task) had *before* the step, so on an item labelled mild_damage the step
[severe_damage, mild_damage] wrote only the severe_damage row and the item ended severe
although mild_damage was asked for last; [mild_damage, mild_damage] on an unlabelled item
wrote two rows. Now each change is compared with the label the step's earlier changes
left, the last one given wins, a change that changes nothing writes no row, and each row
replaces (``prev``) the row before it, so undo restores the label before the step.

Import: a sheet row naming one image twice ("a.jpg; a.jpg") gave its item two identical
label rows and counted two labels in the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import make_image, run_import
from test_label_journal import _items

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store

S, M, L = "severe_damage", "mild_damage", "little_or_no_damage"
TASK = "damage"


def _rows(store: Store, action: int | None) -> list[tuple]:
    """(id, item, label, annotator, source, prev) of an action's journal rows."""
    return [tuple(r) for r in store.conn.execute(
        "SELECT id, item, label, annotator, source, prev FROM labels WHERE action = ?"
        " ORDER BY id", [action])]


def _current(store: Store, item: int) -> tuple | None:
    label = store.current_label(item, TASK)
    return (label.label, label.annotator, label.source) if label else None


def test_the_label_given_last_in_a_step_wins(project: Project) -> None:
    with project.open_store() as store:
        item, other = _items(store, 2)
        store.add_labels([LabelChange(item, TASK, M)], annotator="ana")
        (before,) = [r[0] for r in store.conn.execute("SELECT id FROM labels")]
        action = store.add_labels([LabelChange(other, TASK, L), LabelChange(item, TASK, S),
                                   LabelChange(item, TASK, M)], annotator="ben")
        assert _current(store, item) == (M, "ben", "human")
        rows = _rows(store, action)
        assert [r[1:5] for r in rows] == [(other, L, "ben", "human"),
                                         (item, S, "ben", "human"),
                                         (item, M, "ben", "human")]
        # Each row replaced the one before it: the audit reads "severe (was mild)",
        # then "mild (was severe)".
        assert [r[5] for r in rows] == [None, before, rows[1][0]]


def test_a_repeated_change_that_changes_nothing_writes_no_row(project: Project) -> None:
    with project.open_store() as store:
        item, other = _items(store, 2)
        action = store.add_labels([LabelChange(item, TASK, M), LabelChange(other, TASK, S),
                                   LabelChange(item, TASK, M)], annotator="ana")
        assert [r[1:3] for r in _rows(store, action)] == [(item, M), (other, S)]
        # Given, then taken back to what it was, in one step: both rows, in order.
        action = store.add_labels([LabelChange(item, TASK, L), LabelChange(item, TASK, M),
                                   LabelChange(item, TASK, M)], annotator="ana")
        assert [r[2] for r in _rows(store, action)] == [L, M]
        assert _current(store, item) == (M, "ana", "human")


def test_without_skip_unchanged_every_change_is_a_row_the_last_one_current(
        project: Project) -> None:
    """An import (skip_unchanged=False) keeps each given row, in order, each replacing
    the one before it."""
    with project.open_store() as store:
        (item,) = _items(store, 1)
        action = store.add_labels([
            LabelChange(item, TASK, S, annotator="carl"),
            LabelChange(item, TASK, M, annotator="dora", given_at="2025-01-02T03:04:05+00:00"),
            LabelChange(item, TASK, M, annotator="dora")],
            annotator="src", source="import", skip_unchanged=False)
        rows = _rows(store, action)
        assert [r[2:4] for r in rows] == [(S, "carl"), (M, "dora"), (M, "dora")]
        assert [r[5] for r in rows] == [None, rows[0][0], rows[1][0]]
        assert _current(store, item) == (M, "dora", "import")


@pytest.mark.parametrize("named_once", [0, 300])
def test_undo_of_a_step_naming_an_item_twice_restores_the_label_before_it(
        project: Project, named_once: int) -> None:
    """Alone, or among many items named once (the set-based path of undo)."""
    with project.open_store() as store:
        item, cleared, *rest = _items(store, 2 + named_once)
        store.add_labels([LabelChange(item, TASK, M)], annotator="src", source="import")
        store.add_labels([LabelChange(cleared, TASK, S)], annotator="ana")
        before = {i: _current(store, i) for i in (item, cleared, *rest)}
        store.add_labels([LabelChange(item, TASK, S), *(LabelChange(i, TASK, L) for i in rest),
                          LabelChange(cleared, TASK, None), LabelChange(item, TASK, L),
                          LabelChange(cleared, TASK, M)], annotator="ben")
        after = {i: _current(store, i) for i in (item, cleared, *rest)}
        assert after[item] == (L, "ben", "human") and after[cleared] == (M, "ben", "human")
        restored = store.undo("ben")
        assert {i: _current(store, i) for i in (item, cleared, *rest)} == before
        # One restoring row per (item, task), however often the step named it.
        assert sorted(c.item for c in restored) == sorted((item, cleared, *rest))
        store.redo("ben")
        assert {i: _current(store, i) for i in (item, cleared, *rest)} == after
        store.undo("ben")
        assert {i: _current(store, i) for i in (item, cleared, *rest)} == before


def test_undo_keeps_a_colleagues_later_label_on_an_item_named_twice(
        project: Project) -> None:
    with project.open_store() as store:
        (item,) = _items(store, 1)
        store.add_labels([LabelChange(item, TASK, M)], annotator="ana")
        store.add_labels([LabelChange(item, TASK, S), LabelChange(item, TASK, L)],
                         annotator="ben")
        store.add_labels([LabelChange(item, TASK, S)], annotator="carl")
        assert store.undo("ben") == []
        assert _current(store, item) == (S, "carl", "human")


def test_a_row_naming_one_image_twice_gives_its_item_one_label(
        project: Project, tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", 1)
    sheet = tmp_path / "posts.csv"
    sheet.write_text("id,text,image,damage\n1,roof gone,a.jpg;a.jpg,severe_damage\n",
                     encoding="utf-8")
    job = run_import(project, [sheet])
    assert job.report.labels_added == 1
    with project.open_store() as store:
        assert tuple(store.conn.execute(
            "SELECT COUNT(*), MIN(label) FROM labels").fetchone()) == (1, S)
