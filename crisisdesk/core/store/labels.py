"""The label journal: append-only label rows, the current label, undo and redo.

Every change is a new row; nothing is updated in place. Rows given together form an
*action*. Each row remembers the row it replaced (``prev``), so undoing an action appends
rows that restore the replaced labels (with their original annotator and source), and
redoing an undo appends rows that restore what the undo replaced. The undo and redo
stacks of an annotator are replayed from their actions, so they survive restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from crisisdesk.core.store.db import utc_now
from crisisdesk.core.store.schema import LABEL_SOURCES
from crisisdesk.core.store.schemes import SchemesMixin


@dataclass(frozen=True)
class CurrentLabel:
    """The label an (item, task) has now, and who gave it when."""

    item: int
    task: str
    label: str
    annotator: str
    source: str
    created_at: str


@dataclass(frozen=True)
class LabelChange:
    """One label given: ``label`` None clears the (item, task).

    ``annotator``, ``source`` and ``given_at`` say who gave the label and when, where
    that is not the action's own annotator, source and time: a label carried over from
    another project's export keeps its provenance, while the action stays the import's
    (so it is on nobody's undo stack).
    """

    item: int
    task: str
    label: str | None
    annotator: str | None = None
    source: str | None = None
    given_at: str | None = None


class LabelsMixin(SchemesMixin):
    """Functions over the label journal."""

    def latest_label_row(self, item: int, task: str) -> sqlite3.Row | None:
        """The journal's latest row for (item, task) (id, item, task, label, annotator,
        source, created_at, and its action's kind: set, undo or redo; the label None
        where it was cleared), or None."""
        return self._one(
            "SELECT l.id, l.item, l.task, l.label, l.annotator, l.source, l.created_at,"
            " a.kind FROM labels l JOIN label_actions a ON a.id = l.action"
            " WHERE l.item = ? AND l.task = ? ORDER BY l.id DESC LIMIT 1", [item, task])

    def _append_action(
        self, annotator: str, source: str, kind: str, reverts: int | None = None
    ) -> int:
        cursor = self.conn.execute(
            "INSERT INTO label_actions (annotator, source, kind, reverts, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [annotator, source, kind, reverts, utc_now()],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_labels(
        self,
        changes: Sequence[LabelChange],
        *,
        annotator: str,
        source: str = "human",
        skip_unchanged: bool = True,
    ) -> int | None:
        """Append one action with these label changes; return its id (None if nothing).

        Committed before returning unless called inside ``transaction()``. With
        ``skip_unchanged`` a change to the label an (item, task) already has is dropped.
        The changes apply in order: an (item, task) named twice ends with the label given
        last, each change compared with (and replacing) the one before it in the step.
        A change's own annotator, source and time, when it has them, go on its row.
        A task without a label scheme (built in or the project's), or a label that is not
        one of its classes, raises ValueError and writes nothing: the journal holds only
        classes that exports, queues and training know.
        """
        for given in {source, *(c.source for c in changes if c.source)}:
            if given not in LABEL_SOURCES:
                raise ValueError(f"label source must be one of {LABEL_SOURCES}, not {given!r}")
        with self.transaction():
            # Checked under the write lock: a `schemes add` in another process may change
            # the classes of a task without labels up to the moment this write starts.
            schemes = self.schemes()
            for change in changes:
                scheme = schemes.get(change.task)
                if scheme is None:
                    try:  # unknown, or its stored scheme left out: KeyError says which
                        scheme = self.scheme(change.task)
                    except KeyError as exc:
                        raise ValueError(exc.args[0]) from None
                if change.label is not None and change.label not in scheme.classes:
                    raise ValueError(f"{change.label!r} is not a class of task "
                                     f"{change.task} (one of: {', '.join(scheme.classes)})")
            rows, earlier = self._step_rows(changes, skip_unchanged)
            if not rows:
                return None
            action = self._append_action(annotator, source, "set")
            now = utc_now()
            # A row replacing an earlier row of this step names it by the id it will get:
            # ids given here, after the journal's last (the write lock is held).
            first = 1 + self._scalar("SELECT COALESCE(MAX(id), 0) FROM labels") \
                if earlier else 0
            self._insert_label_rows(action, [
                (c.item, c.task, c.label, c.annotator or annotator, c.source or source,
                 c.given_at or now, first + earlier[i] if i in earlier else prev)
                for i, (c, prev) in enumerate(rows)], first_id=first if earlier else None)
        return action

    def _step_rows(self, changes: Sequence[LabelChange], skip_unchanged: bool
                   ) -> tuple[list[tuple[LabelChange, int | None]], dict[int, int]]:
        """The rows a step writes: (change, id of the row it replaces), in order; and,
        for a row replacing an earlier row of the same step, {its index: that row's}.

        The changes apply in order: one naming an (item, task) the step named before is
        compared with the label that change left, so the last one given wins and a
        change that changes nothing writes no row (with ``skip_unchanged``)."""
        rows: list[tuple[LabelChange, int | None]] = []
        earlier: dict[int, int] = {}
        last: dict[tuple[int, str], int] = {}  # (item, task) -> index of its latest row
        for change, (latest, label) in zip(changes, self._latest_rows(changes)):
            key = (int(change.item), change.task)
            before = last.get(key)
            if before is not None:
                label = rows[before][0].label
            if skip_unchanged and label == change.label:
                continue
            if before is not None:
                earlier[len(rows)] = before
            last[key] = len(rows)
            rows.append((change, latest))
        return rows, earlier

    def _latest_rows(self, changes: Sequence[LabelChange]) -> list[tuple[int | None,
                                                                         str | None]]:
        """(id, label) of each change's (item, task) latest journal row, in order, as
        they are before the step: (None, None) where it has none.

        One query for all: a query per change took ~2 s for a label given to 100,000
        items. An (item, task) named twice gets its row before the step each time
        (:meth:`_step_rows` then applies the step's changes in order)."""
        keys = json.dumps([[int(c.item), c.task] for c in changes])
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT l.id, l.label FROM json_each(?) j"
            " LEFT JOIN labels l ON l.id = (SELECT MAX(x.id) FROM labels x"
            "  WHERE x.item = json_extract(j.value, '$[0]')"
            "  AND x.task = json_extract(j.value, '$[1]'))"
            " ORDER BY j.key", [keys])]

    def _insert_label_rows(self, action: int, rows: Sequence[tuple],
                           first_id: int | None = None) -> None:
        """Append ``action``'s journal rows (item, task, label, annotator, source,
        created_at, prev), in order, with one statement: executemany runs (and the
        journal's trigger traces) one statement per row. ``first_id``: the id of the
        first row, the others following it (else SQLite gives them)."""
        insert = ("INSERT INTO labels (id, action, item, task, label, annotator, source,"
                  " created_at, prev)")
        if any("\x00" in v for row in rows for v in row if isinstance(v, str)):
            # json_extract ends a text at a NUL (an annotator cell of a hostile sheet):
            # cut short, a re-import would no longer find the row and add it again.
            self.conn.executemany(insert + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (None if first_id is None else first_id + i, action, *row)
                for i, row in enumerate(rows)])
            return
        self.conn.execute(
            insert + " SELECT ? + key, ?, json_extract(value, '$[0]'),"
            " json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
            " json_extract(value, '$[3]'), json_extract(value, '$[4]'),"
            " json_extract(value, '$[5]'), json_extract(value, '$[6]')"
            " FROM json_each(?) ORDER BY key",
            [first_id, action, json.dumps([[int(r[0]), *r[1:]] for r in rows])])

    def has_label_row(self, item: int, task: str, label: str, source: str,
                      annotator: str | None = None) -> bool:
        """Whether the journal ever gave (item, task) this label from this source (and
        this annotator, when one is named)."""
        sql = "SELECT 1 FROM labels WHERE item = ? AND task = ? AND label = ? AND source = ?"
        params = [item, task, label, source]
        if annotator is not None:
            sql += " AND annotator = ?"
            params.append(annotator)
        return self._one(sql + " LIMIT 1", params) is not None

    def current_label(self, item: int, task: str) -> CurrentLabel | None:
        """The label (item, task) has now, or None when unlabelled."""
        row = self.latest_label_row(item, task)
        if row is None or row["label"] is None:
            return None
        return CurrentLabel(row["item"], row["task"], row["label"], row["annotator"],
                            row["source"], row["created_at"])

    def journal(self, item: int, task: str | None = None) -> list[dict]:
        """The journal rows of an item (optionally one task), oldest first: the audit."""
        sql = ("SELECT l.id, l.task, l.label, l.annotator, l.source, l.created_at, a.kind"
               " FROM labels l JOIN label_actions a ON a.id = l.action WHERE l.item = ?")
        params: list = [item]
        if task is not None:
            sql += " AND l.task = ?"
            params.append(task)
        return [dict(r) for r in self._all(sql + " ORDER BY l.id", params)]

    def _stacks(self, annotator: str) -> tuple[list[int], list[int]]:
        """Replay an annotator's human actions into (undo stack, redo stack)."""
        undo: list[int] = []
        redo: list[int] = []
        for row in self._all(
            "SELECT id, kind FROM label_actions WHERE annotator = ? AND source = 'human'"
            " ORDER BY id",
            [annotator],
        ):
            if row["kind"] == "set":
                undo.append(row["id"])
                redo.clear()
            elif row["kind"] == "undo" and undo:
                undo.pop()
                redo.append(row["id"])
            elif row["kind"] == "redo" and redo:
                redo.pop()
                undo.append(row["id"])
        return undo, redo

    def _revert(self, action: int, annotator: str, kind: str) -> list[LabelChange]:
        """Append an action restoring what ``action``'s rows replaced.

        An (item, task) whose label someone changed since ``action`` keeps that newer
        label: undo takes back one's own change, never a colleague's later one. A
        restored label keeps who gave it and when; only "no label" gets the time now.

        Written as one INSERT ... SELECT: a row read and a row written at a time, the
        undo of a label given to 100,000 items took 5-10 s. An (item, task) the action
        names twice (rare: a label key names each item once) is taken on its own: the
        action's last row for it is compared with its label now, and the label its first
        row replaced, the one before the action, is restored.
        """
        new_action = self._append_action(annotator, "human", kind, reverts=action)
        now = utc_now()
        # Found through the (item, task) index: ``+`` keeps SQLite off the action index,
        # which read every row of the action for each row (minutes at 100,000).
        twice = ("EXISTS (SELECT 1 FROM labels d WHERE d.item = l.item AND d.task = l.task"
                 " AND +d.action = l.action AND d.id <> l.id)")
        self.conn.execute(
            "INSERT INTO labels (action, item, task, label, annotator, source, created_at,"
            " prev)"
            # The restored label's own time: the undo's time there read as the colleague
            # or the import having given it then (exports, the audit).
            " SELECT ?, l.item, l.task, p.label, COALESCE(NULLIF(p.annotator, ''), ?),"
            " COALESCE(NULLIF(p.source, ''), 'human'),"
            " CASE WHEN p.label IS NOT NULL THEN p.created_at ELSE ? END, c.id"
            " FROM labels l LEFT JOIN labels p ON p.id = l.prev"
            " JOIN labels c ON c.id = (SELECT MAX(x.id) FROM labels x"
            "  WHERE x.item = l.item AND x.task = l.task)"
            # The same class from someone else since (a colleague who came back to it)
            # is their change and stays; the same entry restored by a colleague's undo
            # is ours.
            " WHERE l.action = ? AND c.label IS l.label AND c.annotator IS l.annotator"
            f" AND c.source IS l.source AND NOT {twice} ORDER BY l.id",
            [new_action, annotator, now, action])
        rows = self._all(
            # Each row of a step replaces the one before it (sessions before 12 gave
            # them all the row before the step): the first row's is the label to restore.
            "SELECT l.item, l.task, l.label, l.annotator, l.source, p.label AS prev_label,"
            " p.annotator AS prev_annotator, p.source AS prev_source,"
            " p.created_at AS prev_created_at"
            " FROM (SELECT item, task, MIN(id) AS first, MAX(id) AS last FROM labels"
            "  WHERE action = ? GROUP BY item, task HAVING COUNT(*) > 1) k"
            " JOIN labels l ON l.id = k.last JOIN labels f ON f.id = k.first"
            " LEFT JOIN labels p ON p.id = f.prev ORDER BY k.last",
            [action],
        )
        for row in rows:
            latest = self._one(
                "SELECT id, label, annotator, source FROM labels WHERE item = ? AND task = ?"
                " ORDER BY id DESC LIMIT 1", [row["item"], row["task"]])
            if latest is None or tuple(latest)[1:] != (
                    row["label"], row["annotator"], row["source"]):
                continue
            self.conn.execute(
                "INSERT INTO labels (action, item, task, label, annotator, source, created_at,"
                " prev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [new_action, row["item"], row["task"], row["prev_label"],
                 row["prev_annotator"] or annotator, row["prev_source"] or "human",
                 row["prev_created_at"] if row["prev_label"] is not None else now,
                 latest["id"]],
            )
        return [LabelChange(r["item"], r["task"], r["label"]) for r in self._all(
            "SELECT item, task, label FROM labels WHERE action = ? ORDER BY id",
            [new_action])]

    def stack_sizes(self, annotator: str) -> tuple[int, int]:
        """How many of the annotator's actions undo and redo can still reach."""
        undo, redo = self._stacks(annotator)
        return len(undo), len(redo)

    def next_step_size(self, annotator: str, *, undo: bool = True) -> int | None:
        """How many labels the step the annotator's next undo (else redo) takes back
        changed, None when there is none to take back: what the window says while a big
        one is written."""
        stack = self._stacks(annotator)[0 if undo else 1]
        return self._scalar("SELECT COUNT(*) FROM labels WHERE action = ?",
                            [stack[-1]]) if stack else None

    def undo(self, annotator: str) -> list[LabelChange]:
        """Undo the annotator's latest action; return the labels restored ([] if none)."""
        with self.transaction():
            undo, _ = self._stacks(annotator)
            return self._revert(undo[-1], annotator, "undo") if undo else []

    def redo(self, annotator: str) -> list[LabelChange]:
        """Redo the annotator's latest undone action; return the labels restored."""
        with self.transaction():
            _, redo = self._stacks(annotator)
            return self._revert(redo[-1], annotator, "redo") if redo else []

    def labelled_items(self, task: str) -> list[tuple[int, str, str | None]]:
        """(item, current label, split or None) of every item labelled for ``task``."""
        rows = self._all(
            "SELECT c.item, c.label, s.split FROM current_labels c"
            " LEFT JOIN splits s ON s.item = c.item AND s.task = c.task"
            " WHERE c.task = ? ORDER BY c.item", [task])
        return [(r["item"], r["label"], r["split"]) for r in rows]
