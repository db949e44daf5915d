"""The items a labelling key acts on: the list's selection (else its current item) as
rows already held plus row ranges still to read, resolved to item ids in the label's
write (see ``labelling.py``), never on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtWidgets import QAbstractItemView

from crisisdesk.core import review
from crisisdesk.core.review import ItemRow, Queue
from crisisdesk.core.store import Store
from crisisdesk.gui.item_model import PAGE


class ListChanged(Exception):
    """The queue changed since the list read it: a selection's unread rows are lost."""


@dataclass(frozen=True)
class Targets:
    """The items a key acts on: rows already held, plus row ranges of the list still to
    fetch (a Shift-click across rows never scrolled into view)."""

    rows: tuple[ItemRow, ...]
    ranges: tuple[tuple[int, int], ...] = ()  # (offset, count) in the list's order
    queue: Queue = field(default_factory=lambda: Queue("all"))
    search: str = ""
    sort: str = "priority"
    total: int | None = None  # the list's size as read (None: not checked)
    #: The task whose confidence orders a list of no task sorted by confidence (the
    #: list's own: read back by another task's, the ranges fell on other items).
    confidence_task: str | None = None
    #: The model versions the queues read, with their prediction writes, that the list
    #: was read under (None: not checked, a queue not over predictions): a switch or a
    #: predict chunk reorders the queues over predictions, their size unchanged.
    versions: str | None = None

    def resolve(self, store: Store) -> list[int]:
        """The ids of every targeted item (runs in the background: the ranges are store
        queries; ids alone, as a label needs: the rows of 100,000 items took seconds).

        Raises :class:`ListChanged` when the queue's size is no longer the list's, or
        the model versions the queues read (and their prediction writes) are no longer
        those the list was read under: the ranges' offsets would then fall on other
        items than those selected (a label given just before took an item out of
        "Unlabelled", another window wrote, a version switched or a predict chunk
        reordered a queue over predictions, its size unchanged)."""
        ids = [r.id for r in self.rows]
        # One read transaction: posts a watch commits between the size check and the
        # pages (the newest come first) would otherwise shift the offsets unnoticed.
        with store.snapshot():
            if self.ranges and (self.total is not None and review.queue_size(
                    store, self.queue, self.search) != self.total or self.versions
                    is not None and review.queue_stamp(store)[2] != self.versions):
                raise ListChanged("the list changed since it was read, so the selected "
                                  "rows not shown yet cannot be found again: press F5 and "
                                  "select them again (no label was given)")
            for offset, count in self.ranges:
                ids += review.queue_ids(store, self.queue, offset=offset, limit=count,
                                        search=self.search, sort=self.sort,
                                        confidence_task=self.confidence_task)
        return list(dict.fromkeys(ids))


def selected_targets(view: QAbstractItemView, model: Any) -> Targets:
    """The items a label key acts on in ``view`` over the item ``model``: the selection,
    else the current item; rows the model holds as they are, the others as ranges to
    read (a Shift-click across rows never scrolled into view).

    Worked out from the selection's ranges a page at a time, the pages not held as one
    range each: row by row, Ctrl+A on 100,000 items froze the UI thread for 0.4 s."""
    spans = sorted((r.top(), r.bottom()) for r in view.selectionModel().selection())
    if not spans and view.currentIndex().isValid():
        spans = [(view.currentIndex().row(),) * 2]
    rows: list[ItemRow] = []
    ranges: list[tuple[int, int]] = []

    def unread(first: int, last: int) -> None:
        if ranges and ranges[-1][0] + ranges[-1][1] == first:
            ranges[-1] = (ranges[-1][0], last + 1 - ranges[-1][0])
        else:
            ranges.append((first, last + 1 - first))

    first = 0  # the first row not looked at yet (selection ranges may overlap)
    for top, bottom in spans:
        first = max(first, top)
        while first <= bottom:
            last = min(bottom, (first // PAGE + 1) * PAGE - 1)  # to the page's end
            if model.row_at(first) is None:  # a page not held, or past a held one's end
                unread(first, last)
            else:
                for number in range(first, last + 1):
                    if (row := model.row_at(number)) is None:
                        unread(number, last)
                        break
                    rows.append(row)
            first = last + 1
    return Targets(tuple(rows), tuple(ranges), model.queue, model.search, model.sort,
                   model.total, model.confidence_task, versions=model.versions)
