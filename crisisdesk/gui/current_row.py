"""The item list's current row: the item the detail panel shows, and keeping it.

The detail panel follows the current row (a row whose page is still on its way is shown
once it arrives). A new query makes its first row current. A refresh (labels given, F5,
a job's end) may reorder or shrink the list: the item shown stays current where it still
is; if it left the queue, the first item after it that is still there becomes current
(not the first of the list); and the list's scroll and selection are found again.

:class:`CurrentRow` is a part of :class:`~crisisdesk.gui.main_window.MainWindow` (mixed
in), kept here so that the window's module stays a readable size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt

from crisisdesk.core.review import ItemRow
from crisisdesk.gui.item_list import ItemList, Place
from crisisdesk.gui.item_model import PAGE, ItemModel

if TYPE_CHECKING:
    from crisisdesk.gui.detail_panel import DetailPanel


class CurrentRow:
    """Which row of the item list is current, kept across refreshes (mixed into the main
    window, whose ``items``, ``model``, ``detail``, status bar and ``_update_title`` it
    uses)."""

    items: ItemList
    model: ItemModel
    detail: DetailPanel
    _update_title: Callable[[], None]

    def _init_current_row(self) -> None:
        """Follow the list's loads, refreshes and current row."""
        self.model.loaded.connect(self._list_loaded)
        self.model.refreshed.connect(self._list_refreshed)
        # A refresh that changes the queue's size resets the list and loses the current
        # row: what followed it is noted first, so the item after a labelled one that
        # left the queue becomes current (not the first of the list).
        self._followers: list[int] = []
        self._row_before_reset = 0
        self._loading_before_reset = False
        self._total_before_reset = 0
        self._place = Place()  # the current item, scroll and selection, found again
        self.model.about_to_refresh.connect(self._note_current)
        self.items.selectionModel().currentChanged.connect(self._current_changed)
        self._awaiting_row = False  # a retry of the current row waits for its page

    def _list_loaded(self) -> None:
        self._update_title()
        self._followers = []  # noted at the new query's reset: rows of the old one
        if self.model.total:
            self.items.setCurrentIndex(self.model.index(0))
        else:
            self.detail.clear()

    def _note_current(self) -> None:
        """Before a refresh's rows replace those held: the current row number, the items
        held from it on, and the list's place (scroll, selection)."""
        row = self.items.currentIndex().row()
        self._row_before_reset = max(row, 0)
        self._loading_before_reset = row >= 0 and self.model.row_at(row) is None
        self._total_before_reset = self.model.total
        self._place = self.items.note_place()
        self._followers = [] if row < 0 else [
            r.id for n in range(row, min(row + PAGE, self.model.total))
            if (r := self.model.row_at(n)) is not None]

    def _list_refreshed(self) -> None:
        self._update_title()
        at = self.items.currentIndex()
        loading = (self.model.row_at(at.row()) is None if at.isValid()
                   else self._loading_before_reset)
        self._loading_before_reset = False
        # The current row still loading is where the analyst went (a click after a scroll,
        # End): the detail panel shows the item before it until its page comes, and
        # following that item pulled the list back there.
        item = None if loading else self.detail.item_id
        row = self.model.row_of(item) if item is not None else None
        if row is None and loading and (beside := self._place.beside) is not None:
            near = self.model.row_of(beside[0])  # the row the analyst went to: beside it
            row = near + beside[1] if near is not None else None
            row = row if row is not None and 0 <= row < self.model.total else None
        if row is None:
            # The shown item left the queue: the first held item after it that is still
            # in it (labelled items leave "Unlabelled" at the refresh after their label).
            row = next((r for r in map(self.model.row_of, self._followers) if r is not None),
                       None)
        self._followers = []
        if row is not None:
            current = self.items.currentIndex()
            if current.row() != row:
                self.items.selectionModel().setCurrentIndex(
                    self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if not self.items.keep_place(self._place, row):
                self.statusBar().showMessage("The list changed: select the items again (the "
                                             "selection held rows not read yet)", 15000)
        elif self.model.total:
            current = self.items.currentIndex().row()
            if current < 0:
                # Neither the current item nor one after it was held (the list moved onto
                # a page not read yet): take the items that left as having been above it,
                # as when labelled ones leave "Unlabelled" (keeping the row number, with
                # 64 labelled items gone, skipped 64 items).
                gone = max(self._total_before_reset - self.model.total, 0)
                current = max(self._row_before_reset - gone, 0)
            current = min(current, self.model.total - 1)
            self.items.setCurrentIndex(self.model.index(current))
        self.detail.reload()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.model.focus_row = current.row()
        row = self.model.row_at(current.row()) if current.isValid() else None
        if row is not None:
            self.detail.show_item(row.id)
        elif current.isValid() and not self._awaiting_row:
            # The page is still on its way: show the item once its row arrives. One wait
            # at most: each row passed on the way (J held down) added one more.
            self._awaiting_row = True
            self.model.dataChanged.connect(self._retry_current,
                                           Qt.ConnectionType.SingleShotConnection)

    def _retry_current(self, *_args: object) -> None:
        self._awaiting_row = False
        current = self.items.currentIndex()
        if current.isValid():
            self._current_changed(current, current)

    def current_row(self) -> ItemRow | None:
        """The item the detail panel is about."""
        current = self.items.currentIndex()
        return self.model.row_at(current.row()) if current.isValid() else None

    def move(self, step: int) -> None:
        """Go to the next (1) or previous (-1) item; the selection follows."""
        total = self.model.total
        if not total:
            return
        current = self.items.currentIndex().row()
        row = min(max(current + step, 0), total - 1) if current >= 0 else 0
        self.items.setCurrentIndex(self.model.index(row))
