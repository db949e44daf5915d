"""The detail panel's image: fitted to the panel, zoomed with the wheel (toward the
pointer) or +/- (around the panel's centre), and moved by dragging while zoomed.

Also draws the placeholders a reviewer must be able to tell apart: a text-only item, an
image that is missing or unreadable, and an image still being decoded; and, when the
attention overlay is on, the heat map over the image with the margins the model never
saw greyed out. A hidden (blurred) image carries a veil: a note over it saying why and
how to see it; a click asks to see it, and no heat map is drawn over it.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from crisisdesk.gui import style
from crisisdesk.gui.overlay_draw import UNSEEN

ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
#: "Fit" enlarges a small image at most this much: a 16 px emoji fitted to the panel was
#: a blur of squares ~20 times its size (the wheel still zooms in further).
MAX_UPSCALE = 4.0
TOOLTIP = "Wheel or +/- to zoom, drag to move a zoomed image, 0 to fit"


class ImageView(QWidget):
    """Shows one pixmap fitted to the widget, or zoomed and moved (panned) in it."""

    clicked = Signal()  # a left click on the image (a veiled one is then shown)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._veil: str | None = None
        self._message = "No item selected"
        self._zoom = 1.0  # relative to "fit"
        # How far the image's centre is from the panel's, in widget pixels (kept within
        # _clamped: a zoomed image always covers the panel, a smaller one is centred).
        self._pan = QPointF()
        # While the left button is down: where it went down and the pan then; whether it
        # has moved far enough to be a drag (a release then is no click).
        self._press: tuple[QPointF, QPointF] | None = None
        self._dragged = False
        self._heat: QImage | None = None
        self._crop = (0.0, 0.0, 1.0, 1.0)
        self._opacity = 0.55
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(TOOLTIP)

    @property
    def zoom(self) -> float:
        """The zoom factor over "fit to panel" (1.0 = fit)."""
        return self._zoom

    def has_image(self) -> bool:
        return self._pixmap is not None

    def set_pixmap(self, pixmap: QPixmap, veil: str | None = None) -> None:
        """Show ``pixmap``; ``veil``: it is a blurred stand-in, with this note over it."""
        self._pixmap, self._zoom, self._veil, self._pan = pixmap, 1.0, veil, QPointF()
        self._press = None
        self._update_cursor()
        self._say_size()
        self.update()

    @property
    def pixmap(self) -> QPixmap | None:
        """The pixmap shown (None: a placeholder message)."""
        return self._pixmap

    @property
    def veiled(self) -> bool:
        """Whether the image shown is a blurred stand-in."""
        return self._pixmap is not None and self._veil is not None

    def set_overlay(self, heat: QImage | None, crop: tuple[float, float, float, float]
                    = (0.0, 0.0, 1.0, 1.0)) -> None:
        """Draw ``heat`` (the heat map at the image's aspect ratio, transparent where the
        model never looked) over the image; ``crop`` is the square the model saw, in
        fractions of the image: outside it the image is greyed. None removes it."""
        self._heat, self._crop = heat, crop
        self.update()

    def has_overlay(self) -> bool:
        return self._heat is not None and self._pixmap is not None and not self.veiled

    def set_overlay_opacity(self, opacity: float) -> None:
        self._opacity = min(1.0, max(0.0, opacity))
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn in the widget (empty without an image)."""
        if self._pixmap is None or self._pixmap.isNull():
            return QRectF()
        area = self._area()
        target = QRectF(0, 0, *self._drawn_size(self._zoom))
        # Clamped here too: a panel made larger since the pan may leave less to pan.
        target.moveCenter(area.center() + self._clamped(self._pan, self._zoom))
        return target

    @property
    def pan(self) -> QPointF:
        """How far the image's centre is moved from the panel's, in pixels (0, 0: centred)."""
        if self._pixmap is None or self._pixmap.isNull():
            return QPointF()
        return self._clamped(self._pan, self._zoom)

    def _area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(4, 4, -4, -4)

    def _drawn_size(self, zoom: float) -> tuple[float, float]:
        """The image's width and height on screen at ``zoom`` (needs a pixmap)."""
        assert self._pixmap is not None
        area, size = self._area(), self._pixmap.size().toSizeF()
        fit = min(area.width() / size.width(), area.height() / size.height(), MAX_UPSCALE)
        return size.width() * fit * zoom, size.height() * fit * zoom

    def _clamped(self, pan: QPointF, zoom: float) -> QPointF:
        """``pan`` kept so that the image covers the panel where it is larger than it,
        and centred where it is smaller: it never leaves the panel, nor shows a margin
        that a move the other way would have filled."""
        area = self._area()
        width, height = self._drawn_size(zoom)
        room_x = max(0.0, (width - area.width()) / 2)
        room_y = max(0.0, (height - area.height()) / 2)
        return QPointF(min(room_x, max(-room_x, pan.x())), min(room_y, max(-room_y, pan.y())))

    def set_message(self, message: str) -> None:
        """Show a placeholder instead of an image (text-only, missing, loading)."""
        self._pixmap, self._message, self._zoom, self._veil = None, message, 1.0, None
        self._pan, self._press = QPointF(), None
        self._update_cursor()
        self._say_size()
        self.update()

    def _say_size(self) -> None:
        """Name the image's size in the tooltip while it is too small to fill the panel
        (shown at :data:`MAX_UPSCALE` times its size, it could pass for a picture that
        failed to load). Larger images are decoded scaled: their pixmap's size is not
        the file's, so it is not said."""
        pixmap, area = self._pixmap, QRectF(self.rect()).adjusted(4, 4, -4, -4)
        small = (pixmap is not None and not pixmap.isNull()
                 and min(area.width() / pixmap.width(),
                         area.height() / pixmap.height()) > MAX_UPSCALE)
        self.setToolTip(f"{pixmap.width()} × {pixmap.height()} pixels, shown at most "
                        f"{MAX_UPSCALE:g} times its size\n{TOOLTIP}"
                        if small and pixmap is not None else TOOLTIP)
        # Said to a screen reader: what is drawn instead of an image ("Text-only post",
        # "Image file not found ...") or over it (the veil); it said the zoom keys alone.
        shown = self.toolTip() if self._veil is None else f"{self._veil}\n{self.toolTip()}"
        self.setAccessibleDescription(shown if pixmap is not None else self._message)

    @property
    def message(self) -> str:
        return "" if self._pixmap is not None else self._message

    def zoom_in(self) -> None:
        """Zoom in one step around the panel's centre (the keyboard's +)."""
        self._set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._zoom / ZOOM_STEP)

    def fit(self) -> None:
        """Back to the whole image, centred."""
        self._set_zoom(1.0)
        self._pan = QPointF()

    def _set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the image point under ``anchor`` (widget pixels; None:
        the panel's centre) where it is, as far as the pan's limits allow."""
        if self._pixmap is None or self._pixmap.isNull():
            return
        zoom = min(MAX_ZOOM, max(1.0, zoom))
        area = self._area()
        anchor = area.center() if anchor is None else anchor
        old = self.image_rect()
        ratio = self._drawn_size(zoom)[0] / old.width()
        centre = anchor - (anchor - old.center()) * ratio
        self._zoom, self._pan = zoom, self._clamped(centre - area.center(), zoom)
        self._update_cursor()
        self.update()

    def _update_cursor(self) -> None:
        """An open hand says a zoomed image can be dragged; a closed one, it is."""
        if self._pixmap is None or self._zoom <= 1.0:
            self.unsetCursor()
        else:
            self.setCursor(Qt.CursorShape.ClosedHandCursor if self._dragged
                           else Qt.CursorShape.OpenHandCursor)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        self._say_size()  # an image small in a narrow panel may be small no more
        super().resizeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press, self._dragged = (event.position(), self.pan), False
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or self._pixmap is None or self._zoom <= 1.0:
            super().mouseMoveEvent(event)
            return
        start, pan = self._press
        moved = event.position() - start
        # A hand that shakes a little while clicking is still a click (a veiled image
        # then shows); past the platform's drag distance it is a move.
        if not self._dragged and (QPoint(round(moved.x()), round(moved.y())).manhattanLength()
                                  < QApplication.startDragDistance()):
            return
        self._dragged = True
        self._pan = self._clamped(pan + moved, self._zoom)
        self._update_cursor()
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            dragged, self._press, self._dragged = self._dragged, None, False
            self._update_cursor()
            if self._pixmap is not None and not dragged:
                self.clicked.emit()
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120  # a mouse's notch is 120
        if self._pixmap is None or notches == 0:  # a sideways scroll is no zoom out
            event.ignore()
            return
        # In proportion: a trackpad sends many events of a fraction of a notch each, and
        # a full step for each flung the image to 8x (or back to fit) in one swipe.
        self._set_zoom(self._zoom * ZOOM_STEP ** notches, event.position())  # at the pointer
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        area = self._area()
        painter.fillRect(self.rect(), QColor(style.PANEL_BG))
        if self._pixmap is None or self._pixmap.isNull():
            painter.setPen(QPen(QColor(style.BORDER), 1, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(area, 6, 6)
            painter.setPen(QColor(style.MUTED))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._message)
            return
        target = self.image_rect()
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self._veil is not None:
            # No heat map over a hidden image: the overlay is off until it is shown.
            self._paint_veil(painter, target.intersected(area))  # the part in view
        elif self._heat is not None and not self._heat.isNull():
            self._paint_overlay(painter, target)

    def _paint_veil(self, painter: QPainter, target: QRectF) -> None:
        """The veil's note, in the middle of ``target`` (the image's part in view)."""
        metrics = painter.fontMetrics()
        width = min(target.width() - 16, metrics.horizontalAdvance(self._veil or "") + 28)
        box = QRectF(0, 0, max(width, 120), metrics.height() * 3 + 12)
        box.moveCenter(target.center())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(17, 24, 39, 190))
        painter.drawRoundedRect(box, 8, 8)
        painter.setPen(QColor("white"))
        painter.drawText(box.adjusted(8, 4, -8, -4),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._veil)

    def _paint_overlay(self, painter: QPainter, target: QRectF) -> None:
        painter.setOpacity(self._opacity)
        painter.drawImage(target, self._heat, QRectF(self._heat.rect()))
        painter.setOpacity(1.0)
        x0, y0, x1, y1 = self._crop
        seen = QRectF(target.left() + x0 * target.width(), target.top() + y0 * target.height(),
                      (x1 - x0) * target.width(), (y1 - y0) * target.height())
        seen = seen.intersected(target)
        if seen != target:
            # The margins CLIP's centre crop cut off: never seen, so neither hot nor cold.
            margins = QPainterPath()
            margins.addRect(target)
            inner = QPainterPath()
            inner.addRect(seen)
            painter.fillPath(margins.subtracted(inner), UNSEEN)
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1, Qt.PenStyle.DashLine))
            painter.drawRect(seen)
