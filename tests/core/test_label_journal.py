"""The label journal under mixed work: two annotators labelling, undoing and redoing.

The journal is append-only and the current labels are its replay (the latest row of each
(item, task)); undo takes back only the annotator's own change, never a colleague's later
one, even when the colleague gave the same class.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")
S, M, L = DAMAGE
#: (label, annotator, source) of a journal entry; label None is "unlabelled again"
Entry = tuple[str | None, str, str]
Key = tuple[int, str]


def _items(store: Store, n: int) -> list[int]:
    store.ensure_source("src", "csv", "/data/src.csv")
    ids = []
    for k in range(n):
        post = store.insert_post("src", str(k), text=f"post {k}")
        ids.append(store.add_text_item(post, "src", str(k)))
    return ids


def _current(store: Store, item: int, task: str = "damage") -> tuple[str, str] | None:
    label = store.current_label(item, task)
    return (label.label, label.annotator) if label else None


def test_undo_keeps_a_colleagues_later_change_to_the_same_class(project: Project) -> None:
    with project.open_store() as store:
        (item,) = _items(store, 1)
        store.add_labels([LabelChange(item, "damage", S)], annotator="src", source="import")
        store.add_labels([LabelChange(item, "damage", M)], annotator="ana")
        # ben disagrees, then comes back to mild_damage: now it is ben's label.
        store.add_labels([LabelChange(item, "damage", L)], annotator="ben")
        store.add_labels([LabelChange(item, "damage", M)], annotator="ben")
        assert store.undo("ana") == []
        assert _current(store, item) == (M, "ben")


def test_undo_takes_back_ones_label_that_a_colleagues_undo_restored(
        project: Project) -> None:
    with project.open_store() as store:
        (item,) = _items(store, 1)
        store.add_labels([LabelChange(item, "damage", M)], annotator="ana")
        store.add_labels([LabelChange(item, "damage", L)], annotator="ben")
        store.undo("ben")  # ana's label is back, as ana's
        assert _current(store, item) == (M, "ana")
        assert store.undo("ana") == [LabelChange(item, "damage", None)]
        assert store.current_label(item, "damage") is None


@dataclass
class _Action:
    annotator: str
    kind: str
    rows: list[tuple[Key, Entry, Entry | None]] = field(default_factory=list)


class _Model:
    """The README's label rules, written out in plain Python: a new label is a change
    (the same class again is none), undo takes back the annotator's last action except
    where someone has changed the label since, redo puts it back, a new label drops the
    annotator's redo stack."""

    def __init__(self) -> None:
        self.current: dict[Key, Entry] = {}
        self.actions: list[_Action] = []

    def label(self, annotator: str, changes: list[tuple[Key, str]]) -> None:
        action = _Action(annotator, "set")
        for key, label in changes:
            before = self.current.get(key)
            if (before[0] if before else None) == label:
                continue
            entry = (label, annotator, "human")
            action.rows.append((key, entry, before))
            self.current[key] = entry
        if action.rows:
            self.actions.append(action)

    def _stacks(self, annotator: str) -> tuple[list[_Action], list[_Action]]:
        undo: list[_Action] = []
        redo: list[_Action] = []
        for action in self.actions:
            if action.annotator != annotator:
                continue
            if action.kind == "set":
                undo.append(action)
                redo.clear()
            elif action.kind == "undo" and undo:
                undo.pop()
                redo.append(action)
            elif action.kind == "redo" and redo:
                redo.pop()
                undo.append(action)
        return undo, redo

    def revert(self, annotator: str, kind: str) -> None:
        undo, redo = self._stacks(annotator)
        stack = undo if kind == "undo" else redo
        if not stack:
            return
        action = _Action(annotator, kind)
        for key, entry, before in stack[-1].rows:
            if self.current.get(key) != entry:
                continue  # changed since: that later change stays
            restored = before if before is not None else (None, annotator, "human")
            action.rows.append((key, restored, entry))
            self.current[key] = restored
        self.actions.append(action)


def _journal(store: Store) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute(
        "SELECT l.*, a.annotator, a.kind, a.reverts FROM labels l"
        " JOIN label_actions a ON a.id = l.action ORDER BY l.id")]


@pytest.mark.parametrize("seed", range(6))
def test_random_work_of_two_annotators_replays_to_the_current_labels(
        project: Project, seed: int) -> None:
    rnd = random.Random(seed)
    tasks = ("damage", "informative")
    classes = {"damage": DAMAGE, "informative": ("informative", "not_informative")}
    with project.open_store() as store:
        items = _items(store, 3)
        keys = [(i, t) for i in items for t in tasks]
        model = _Model()
        for _ in range(120):
            before = _journal(store)
            annotator = rnd.choice(("ana", "ben"))
            roll = rnd.random()
            if roll < 0.55:
                picked = rnd.sample(keys, rnd.randint(1, 3))
                changes = [(k, rnd.choice(classes[k[1]])) for k in picked]
                store.add_labels([LabelChange(i, t, c) for (i, t), c in changes],
                                 annotator=annotator)
                model.label(annotator, changes)
            elif roll < 0.8:
                store.undo(annotator)
                model.revert(annotator, "undo")
            else:
                store.redo(annotator)
                model.revert(annotator, "redo")
            after = _journal(store)
            # Append-only: every earlier row is still there, unchanged.
            assert after[:len(before)] == before
            replay: dict[Key, tuple] = {}
            for row in store.conn.execute("SELECT item, task, label, annotator, source"
                                          " FROM labels ORDER BY id"):
                replay[(row[0], row[1])] = tuple(row[2:])
            for key in keys:
                want = model.current.get(key)
                got = store.current_label(*key)
                got_entry = (got.label, got.annotator, got.source) if got else None
                assert got_entry == (want if want and want[0] is not None else None), key
                state = store.conn.execute(
                    "SELECT label, annotator, source FROM label_state WHERE item = ?"
                    " AND task = ?", key).fetchone()
                assert (tuple(state) if state else None) == replay.get(key)
                if want is not None:
                    assert replay[key] == want
