"""The label journal read as an audit trail: who changed which label, when, and how.

The journal (``labels`` rows grouped into ``label_actions``, see ``labels.py``) is append
only, so it already holds the whole history; this reads it back as a person asks it: for
one item (a disputed label), or for the project filtered by annotator, task and time (a
team lead's review of a day's work). Each change says whether it was an undo or a redo
and of whose step, and whose label it restored: an undo's row keeps the restored label's
own annotator and time, so the row alone read as that colleague having labelled again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from crisisdesk.core.store.db import store_time
from crisisdesk.core.store.labels import LabelsMixin

#: Journal rows read per query of a project-wide listing: the memory it holds at a time,
#: whatever the journal's size (a million rows listed in one fetch took ~1 GB).
PAGE = 1000
#: How long after its step's time a label's own time may be written (the same step's
#: clock read twice): a label's time closer than this is the step's, not a source's.
_SAME_STEP = timedelta(seconds=1)

_SELECT = (
    "SELECT l.id, l.item, i.uid, l.task, l.label, l.annotator, l.source, l.created_at,"
    " l.action, a.kind, a.annotator AS by_, a.source AS action_source,"
    " a.created_at AS at, a.reverts, r.annotator AS reverts_by"
    " FROM labels l JOIN label_actions a ON a.id = l.action"
    " JOIN items i ON i.id = l.item"
    " LEFT JOIN label_actions r ON r.id = a.reverts")
# Who made a change: an undo's or redo's row is credited to whoever gave the restored
# label, so it is the action's annotator there; a set's row names the person who gave
# it (the action's own annotator, or the person a re-imported export names).
_CHANGED_BY = "CASE WHEN a.kind = 'set' THEN l.annotator ELSE a.annotator END"


@dataclass(frozen=True)
class LabelEvent:
    """One change in the label journal: an (item, task) given ``label`` (None: cleared).

    ``at`` is when the change was written into this journal and ``changed_by`` who made
    it. ``given_by``, ``source`` and ``given_at`` are the label's own provenance, which an
    undo or redo restores with the label (so they may name someone else and an earlier
    time). ``kind`` is ``set``, ``undo`` or ``redo``; an undo or redo names the step it
    reverted (``reverts``, an action id) and whose step that was (``reverts_by``).
    """

    journal_id: int
    item: int
    item_uid: str
    task: str
    label: str | None
    kind: str
    changed_by: str
    at: str
    given_by: str
    source: str
    given_at: str
    action: int
    reverts: int | None
    reverts_by: str | None
    #: a set whose label keeps the person and time an imported file gave it (an
    #: export's annotator and labelled_at), written here by the import
    carried_over: bool = False

    def as_json(self) -> dict:
        """The event as a JSON object (the CLI's ``--json``)."""
        return asdict(self)

    def time_kept(self) -> bool:
        """Whether ``given_at`` is a time the source gave (an export's labelled_at), not
        the time this journal wrote the label: a label given no time is written at its
        step's time, read a moment after the step's own (so within a second after it)."""
        if self.given_at < self.at:
            return True
        try:
            after = datetime.fromisoformat(self.given_at) - datetime.fromisoformat(self.at)
        except ValueError:  # not the store's format (written by hand): said as it is
            return True
        return after > _SAME_STEP

    def in_words(self) -> str:
        """What changed, in a line: the label (or "(cleared)"), then :meth:`how`."""
        return f"{self.label if self.label is not None else '(cleared)'}  {self.how()}"

    def how(self) -> str:
        """Who gave the label, and for an undo or redo, whose step it took back (the
        time, item and label are shown beside it)."""
        if self.kind == "set":
            words = f"{self.source}, {self.changed_by}"
            if self.carried_over and self.time_kept():
                words += f" (given {journal_time(self.given_at)}, imported)"
            elif self.carried_over:
                # A CrisisMMD-format export says "human" but not when: the import's time
                # is all the journal holds, and "given <it>" read as the file's own.
                words += f" (imported {journal_time(self.at)}; the file gave no time)"
            return words
        # The step's number (``reverts``) is in the JSON; in words, whose step it was.
        whose = ("their own" if self.reverts_by == self.changed_by
                 else f"{self.reverts_by}'s")
        words = f"{self.kind} by {self.changed_by} of {whose} step"
        if self.label is not None:
            words += f"; {self.given_by}'s {self.source} label again"
        return words


def journal_time(stored: str) -> str:
    """A journal time as the app and the CLI show it: UTC, to the second, named UTC
    ("2024-05-01 10:00:03 UTC"); an undo and its redo often fall in one minute."""
    try:
        return f"{store_time(stored)[:19].replace('T', ' ')} UTC"
    except ValueError:  # not the store's format (written by hand): shown as stored
        return stored


def _event(row) -> LabelEvent:
    is_set = row["kind"] == "set"
    carried = is_set and (row["annotator"], row["source"]) != (row["by_"],
                                                              row["action_source"])
    return LabelEvent(row["id"], row["item"], row["uid"], row["task"], row["label"],
                      row["kind"], row["annotator"] if is_set else row["by_"], row["at"],
                      row["annotator"], row["source"], row["created_at"], row["action"],
                      row["reverts"], row["reverts_by"], carried)


class HistoryMixin(LabelsMixin):
    """Reads of the label journal as an audit trail."""

    def label_history(self, item: int, task: str | None = None) -> list[LabelEvent]:
        """Every change of ``item``'s labels (one task's, when named), in journal order."""
        sql, params = f"{_SELECT} WHERE l.item = ?", [item]
        if task is not None:
            sql += " AND l.task = ?"
            params.append(task)
        return [_event(r) for r in self._all(sql + " ORDER BY l.id", params)]

    def label_events(self, *, annotator: str | None = None, task: str | None = None,
                     since: str | None = None) -> Iterator[LabelEvent]:
        """Every change in the project's journal, oldest first, made by ``annotator``, to
        ``task``, written at or after ``since`` (ISO 8601; no zone: UTC), each filter
        when given. A generator reading :data:`PAGE` rows at a time: a journal of a
        million rows is listed in bounded memory, and no read stays open between pages
        (a long listing piped to ``less`` held back the WAL's checkpoints).

        Raises ValueError (before yielding) when ``since`` is no ISO-8601 time."""
        where, params = [], []
        if annotator is not None:
            where.append(f"{_CHANGED_BY} = ?")
            params.append(annotator)
        if task is not None:
            where.append("l.task = ?")
            params.append(task)
        if since is not None:
            where.append("a.created_at >= ?")
            params.append(store_time(since))  # times compare as text in one format
        return self._pages(" AND ".join(where), params)

    def _pages(self, where: str, params: list) -> Iterator[LabelEvent]:
        """The rows matching ``where`` page by page, after the last row id seen."""
        last = 0
        while True:
            rows = self._all(
                f"{_SELECT} WHERE l.id > ?{' AND ' + where if where else ''}"
                " ORDER BY l.id LIMIT ?", [last, *params, PAGE])
            yield from (_event(r) for r in rows)
            if len(rows) < PAGE:
                return
            last = rows[-1]["id"]
