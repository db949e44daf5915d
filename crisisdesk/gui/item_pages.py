"""The item list's rows, held a page at a time: which pages are held, which the view
wants, and their reads off the UI thread.

A row asked for whose page is not held is "loading": its page is queued, and the queued
pages are read through the window's :class:`~crisisdesk.gui.worker.Background`, newest
wish first (what is on screen now), at most :data:`MAX_IN_FLIGHT` at once. Pages arrive
by their offsets, so a page read under another ``list_stamp`` than the pages held (labels
written meanwhile, posts imported, a version switched) would not line up with them: the
whole list is read again instead (``refresh``). At most :data:`MAX_PAGES` pages are held,
the least recently painted dropped first, so memory stays flat however far one scrolls.
What a page holds (the queue, search and sort) is said by
:class:`~crisisdesk.gui.item_model.ItemModel`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QTimer,
    Signal,
)

from crisisdesk.core.review import ItemRow
from crisisdesk.gui.item_reads import PAGE, Stamp
from crisisdesk.gui.worker import Background

MAX_PAGES = 64  # pages kept (4,096 rows); painted pages are the recently used ones
MAX_IN_FLIGHT = 3  # page queries running at once; newer wishes wait for a free slot
Index = QModelIndex | QPersistentModelIndex


class PagedListModel(QAbstractListModel):
    """A list of :class:`ItemRow` read a page (:data:`PAGE` rows) at a time as the view
    asks for rows, and held least recently used first out.

    A subclass says how a page of what it shows is read (:meth:`_page_read`) and reads
    the whole list again in :meth:`refresh`.
    """

    failed = Signal(str)  # a query failed; the message names what went wrong

    def __init__(self, background: Background, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._background = background
        self._total = 0
        self._generation = 0
        self._pages: OrderedDict[int, list[ItemRow]] = OrderedDict()
        self._wanted: OrderedDict[int, None] = OrderedDict()
        self._in_flight: set[int] = set()
        # Set when labels changed since the pages were read: the queue may have lost
        # (or reordered) items, so a page read by its offset now would not line up with
        # the rows held (a labelled item stays listed until the next refresh).
        self._stale = False
        # The list_stamp the pages held were read under: a page read under another one
        # (labels written by another window or process, posts imported meanwhile, a
        # predict chunk under a queue over predictions) would not line up with them.
        self._stamp: Stamp | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(10)
        self._flush_timer.timeout.connect(self._flush)
        # Figures for tests and the benchmark: how much of the queue was ever fetched.
        self.page_calls = 0
        self.rows_fetched = 0

    def refresh(self, also: Iterable[int] = ()) -> None:
        """Read the list's size and the pages held again, and the pages ``also``."""
        raise NotImplementedError

    def _page_read(self, page: int) -> Callable[[], tuple[Stamp, list[ItemRow]]]:
        """The call (run off the UI thread) that reads ``page`` of what is shown now."""
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._total

    @property
    def total(self) -> int:
        """The queue's size (0 until the first page arrived)."""
        return self._total

    @property
    def labelled_since_read(self) -> bool:
        """Labels were given since the rows held were read: items they took out of the
        queue are still listed (on purpose, to go back to) until the next refresh."""
        return self._stale

    # ------------------------------------------------------------------ rows held
    def row_at(self, row: int, *, fetch: bool = False) -> ItemRow | None:
        """The row's item if its page is here; with ``fetch``, queue the page otherwise."""
        page = row // PAGE
        held = self._pages.get(page)
        if held is None:
            if fetch:
                self._want(page)
            return None
        self._pages.move_to_end(page)
        offset = row - page * PAGE
        return held[offset] if offset < len(held) else None

    def _held(self, row: int) -> ItemRow | None:
        """The row's item if held (no page is queued, the LRU order is left alone)."""
        held = self._pages.get(row // PAGE) if row >= 0 else None
        return held[row % PAGE] if held is not None and row % PAGE < len(held) else None

    def held_in(self, first: int, last: int) -> list[ItemRow]:
        """The rows held from row ``first`` to ``last`` (none is fetched)."""
        return [row for page, held in self._pages.items()
                if page * PAGE <= last and (page + 1) * PAGE > first
                for n, row in enumerate(held, page * PAGE) if first <= n <= last]

    def _trimmed(self, pages: dict[int, list[ItemRow]]) -> OrderedDict[int, list[ItemRow]]:
        """A refresh's pages in the LRU order of those they replace (new ones newest),
        at most MAX_PAGES of them."""
        order = [p for p in self._pages if p in pages] + [p for p in pages
                                                          if p not in self._pages]
        return OrderedDict((p, pages[p]) for p in order[-MAX_PAGES:])

    def row_of(self, item_id: int) -> int | None:
        """The row number of an item among the rows held (None when not held)."""
        return self.rows_of({item_id}).get(item_id)

    def rows_of(self, item_ids: set[int]) -> dict[int, int]:
        """The row numbers of those items held, by item, in one pass over the rows held
        (row_of per item of a selection of thousands took seconds on the UI thread)."""
        return {row.id: page * PAGE + n for page, held in self._pages.items()
                for n, row in enumerate(held) if row.id in item_ids}

    def loaded_rows(self) -> int:
        """How many rows are held now."""
        return sum(len(held) for held in self._pages.values())

    def _count(self, rows: list[ItemRow]) -> None:
        self.page_calls += 1
        self.rows_fetched += len(rows)

    # ------------------------------------------------------------------ paging
    def _want(self, page: int) -> None:
        if page in self._in_flight:
            return
        self._wanted[page] = None
        self._wanted.move_to_end(page)
        while len(self._wanted) > 2 * MAX_IN_FLIGHT:  # older wishes were scrolled past
            self._wanted.popitem(last=False)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        if self._stale and self._wanted:
            # Labels changed since the pages held were read: read the queue again first
            # (as F5 does); the rows still wanted are asked for again once it is here.
            self.refresh()
            return
        generation = self._generation
        while self._wanted and len(self._in_flight) < MAX_IN_FLIGHT:
            page, _ = self._wanted.popitem(last=True)  # newest first: what is on screen now
            if page in self._pages:
                continue
            self._in_flight.add(page)
            self._background.call(self._page_read(page),
                                  self._page_arrived_for(generation, page),
                                  self._page_failed_for(page))

    def _page_arrived_for(self, generation: int, page: int
                          ) -> Callable[[tuple[Stamp, list[ItemRow]]], None]:
        def arrived(result: tuple[Stamp, list[ItemRow]]) -> None:
            if generation != self._generation:
                return
            self._in_flight.discard(page)
            stamp, rows = result
            # Read after a change (ours, or another window's labels: a colleague's 10
            # labels on page 0 made page 1, read by its offset, skip 10 items): the
            # queue is read again, as F5 does.
            if self._stale or stamp != self._stamp:
                self.refresh(also=[page, *self._wanted])
                return
            self._count(rows)
            self._pages[page] = rows
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
            first = page * PAGE
            last = min(self._total, first + PAGE) - 1
            if last >= first:
                self.dataChanged.emit(self.index(first), self.index(last))
            if self._wanted:
                self._flush()
        return arrived

    def _page_failed_for(self, page: int) -> Callable[[str], None]:
        def failed(message: str) -> None:
            self._in_flight.discard(page)
            self.failed.emit(message)
        return failed
