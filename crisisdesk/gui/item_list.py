"""The item list: a one-column view over :class:`ItemModel` with a painted row per item.

Each row shows the thumbnail (or a "text" / "missing" tile; blurred, with a "sensitive"
mark, for a post marked sensitive), two lines of the post's text, and one chip per task:
the current label when there is one, else the prediction with its confidence.

It is a one-column QTableView with hidden headers, whose rows are the vertical header's
fixed-height sections: that lays out 100,000 rows without a call into the model per row,
and repaints only the rows that changed. Measured with 100,000 rows: a QListView lays
every row out again on each ``dataChanged`` (200,000 calls of the model's Python
``rowCount``, ~0.2 s of frozen UI per arriving page or thumbnail); a QTreeView, even with
uniform row heights, builds a record per row after each reset or insert, asking the
model for each row's index (100,000 ``rowCount`` calls, 80-180 ms of frozen UI at every
sort switch, search or queue change, ~0.5 s at 300,000 rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionFocusRect,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QWidget,
)

from crisisdesk.core.review import ItemRow
from crisisdesk.gui import style
from crisisdesk.gui.chips import (
    chips_in_words,
    lay_out_chips,
    left_out_in_words,
    paint_chips,
)
from crisisdesk.gui.item_model import BLURRED_ROLE, ROW_ROLE
from crisisdesk.gui.thumbnails import ThumbnailCache

class ItemDelegate(QStyledItemDelegate):
    """Paints one item row; sizes are fixed so painting never waits for data."""

    def __init__(self, parent: QWidget | None = None, *,
                 failed: Callable[[str, bool], bool] | None = None) -> None:
        """``failed(path, blurred)``: whether that thumbnail was tried and could not be
        decoded (the row then says so instead of waiting for it)."""
        super().__init__(parent)
        self._failed = failed

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(320, style.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        self._paint_row(painter, option, index)
        if option.state & QStyle.StateFlag.State_HasFocus:  # type: ignore[attr-defined]
            _paint_focus(painter, option)

    def _paint_row(self, painter: QPainter, option: QStyleOptionViewItem,
                   index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        rect = option.rect  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        if selected:
            painter.fillRect(rect, QColor(style.ACCENT_SOFT))
        painter.setPen(QColor("#eceff3"))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        thumb = QRect(rect.left() + 6, rect.top() + 6, style.THUMB_SIZE, style.THUMB_SIZE)
        row: ItemRow | None = index.data(ROW_ROLE)
        font = option.font  # type: ignore[attr-defined]
        text_rect = _text_rect(rect)
        if row is None:
            painter.fillRect(thumb, QColor("#f1f3f6"))
            painter.setPen(QColor(style.MUTED))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, "Loading…")
            painter.restore()
            return
        self._paint_thumb(painter, thumb, row, index)
        metrics = QFontMetrics(font)
        line = metrics.height()
        painter.setPen(QColor("#111827"))
        text = " ".join(row.text.split()) or "(no text)"
        # Two lines of text: cut where the first line ends, elide the second.
        cut = _fit(metrics, text, text_rect.width())
        first, rest = text[:cut], text[cut:].lstrip()
        painter.drawText(QRect(text_rect.left(), text_rect.top(), text_rect.width(), line),
                         Qt.AlignmentFlag.AlignLeft, first)
        if rest:
            painter.drawText(QRect(text_rect.left(), text_rect.top() + line, text_rect.width(),
                                   line), Qt.AlignmentFlag.AlignLeft,
                             metrics.elidedText(rest, Qt.TextElideMode.ElideRight,
                                                text_rect.width()))
        paint_chips(painter, row, *_chips_place(text_rect, font), font,
                    _list_task(index.model()))
        painter.restore()

    def _paint_thumb(self, painter: QPainter, thumb: QRect, row: ItemRow,
                     index: QModelIndex | QPersistentModelIndex) -> None:
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is not None and not pixmap.isNull():
            source, target = thumb_rects(pixmap.size(), thumb)
            painter.drawPixmap(target, pixmap, source)
            if row.sensitive and index.data(BLURRED_ROLE):
                self._paint_sensitive_mark(painter, thumb)
            return
        painter.fillRect(thumb, QColor("#f1f3f6"))
        painter.setPen(QColor(style.MUTED))
        if row.image_path is None:
            word = "text"
        elif row.media_status != "ok":
            word = row.media_status or "missing"
        elif self._failed is not None and self._failed(row.image_path,
                                                       bool(index.data(BLURRED_ROLE))):
            # A file deleted, moved or damaged since the import: "…" read as still loading.
            word = "unreadable"
        else:
            word = "…"
        painter.save()  # the row's text is drawn in the row's font after this
        width = painter.fontMetrics().horizontalAdvance(word)
        if width > thumb.width() - 4:  # "unreadable" ran past the tile, cut on both sides
            small = painter.font()
            small.setPointSizeF(small.pointSizeF() * (thumb.width() - 4) / width)
            painter.setFont(small)
        painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter, word)
        painter.restore()

    @staticmethod
    def _paint_sensitive_mark(painter: QPainter, thumb: QRect) -> None:
        """A small "sensitive" tag along the bottom of a blurred thumbnail."""
        painter.save()  # the row's text is drawn in the row's font after this
        small = painter.font()
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.75))
        painter.setFont(small)
        height = QFontMetrics(small).height() + 2
        tag = QRect(thumb.left(), thumb.bottom() - height + 1, thumb.width(), height)
        painter.fillRect(tag, QColor(17, 24, 39, 200))
        painter.setPen(QColor("white"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, "sensitive")
        painter.restore()

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView,  # noqa: N802
                  option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        """The row's tooltip (its id and text) and its chips in words: they shorten the
        task ("hum") and tell a label from a prediction by colour alone; and what the
        "+N" after them means, where the row shows one."""
        row = index.data(ROW_ROLE)
        if event.type() == QEvent.Type.ToolTip and isinstance(row, ItemRow):
            font, rect = option.font, option.rect  # type: ignore[attr-defined]
            _, left_out = lay_out_chips(row, *_chips_place(_text_rect(rect), font), font,
                                        _list_task(index.model()))
            more = f"\n{left_out_in_words(left_out)}" if left_out else ""
            QToolTip.showText(event.globalPos(), f"{index.data(Qt.ItemDataRole.ToolTipRole)}"
                              f"\n\n{chips_in_words(row)}{more}", view)
            return True
        return super().helpEvent(event, view, option, index)


def _text_rect(rect: QRect) -> QRect:
    """Where a row drawn in ``rect`` puts its text and chips: right of the thumbnail."""
    left = rect.left() + 6 + style.THUMB_SIZE - 1 + 10  # the thumbnail's right edge + 10
    return QRect(left, rect.top() + 5, rect.right() - left - 6, rect.height() - 10)


def _chips_place(text_rect: QRect, font: QFont) -> tuple[int, int, int]:
    """The left, top and right of a row's chips: under its two lines of text."""
    return (text_rect.left(), text_rect.top() + 2 * QFontMetrics(font).height() + 4,
            text_rect.right())


