"""The detail panel's image: fitted to the panel, zoomed with the wheel or +/-.

Also draws the placeholders a reviewer must be able to tell apart: a text-only item, an
image that is missing or unreadable, and an image still being decoded; and, when the
attention overlay is on, the heat map over the image with the margins the model never
saw greyed out. A hidden (blurred) image carries a veil: a note over it saying why and
how to see it; a click asks to see it, and no heat map is drawn over it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
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
from PySide6.QtWidgets import QSizePolicy, QWidget

from crisisdesk.gui import style
from crisisdesk.gui.overlay_draw import UNSEEN

ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
#: "Fit" enlarges a small image at most this much: a 16 px emoji fitted to the panel was
#: a blur of squares ~20 times its size (the wheel still zooms in further).
MAX_UPSCALE = 4.0
TOOLTIP = "Wheel or +/- to zoom, 0 to fit"


class ImageView(QWidget):
    """Shows one pixmap fitted to the widget, or zoomed around the centre."""

    clicked = Signal()  # a left click on the image (a veiled one is then shown)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._veil: str | None = None
        self._message = "No item selected"
        self._zoom = 1.0  # relative to "fit"
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
        self._pixmap, self._zoom, self._veil = pixmap, 1.0, veil
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
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        size = self._pixmap.size().toSizeF()
        fit = min(area.width() / size.width(), area.height() / size.height(), MAX_UPSCALE)
        scale = fit * self._zoom
        target = QRectF(0, 0, size.width() * scale, size.height() * scale)
        target.moveCenter(QPointF(area.center()))
        return target

    def set_message(self, message: str) -> None:
        """Show a placeholder instead of an image (text-only, missing, loading)."""
        self._pixmap, self._message, self._zoom, self._veil = None, message, 1.0, None
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

    @property
    def message(self) -> str:
        return "" if self._pixmap is not None else self._message

    def zoom_in(self) -> None:
        self._set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._zoom / ZOOM_STEP)

    def fit(self) -> None:
        self._set_zoom(1.0)

    def _set_zoom(self, zoom: float) -> None:
        if self._pixmap is None:
            return
        self._zoom = min(MAX_ZOOM, max(1.0, zoom))
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        self._say_size()  # an image small in a narrow panel may be small no more
        super().resizeEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._pixmap is not None:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self._pixmap is None:
            event.ignore()
            return
        (self.zoom_in if event.angleDelta().y() > 0 else self.zoom_out)()
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
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
            self._paint_veil(painter, target)
        elif self._heat is not None and not self._heat.isNull():
            self._paint_overlay(painter, target)

    def _paint_veil(self, painter: QPainter, target: QRectF) -> None:
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
