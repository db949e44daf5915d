"""The store reads behind the item list (crisisdesk/gui/item_model.py), run on a worker
thread: a query's first page, a refresh of the pages held, one page. Each runs in one
read transaction with the stamp it was read under (``review.list_stamp``), so the model
can tell pages that do not line up (another window's labels, a predict chunk) from
those that do. No Qt here: the model hands these to its Background.
"""

from __future__ import annotations

from collections.abc import Iterable

from crisisdesk.core import review
from crisisdesk.core.review import ItemRow, Queue
from crisisdesk.core.store import Store

PAGE = 64  # rows per queue_page call: a screenful or two
#: At most this many rows past the focus row are read by a refresh that finds the queue
#: grown (see ItemModel.refresh); a bigger burst may leave the current item unfound.
FOLLOW_ROWS = 16 * PAGE
#: What the pages held were read under: review.list_stamp's (labels, items, versions).
Stamp = tuple[int, int, str]


def _page(store: Store, queue: Queue, page: int, search: str, sort: str,
          by: str | None) -> list[ItemRow]:
    return review.queue_page(store, queue, offset=page * PAGE, limit=PAGE, search=search,
                             sort=sort, confidence_task=by)


def read_first(store: Store, queue: Queue, search: str, sort: str, by: str | None
               ) -> tuple[Stamp, int, list[ItemRow]]:
    """A new query's stamp, size and first page (``by``: the task whose confidence sorts
    a queue of no task)."""
    with store.snapshot():  # one read transaction: the stamp says what the rows include
        stamp = review.list_stamp(store, queue, sort)
        size = review.queue_size(store, queue, search)
        rows = _page(store, queue, 0, search, sort, by) if size else []
    return stamp, size, rows


def read_page(store: Store, queue: Queue, page: int, search: str, sort: str,
              by: str | None) -> tuple[Stamp, list[ItemRow]]:
    """Page ``page`` of the query, with the stamp it was read under."""
    with store.snapshot():
        return review.list_stamp(store, queue, sort), _page(store, queue, page, search,
                                                            sort, by)


def read_refresh(store: Store, queue: Queue, search: str, sort: str, by: str | None, *,
                 held: Iterable[int], focus: int, total: int, near: set[int]
                 ) -> tuple[Stamp, int, dict[int, list[ItemRow]]]:
    """The stamp, size and pages ``held`` of the query read again; when the queue grew
    past the ``total`` held, also the pages from the ``focus`` row down to where the
    items ``near`` it (ids) were pushed, those holding one of them (see
    ItemModel.refresh)."""
    with store.snapshot():
        stamp = review.list_stamp(store, queue, sort)
        size = review.queue_size(store, queue, search)
        out = {p: _page(store, queue, p, search, sort, by)
               for p in sorted(held) if p * PAGE < size}
        grown = min(size - total, FOLLOW_ROWS)
        if near and grown > 0:
            for p in range(max(focus - PAGE, 0) // PAGE,
                           min(focus + grown + PAGE, size - 1) // PAGE + 1):
                rows = _page(store, queue, p, search, sort, by) if p not in out else []
                if near.intersection(r.id for r in rows):
                    out[p] = rows
    return stamp, size, out