def _paint_focus(painter: QPainter, option: QStyleOptionViewItem) -> None:
    """The keyboard focus frame over the current row, as QTreeView drew it: a QTableView
    leaves it to the delegate, and without it the row the keys act on looked like any
    other selected row."""
    frame = QStyleOptionFocusRect()
    frame.rect = option.rect  # type: ignore[attr-defined]
    frame.palette = option.palette  # type: ignore[attr-defined]
    frame.fontMetrics = option.fontMetrics  # type: ignore[attr-defined]
    frame.state = option.state | QStyle.StateFlag.State_KeyboardFocusChange  # type: ignore[attr-defined]
    selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
    frame.backgroundColor = option.palette.color(  # type: ignore[attr-defined]
        QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Window)
    widget = option.widget  # type: ignore[attr-defined]
    (widget.style() if widget is not None else QApplication.style()).drawPrimitive(
        QStyle.PrimitiveElement.PE_FrameFocusRect, frame, painter, widget)


def _list_task(model: object) -> str | None:
    """The task the item list is about: its queue's, else the one whose confidence
    sorts it (None: no task, as in "All items" by priority)."""
    queue = getattr(model, "queue", None)
    if queue is not None and queue.task:
        return queue.task
    if getattr(model, "sort", None) == "confidence":
        return getattr(model, "confidence_task", None)
    return None


