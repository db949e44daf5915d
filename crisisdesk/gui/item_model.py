"""The item list's Qt model: a queue of the store, fetched a page at a time, off the UI thread.

The model knows the queue's size (``review.queue_size``), so the scrollbar is true to it
from the first paint, but holds only the pages that were painted: asking for a row whose
page is not here returns a "loading" placeholder and queues that page; queued pages are
fetched with ``review.queue_page`` through the window's :class:`Background` (never on the
UI thread) and the rows repaint when they arrive (the paging is
:class:`~crisisdesk.gui.item_pages.PagedListModel`'s; this model says what a page is).
Dragging the scrollbar to the end of 100,000 items therefore fetches the last page or
two, not the 99,900 rows in between, and pages no longer painted are dropped (LRU), so
memory stays flat however far one scrolls.
A row whose image the blur settings hide (``sensitive.py``) gets the blurred thumbnail.
The pages are read through one connection kept until the window closes (``StoreReader``):
``queue_page`` caches a queue's id order per connection, and a connection per page read
the whole order again for each page past the first 2,000 rows (1-2 s at 300,000 items).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemRow, Queue
from crisisdesk.gui.advice import list_image_note
from crisisdesk.core.bidi import shown_uid
from crisisdesk.gui.chips import row_in_words
from crisisdesk.gui.item_pages import Index, PagedListModel
from crisisdesk.gui.item_reads import (  # noqa: F401 - PAGE, FOLLOW_ROWS: imported from here
    FOLLOW_ROWS,
    PAGE,
    Stamp,
    read_first,
    read_page,
    read_refresh,
)
from crisisdesk.gui.sensitive import BlurRule, BlurWatch
from crisisdesk.gui.store_reader import StoreReader
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.worker import Background

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the ItemRow of a row (None while loading)
BLURRED_ROLE = Qt.ItemDataRole.UserRole + 2  # whether the row's thumbnail is blurred


class ItemModel(PagedListModel):
    """Rows of one queue (search and sort applied), loaded lazily in pages."""

    loaded = Signal()  # a new query's size and first page arrived
    about_to_refresh = Signal()  # a refresh's pages arrived and replace those held now
    refreshed = Signal()  # a refresh's pages arrived

    def __init__(self, project: Project, background: Background, thumbnails: ThumbnailCache,
                 parent: QObject | None = None) -> None:
        super().__init__(background, parent)
        self._project = project
        self._thumbnails = thumbnails
        self.queue = Queue("all")
        self.search = ""
        self.sort = "priority"
        # The task whose confidence the "confidence" sort uses in a queue of no task (all
        # items, an event): the one the analyst works on (None: the core's choice).
        self.confidence_task: str | None = None
        #: The list's current row (its owner keeps it up to date; -1: none): a refresh
        #: reads the rows new posts may have pushed it to (see refresh).
        self.focus_row = -1
        thumbnails.ready.connect(self._thumbnail_ready)
        self.blur = BlurWatch(self)
        self.blur.changed.connect(self._blur_changed)
        self._reader = StoreReader(project)

    def close(self) -> None:
        """Close the model's store connection (its window is closing: fetches still
        queued then find it closed)."""
        self._reader.close()

    # ------------------------------------------------------------------ queries
    def set_query(self, queue: Queue, search: str = "", sort: str = "priority",
                  confidence_task: str | None = None) -> None:
        """Show ``queue`` filtered by ``search`` in ``sort`` order (loads in the background);
        ``confidence_task``: whose confidence sorts a queue of no task."""
        self.queue, self.search, self.sort = queue, search, sort
        self.confidence_task = confidence_task
        self._generation += 1
        self._stale = False
        self.beginResetModel()
        self._total = 0
        self._pages.clear()
        self._wanted.clear()
        self._in_flight.clear()
        self.endResetModel()
        generation, reader, by = self._generation, self._reader, confidence_task

        def fetch() -> tuple[Stamp, int, list[ItemRow]]:
            with reader.store() as store:
                return read_first(store, queue, search, sort, by)

        self._background.call(fetch, lambda result: self._query_arrived(generation, result),
                              self.failed.emit, key=f"items-query-{id(self)}")

    def _query_arrived(self, generation: int,
                       result: tuple[Stamp, int, list[ItemRow]]) -> None:
        if generation != self._generation:
            return
        self._stamp, size, rows = result
        self._count(rows)
        if size:
            self.beginInsertRows(QModelIndex(), 0, size - 1)
            self._total = size
            self._pages[0] = rows
            self.endInsertRows()
        self.loaded.emit()

    def refresh(self, also: Iterable[int] = ()) -> None:
        """Fetch the size and the pages held again (labels changed, a job ended, another
        window wrote): rows stay where they are unless the queue's size changed. ``also``:
        pages wanted but not held, read in the same pass (else, with another process
        writing all the while, each page read would call for another refresh and the
        page scrolled to would never come).

        Posts that arrived (a watched folder, another process's import) land above the
        focus row in a newest-first order and push it, and the rows around it, down by
        up to as many rows as the queue grew: those rows are read too (at most
        :data:`FOLLOW_ROWS`), or the current item, the one a J went on from and the
        selection would not be among the rows held, and the list would put the analyst
        on another item. Of those pages, only the ones now holding an item held within
        a page of the focus row are kept (else each refresh added pages to read again
        at the next)."""
        self._generation += 1
        self._stale = False  # what is read from here on includes every change so far
        self._in_flight.clear()
        generation, reader = self._generation, self._reader
        queue, search, sort, by = self.queue, self.search, self.sort, self.confidence_task
        held, focus, total = {*self._pages, *also}, self.focus_row, self._total
        near = {r.id for n in range(focus - PAGE, focus + PAGE + 1)
                if (r := self._held(n)) is not None} if focus >= 0 else set()

        def fetch() -> tuple[Stamp, int, dict[int, list[ItemRow]]]:
            with reader.store() as store:
                return read_refresh(store, queue, search, sort, by, held=held,
                                    focus=focus, total=total, near=near)

        self._background.call(fetch, lambda result: self._refresh_arrived(generation, result),
                              self.failed.emit, key=f"items-query-{id(self)}")

    def _refresh_arrived(self, generation: int,
                         result: tuple[Stamp, int, dict[int, list[ItemRow]]]
                         ) -> None:
        if generation != self._generation:
            return
        self.about_to_refresh.emit()
        self._stamp, size, pages = result
        for rows in pages.values():
            self._count(rows)
        if size != self._total:
            self.beginResetModel()
            self._total = size
            self._pages = self._trimmed(pages)
            self.endResetModel()
        else:
            self._pages = self._trimmed(pages)
            if size:
                self.dataChanged.emit(self.index(0), self.index(size - 1))
        self.refreshed.emit()

    def refresh_items(self, item_ids: Iterable[int]) -> None:
        """Fetch the rows of these items again (after a label change) where they are held.

        The pages not held are read again only after a refresh: the change may have taken
        items out of the queue, and the next page read by its offset would then skip as
        many items (and end short, leaving rows "Loading…" for ever)."""
        ids = set(item_ids)
        if not ids:
            return
        self._stale = True
        if len(ids) > 4 * PAGE:
            self.refresh()
            return
        project = self._project

        def fetch() -> dict[int, ItemRow]:
            with project.open_store() as store:
                return {i: review.item_detail(store, i).row for i in ids}

        self._background.call(fetch, self._rows_arrived, self.failed.emit)

    def _rows_arrived(self, rows: dict[int, ItemRow]) -> None:
        for page, held in self._pages.items():
            for n, row in enumerate(held):
                if row.id in rows:
                    held[n] = rows[row.id]
                    index = self.index(page * PAGE + n)
                    self.dataChanged.emit(index, index)

    def _page_read(self, page: int) -> Callable[[], tuple[Stamp, list[ItemRow]]]:
        """The read of ``page`` of the query shown now, for a pool thread (see
        :mod:`~crisisdesk.gui.item_pages`)."""
        reader, queue, search, sort = self._reader, self.queue, self.search, self.sort
        by = self.confidence_task

        def fetch() -> tuple[Stamp, list[ItemRow]]:
            with reader.store() as store:
                return read_page(store, queue, page, search, sort, by)

        return fetch

    # ------------------------------------------------------------------ Qt model
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return self._value(index, role)

    def _value(self, index: Index, role: int) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._total:
            return None
        row = self.row_at(index.row(), fetch=True)
        if role == ROW_ROLE:
            return row
        if row is None:
            return "Loading…" if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        shown = bool(row.image_path) and row.media_status == "ok"
        if role == Qt.ItemDataRole.ToolTipRole:
            why = list_image_note(row.media_status, row.image_path, row.media_reason,
                                  self._failed(row, shown), self._project.root)
            return f"{shown_uid(row.uid)}\n{row.text[:500]}" + (f"\n\n{why}" if why else "")
        if role == BLURRED_ROLE:
            return shown and self.blur.rule.hides(row.sensitive)
        if role == Qt.ItemDataRole.AccessibleTextRole:  # the painted chips, for a reader
            # The tile's "unreadable" too: a row whose thumbnail failed said "Image".
            return row_in_words(row, blurred=shown and self.blur.rule.hides(row.sensitive),
                                failed=self._failed(row, shown))
        if role == Qt.ItemDataRole.DecorationRole and shown:
            assert row.image_path is not None
            return self._thumbnails.get(row.image_path, self.blur.rule.hides(row.sensitive))
        return None

    def _failed(self, row: ItemRow, shown: bool) -> bool:
        """Whether ``row``'s image, read at import (``shown``), could not be decoded now."""
        return shown and self._thumbnails.failed(str(row.image_path),
                                                 self.blur.rule.hides(row.sensitive))

    @property
    def versions(self) -> str | None:
        """The model versions and predictions the rows held were read under, as
        ``review.queue_stamp`` says them (None: none read yet, or a queue that does not
        depend on them): a selection's rows not read are found by their offsets in that
        order."""
        if self._stamp is None or not review.reads_predictions(self.queue, self.sort):
            return None
        return self._stamp[2]

    def _blur_changed(self, _before: BlurRule, _after: BlurRule) -> None:
        """Blur or unblur the rows held at once, as the saved settings say."""
        if self._total:
            self.dataChanged.emit(self.index(0), self.index(self._total - 1),
                                  [Qt.ItemDataRole.DecorationRole, BLURRED_ROLE])

    def _thumbnail_ready(self, path: str) -> None:
        for page, held in self._pages.items():
            for n, row in enumerate(held):
                if row.image_path == path:
                    index = self.index(page * PAGE + n)
                    self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
