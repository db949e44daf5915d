"""Two small charts of the retrain report, painted with QPainter (no chart library).

* :class:`F1Bars`: per-class F1 of the new and the active model version, side by side.
* :class:`ConfusionGrid`: a confusion matrix as a heat grid, the count in each cell.

F1 is given in percent, as the report's headline gives macro F1 (``f1_text``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from crisisdesk.core.schemes import display_name
from crisisdesk.gui.dialogs.retrain_headline import f1_text

NEW_COLOUR = QColor("#2563eb")  # the new version: the accent blue
ACTIVE_COLOUR = QColor("#9ca3af")  # the active version: a quiet grey
TEXT = QColor("#1f2937")
GRID = QColor("#e5e7eb")


_WRAP = Qt.TextFlag.TextWordWrap


def _draw_name(painter: QPainter, rect: QRectF, name: str, align: Qt.AlignmentFlag) -> None:
    """A class's name in ``rect``, wrapped at its words where it is too wide (at a large
    font "affected individu…" was all a row said); cut short only where even wrapped it
    does not fit."""
    shown, metrics = display_name(name), painter.fontMetrics()
    needed = metrics.boundingRect(rect.toRect(), int(_WRAP | align), shown)
    if needed.width() > rect.width() or needed.height() > rect.height():
        shown = metrics.elidedText(shown, Qt.TextElideMode.ElideRight, int(rect.width()))
    painter.drawText(rect, _WRAP | align, shown)


def _two_lines(metrics: QFontMetrics) -> int:
    """The height of a row that holds a name wrapped onto two lines."""
    return 2 * metrics.lineSpacing() + 4


class F1Bars(QWidget):
    """Horizontal bars: one class a row, the new version's F1 over the active one's."""

    ROW = 38
    LABEL_W = 170

    def __init__(self, classes: Sequence[str], new: Sequence[float],
                 active: Sequence[float] | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classes, self.new = list(classes), list(new)
        self.active = list(active) if active is not None else None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())
        # The figures are painted: a screen reader reads them from here.
        self.setAccessibleName("F1 per class")
        self.setAccessibleDescription("\n".join(
            f"{display_name(name)}: new {f1_text(self.new[i])}"
            + (f", active {f1_text(self.active[i])}" if self.active is not None
               else ", no active version yet")
            for i, name in enumerate(self.classes)))

    def _rows(self) -> tuple[int, int]:
        """(the top of the first class row, under the legend; a class row's height):
        both grow with the font, as the names and figures in them do."""
        metrics = QFontMetrics(self.font())
        return max(22, metrics.height() + 6), max(self.ROW, _two_lines(metrics))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        top, row_h = self._rows()
        return QSize(420, top + 6 + row_h * len(self.classes))

    def _label_w(self, metrics: QFontMetrics) -> int:
        """The width of the class names: the longest, up to two fifths of the chart (a
        fixed 170 pixels cut them at a large font); a longer name wraps."""
        longest = max((metrics.horizontalAdvance(display_name(c)) for c in self.classes),
                      default=0) + 8
        return min(longest, max(self.LABEL_W, self.width() * 2 // 5), self.width() // 2)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        label_w = self._label_w(metrics)
        top, row_h = self._rows()
        value_w = metrics.horizontalAdvance(f1_text(1.0)) + 8  # the widest figure
        left, right = label_w + 8, self.width() - value_w - 4
        span = max(20, right - left)
        # Legend on top.
        y = 4
        painter.setPen(TEXT)
        x = left
        for colour, name in ((NEW_COLOUR, "new"), (ACTIVE_COLOUR, "active")):
            if name == "active" and self.active is None:
                name = "active: none yet"
            painter.fillRect(QRectF(x, y + 3, 10, 10), colour)
            painter.drawText(int(x + 14), int(y + metrics.ascent()), name)
            x += 24 + metrics.horizontalAdvance(name)
        # Grid lines at 25% steps so bar lengths can be read.
        painter.setPen(QPen(GRID, 1))
        for step in range(5):
            gx = left + span * step / 4
            painter.drawLine(int(gx), top, int(gx), top + row_h * len(self.classes))
        bar_h = (row_h - 8) / 2
        for row, name in enumerate(self.classes):
            ry = top + row * row_h
            painter.setPen(TEXT)
            _draw_name(painter, QRectF(0, ry, label_w, row_h), name,
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bars = [(NEW_COLOUR, self.new[row])]
            if self.active is not None:
                bars.append((ACTIVE_COLOUR, self.active[row]))
            for i, (colour, value) in enumerate(bars):
                by = ry + 3 + i * bar_h
                painter.fillRect(QRectF(left, by, span * max(0.0, min(1.0, value)), bar_h - 1),
                                 colour)
                painter.setPen(TEXT)
                painter.drawText(QRectF(right + 4, by - 2, value_w, bar_h + 3),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f1_text(value))
        painter.end()


class ConfusionGrid(QWidget):
    """A confusion matrix (rows: true class, columns: predicted), darker = more items;
    the diagonal (right) in blue, the mistakes in red."""

    CELL = 44

    def __init__(self, title: str, classes: Sequence[str], matrix: Sequence[Sequence[int]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.classes = title, list(classes)
        self.matrix = [list(map(int, row)) for row in matrix]
        self.setMinimumSize(self.sizeHint())
        # The counts are painted: a screen reader reads them from here, a row a line.
        self.setAccessibleName(f"{title}: confusion matrix")
        self.setAccessibleDescription("\n".join(
            f"true {display_name(true)}: " + ", ".join(
                f"{count} predicted {display_name(predicted)}"
                for predicted, count in zip(self.classes, row, strict=False))
            for true, row in zip(self.classes, self.matrix, strict=False)))

    def _key_w(self, metrics: QFontMetrics) -> int:
        """The width of the number a row and its column share (see paintEvent)."""
        return metrics.horizontalAdvance(str(len(self.classes))) + 6

    def _label_w(self) -> int:
        """The width left of the cells: the rows' names and their numbers, at most ten
        lines' height (150 pixels at the usual font, room for two grids side by side):
        a longer name wraps onto a second line (a fixed 150 cut them at a large font)."""
        metrics = QFontMetrics(self.font())
        return min(max(150, 10 * metrics.height()),
                   max((metrics.horizontalAdvance(display_name(c))
                        for c in self.classes), default=40) + 12 + self._key_w(metrics))

    def _cells(self) -> tuple[int, int, int]:
        """(the title's height, the top of the first row under the column heads, a
        cell's side): all grow with the font, a cell to hold a name on two lines."""
        bold = QFont(self.font())
        bold.setBold(True)
        metrics = QFontMetrics(self.font())
        title_h = max(18, QFontMetrics(bold).height())
        return title_h, title_h + max(24, metrics.height() + 8), \
            max(self.CELL, _two_lines(metrics))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        k = len(self.classes)
        bold = QFont(self.font())
        bold.setBold(True)
        # As wide as its title too: two classes at a large font cut "Active version".
        title_w = QFontMetrics(bold).horizontalAdvance(self.title) + 4
        _, top, cell = self._cells()
        return QSize(max(self._label_w() + cell * k + 12, title_w), top + 14 + cell * k)

    def _count(self, row: int, column: int) -> int:
        """The items labelled the ``row`` class and predicted the ``column`` one (0 past
        a short matrix's edge)."""
        cells = self.matrix[row] if row < len(self.matrix) else []
        return cells[column] if column < len(cells) else 0

    def _tip(self, pos: QPoint) -> str:
        """What the mouse at ``pos`` points at, in words: a column head's class, or a
        cell's count with its two classes ("" elsewhere: the grid's own tooltip)."""
        _, top, cell = self._cells()
        k, label_w = len(self.classes), self._label_w()
        column = (pos.x() - label_w) // cell if pos.x() >= label_w else k
        row = (pos.y() - top) // cell if pos.y() >= top else -1
        if column >= k or row >= k:
            return ""
        predicted = display_name(self.classes[column])
        if row < 0:
            return f"Column {column + 1}: predicted {predicted}"
        return (f"{self._count(row, column)} labelled {display_name(self.classes[row])}, "
                f"predicted {predicted}")

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tip = self._tip(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
                return True
        return super().event(event)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        title_h, top, cell = self._cells()
        k, label_w = len(self.classes), self._label_w()
        key_w = self._key_w(metrics)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(TEXT)
        title = QFontMetrics(bold).elidedText(self.title, Qt.TextElideMode.ElideRight,
                                              self.width())
        painter.drawText(QRectF(0, 0, self.width(), title_h), Qt.AlignmentFlag.AlignLeft,
                         title)
        painter.setFont(self.font())
        head_h = metrics.height()  # the column heads (the predicted classes), above top
        # Column heads: the number of the row of the same class. A cell holds no name:
        # the first word cut to fit ("aff…", two "infra…") said none; the mouse on a
        # head names it in full (_tip).
        for c in range(k):
            painter.drawText(QRectF(label_w + c * cell, top - head_h - 3, cell - 2, head_h),
                             Qt.AlignmentFlag.AlignCenter, str(c + 1))
        peak = max((v for row in self.matrix for v in row), default=0) or 1
        for r in range(k):
            painter.setPen(TEXT)
            _draw_name(painter, QRectF(0, top + r * cell, label_w - key_w - 8, cell),
                       self.classes[r],
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            painter.drawText(QRectF(label_w - key_w - 4, top + r * cell, key_w, cell - 2),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             str(r + 1))
            for c in range(k):
                value = self._count(r, c)
                share = value / peak
                # Correct predictions (the diagonal) in blue, mistakes in red.
                base = QColor("#2563eb") if r == c else QColor("#dc2626")
                fill = QColor(base)
                fill.setAlphaF(0.08 + 0.82 * share if value else 0.0)
                rect = QRectF(label_w + c * cell, top + r * cell, cell - 2, cell - 2)
                painter.fillRect(rect, QColor("#f9fafb"))
                painter.fillRect(rect, fill)
                painter.setPen(QColor("white") if share > 0.55 else TEXT)
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(value))
        painter.end()