def thumb_rects(image: QSize, tile: QRect) -> tuple[QRect, QRect]:
    """Which part of a thumbnail of size ``image`` to draw (source) and where in ``tile``
    (target): all of it, fitted with its aspect ratio kept, unless that leaves it less
    than a quarter of the tile on a side; then the middle of the picture, as a strip of
    that quarter (a 10000 x 200 panorama fitted whole was a line 1 pixel high)."""
    least = max(1, min(tile.width(), tile.height()) // 4)
    fitted = image.scaled(tile.size(), Qt.AspectRatioMode.KeepAspectRatio)
    source = QRect(0, 0, image.width(), image.height())
    if fitted.height() < least:  # wide: cut its sides off
        fitted = QSize(tile.width(), least)
        source.setWidth(max(1, round(image.height() * tile.width() / least)))
    elif fitted.width() < least:  # tall: cut its top and bottom off
        fitted = QSize(least, tile.height())
        source.setHeight(max(1, round(image.width() * tile.height() / least)))
    source.moveCenter(QRect(QPoint(0, 0), image).center())
    target = QRect(QPoint(0, 0), fitted)
    target.moveCenter(tile.center())
    return source, target


def _fit(metrics: QFontMetrics, text: str, width: int) -> int:
    """How many characters of ``text`` fit on one line, cut at a space where possible."""
    if metrics.horizontalAdvance(text) <= width:
        return len(text)
    lo, hi = 0, len(text)
    while lo < hi:  # binary search: a full scan per row per paint would cost
        mid = (lo + hi + 1) // 2
        if metrics.horizontalAdvance(text[:mid]) <= width:
            lo = mid
        else:
            hi = mid - 1
    space = text.rfind(" ", 0, lo)
    return space if space > lo // 2 else lo


@dataclass(frozen=True)
class Place:
    """Where the analyst is in the list just before a refresh replaces its rows: what is
    found again by item, not by row number, once the new rows are in (posts arriving
    above push every row down)."""

    row: int = -1  # the current row (-1: none)
    scroll: int = 0  # the vertical scroll bar's value
    selected: tuple[int, ...] = ()  # items of a selection of several rows, where held
    unread: int = 0  # selected rows not read ("Loading…", Ctrl+A): not found again
    #: For a current row still loading: a held neighbour's item and how far the current
    #: row is from it (J onto a page not read yet, as posts arrived above it, showed the
    #: item J had left again).
    beside: tuple[int, int] | None = None


class ItemList(QTableView):
    """The centre list: fixed-height rows, several may be selected (Shift/Ctrl-click)."""

    def __init__(self, parent: QWidget | None = None, *,
                 thumbnails: ThumbnailCache | None = None) -> None:
        """``thumbnails``: the cache the model's thumbnails come from (to tell a thumbnail
        that failed from one on its way)."""
        super().__init__(parent)
        self.setObjectName("itemList")
        rows, columns = self.verticalHeader(), self.horizontalHeader()
        rows.hide()
        columns.hide()
        # Rows of one fixed height: never asked of the delegate, row by row.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setMinimumSectionSize(1)
        rows.setDefaultSectionSize(style.ROW_HEIGHT)
        columns.setStretchLastSection(True)  # the one column is as wide as the list
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setTabKeyNavigation(False)  # Tab is the labelling keys' (next task)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(ItemDelegate(
            self, failed=thumbnails.failed if thumbnails is not None else None))
        self.setMouseTracking(False)
        self.setMinimumWidth(300)
        self._empty_text = ""

    def set_empty_text(self, text: str) -> None:
        """What the list says while it has no rows ("" while the query runs): a blank
        panel left the analyst guessing whether it was still loading, or what to do."""
        self._empty_text = text
        self.viewport().update()

    def empty_text(self) -> str:
        """The line shown while the list has no rows."""
        return self._empty_text

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        model = self.model()
        if self._empty_text and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            painter.setPen(QColor(style.MUTED))
            painter.drawText(self.viewport().rect().adjusted(16, 16, -16, -16),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._empty_text)
            painter.end()

    def note_place(self) -> Place:
        """The current row, the scroll and the selection, before a refresh."""
        model = self.model()
        # By ranges, not selectedRows(): after Ctrl+A that is an index per row of the
        # queue, built on the UI thread at every refresh.
        ranges = [(r.top(), r.bottom()) for r in self.selectionModel().selection()]
        several = sum(last - first + 1 for first, last in ranges) > 1
        held = [r.id for first, last in ranges
                for r in model.held_in(first, last)] if several else []  # type: ignore[attr-defined]
        at, total = self.currentIndex().row(), model.rowCount()
        beside = next(((near.id, at - n) for n in (at - 1, at + 1) if at >= 0 and 0 <= n < total
                       and self._row(at) is None and (near := self._row(n)) is not None), None)
        unread = sum(last - first + 1 for first, last in ranges) - len(held) if several else 0
        return Place(at, self.verticalScrollBar().value(), tuple(held), unread, beside)

    def keep_place(self, place: Place, row: int) -> bool:
        """After a refresh that found the current item (or the one to go on to) at
        ``row``: scroll by as many rows as it moved, so the rows on screen stay where the
        analyst had them (else each post arriving above scrolled the list back to the
        current item, or shifted it under the analyst's eyes), and select again the
        selected items still listed (the refresh had left the current row alone selected,
        and a label then went to it alone); those that left the queue are not. A selection
        with rows not read is left to the current row (a part of it would be labelled as
        if it were all): False when that cleared it."""
        model = self.model()
        if place.selected and not place.unread:
            selection = QItemSelection()
            rows = model.rows_of(set(place.selected))  # type: ignore[attr-defined]
            for at in sorted(rows.values()):
                selection.select(model.index(at, 0), model.index(at, 0))
            self.selectionModel().select(
                selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        if place.row >= 0:
            self.verticalScrollBar().setValue(
                place.scroll + (row - place.row) * self.rowHeight(row))
        # Left as it was (the rows did not move: no reset) it still holds them all.
        return not place.unread or sum(r.height() for r in self.selectionModel().selection()) > 1

    def moveCursor(self, action: QAbstractItemView.CursorAction,  # noqa: N802 - Qt's name
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        """Home and End go to the first and last item, as in the tree view the list was
        (a table's go to the row's first and last column: here, nowhere)."""
        if action in (QAbstractItemView.CursorAction.MoveHome,
                      QAbstractItemView.CursorAction.MoveEnd):
            modifiers |= Qt.KeyboardModifier.ControlModifier
        return super().moveCursor(action, modifiers)

    def _row(self, row: int) -> ItemRow | None:
        return self.model().row_at(row)  # type: ignore[attr-defined]

    def keyboardSearch(self, search: str) -> None:  # noqa: N802 - Qt's name
        """No type-ahead: the list holds only the pages painted, so Qt's search matched
        the "Loading…" placeholder of the first page not read ("l" jumped there) and
        asked every row of the queue on the UI thread. The search box finds items."""

