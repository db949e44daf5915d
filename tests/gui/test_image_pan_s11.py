"""The detail panel's image viewer: a zoomed image is moved by dragging, the wheel zooms
toward the pointer, a plain click still shows a veiled image; and pictures that Qt's
readers refuse (past its allocation limit) are still shown, decoded by Pillow."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QImageReader,
    QMouseEvent,
    QPainter,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

from crisisdesk.gui.image_view import ZOOM_STEP, ImageView
from crisisdesk.gui.thumbnails import decode_scaled

LEFT = Qt.MouseButton.LeftButton


def _mouse(view: ImageView, kind: QEvent.Type, at: QPointF,
           buttons: Qt.MouseButton = LEFT) -> None:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else LEFT
    event = QMouseEvent(kind, at, view.mapToGlobal(at), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, event)


def _drag(view: ImageView, start: QPointF, end: QPointF) -> None:
    _mouse(view, QEvent.Type.MouseButtonPress, start)
    middle = (start + end) / 2
    _mouse(view, QEvent.Type.MouseMove, middle)
    _mouse(view, QEvent.Type.MouseMove, end)
    _mouse(view, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def _wheel(view: ImageView, at: QPointF, up: bool = True, angle: QPoint | None = None) -> None:
    angle = QPoint(0, 120 if up else -120) if angle is None else angle  # one mouse notch
    event = QWheelEvent(at, view.mapToGlobal(at), QPoint(), angle,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def _image_point(view: ImageView, at: QPointF) -> tuple[float, float]:
    """Where ``at`` (widget pixels) falls on the image, in fractions of its size."""
    rect = view.image_rect()
    return ((at.x() - rect.left()) / rect.width(), (at.y() - rect.top()) / rect.height())


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    pixmap = QPixmap(800, 600)
    pixmap.fill(QColor("white"))
    widget.set_pixmap(pixmap)
    return widget


def test_dragging_a_zoomed_image_moves_it_and_is_no_click(qtbot, view) -> None:
    clicks: list[bool] = []
    view.clicked.connect(lambda: clicks.append(True))
    view.zoom_in()
    view.zoom_in()
    before = view.image_rect()
    _drag(view, QPointF(200, 150), QPointF(240, 130))
    after = view.image_rect()
    assert after.size() == before.size()
    assert after.left() == pytest.approx(before.left() + 40)
    assert after.top() == pytest.approx(before.top() - 20)
    assert clicks == []


def test_a_drag_keeps_the_image_over_the_panel(qtbot, view) -> None:
    view.zoom_in()
    _drag(view, QPointF(100, 100), QPointF(390, 290))  # far past the image's corner
    rect, area = view.image_rect(), view.rect().adjusted(4, 4, -4, -4)
    assert rect.left() == pytest.approx(area.left()) and rect.top() == pytest.approx(
        area.top())  # its top-left corner came to the panel's, no further
    _drag(view, QPointF(390, 290), QPointF(-2000, -2000))
    rect = view.image_rect()
    assert rect.right() == pytest.approx(area.left() + area.width())
    assert rect.bottom() == pytest.approx(area.top() + area.height())


def test_at_fit_a_drag_does_not_move_the_image(qtbot, view) -> None:
    before = view.image_rect()
    _drag(view, QPointF(200, 150), QPointF(260, 190))
    assert view.image_rect() == before


def test_the_wheel_zooms_toward_the_pointer(qtbot, view) -> None:
    pointer = QPointF(300, 100)  # off the centre, over the image
    seen = _image_point(view, pointer)
    _wheel(view, pointer)
    assert view.zoom > 1.0
    assert _image_point(view, pointer) == pytest.approx(seen, abs=1e-3)
    pointer2 = QPointF(80, 250)  # zoomed in further somewhere else
    seen2 = _image_point(view, pointer2)
    _wheel(view, pointer2)
    assert _image_point(view, pointer2) == pytest.approx(seen2, abs=1e-3)
    _wheel(view, pointer2, up=False)  # and back out around the same point
    assert _image_point(view, pointer2) == pytest.approx(seen2, abs=1e-3)


def test_a_trackpad_zooms_in_proportion_and_a_sideways_scroll_not_at_all(qtbot, view
                                                                         ) -> None:
    pointer = QPointF(200, 150)
    for _ in range(8):  # a trackpad's swipe: eight events of an eighth of a notch
        _wheel(view, pointer, angle=QPoint(0, 15))
    assert view.zoom == pytest.approx(ZOOM_STEP)  # as one notch of a mouse wheel
    _wheel(view, pointer, angle=QPoint(-120, 0))  # sideways
    assert view.zoom == pytest.approx(ZOOM_STEP)


def test_the_keys_zoom_around_the_centre_of_what_is_shown(qtbot, view) -> None:
    view.zoom_in()
    _drag(view, QPointF(200, 150), QPointF(170, 140))
    centre = QPointF(view.rect().adjusted(4, 4, -4, -4).center())
    seen = _image_point(view, centre)
    view.zoom_in()
    assert _image_point(view, centre) == pytest.approx(seen, abs=1e-3)


def test_a_click_without_a_drag_shows_a_veiled_image(qtbot, view) -> None:
    clicks: list[bool] = []
    view.set_pixmap(view.pixmap, "Sensitive: click to show")
    view.clicked.connect(lambda: clicks.append(True))
    view.zoom_in()
    start = QPointF(200, 150)
    _mouse(view, QEvent.Type.MouseButtonPress, start)
    _mouse(view, QEvent.Type.MouseMove, start + QPointF(1, 0))  # a hand's tremor
    _mouse(view, QEvent.Type.MouseButtonRelease, start + QPointF(1, 0),
           Qt.MouseButton.NoButton)
    assert clicks == [True]
    view.fit()
    _mouse(view, QEvent.Type.MouseButtonPress, start)
    _mouse(view, QEvent.Type.MouseButtonRelease, start, Qt.MouseButton.NoButton)
    assert clicks == [True, True]


def test_a_new_image_and_fit_put_the_image_back_in_the_middle(qtbot, view) -> None:
    centred = view.image_rect()
    view.zoom_in()
    _drag(view, QPointF(200, 150), QPointF(260, 190))
    assert view.pan != QPointF()
    view.fit()
    assert view.pan == QPointF() and view.image_rect() == centred
    view.zoom_in()
    _drag(view, QPointF(200, 150), QPointF(260, 190))
    other = QPixmap(800, 600)
    other.fill(QColor("black"))
    view.set_pixmap(other)
    assert view.pan == QPointF() and view.zoom == 1.0 and view.image_rect() == centred
    assert view.cursor().shape() == Qt.CursorShape.ArrowCursor  # nothing to drag at fit
    view.zoom_in()  # zoomed again: centred, not where the last image was moved to
    assert view.image_rect().center() == centred.center()


def test_the_heat_map_moves_with_the_image(qtbot, view) -> None:
    heat = QImage(800, 600, QImage.Format.Format_ARGB32)
    heat.fill(QColor(0, 0, 0, 0))
    painter = QPainter(heat)
    painter.fillRect(0, 0, 400, 600, QColor(255, 0, 0))  # the left half hot, the rest clear
    painter.end()
    view.set_overlay(heat)
    view.set_overlay_opacity(1.0)
    view.zoom_in()
    view.zoom_in()
    point = QPoint(240, 150)  # right of the middle: over the clear half

    def colour() -> QColor:
        return view.grab().toImage().pixelColor(point)

    assert colour().green() > 200  # white image, no heat
    _drag(view, QPointF(200, 150), QPointF(300, 150))
    assert view.image_rect().center().x() == 300  # the hot half's edge is at x = 300 now
    red = colour()
    assert red.red() > 200 and red.green() < 60, red.name()


def test_a_picture_past_qts_allocation_limit_is_still_shown(qapp, tmp_path: Path) -> None:
    """Qt refuses to decode past QImageReader.allocationLimit (256 MB: a 9000 x 9000
    PNG); the limit is lowered here so that a small PNG stands for such a picture."""
    path = tmp_path / "orthophoto.png"
    picture = Image.new("RGB", (1200, 900), (30, 120, 200))
    picture.paste((250, 250, 0), (0, 0, 600, 450))  # the top-left quarter yellow
    exif = picture.getexif()
    exif[0x0112] = 6  # and stored on its side, as a phone keeps it
    picture.save(path, exif=exif.tobytes())
    limit = QImageReader.allocationLimit()
    QImageReader.setAllocationLimit(1)  # MB: the 1200 x 900 picture needs ~4
    try:
        shown = decode_scaled(str(path), 400)
        thumb = decode_scaled(str(path), 64)
    finally:
        QImageReader.setAllocationLimit(limit)
    assert shown is not None and thumb is not None
    assert (shown.width(), shown.height()) == (300, 400)  # upright: portrait, fitted
    assert (thumb.width(), thumb.height()) == (48, 64)
    top_right = shown.pixelColor(290, 10)  # the yellow quarter, turned clockwise
    assert top_right.red() > 200 and top_right.blue() < 60
    bottom_left = shown.pixelColor(10, 390)
    assert bottom_left.blue() > 150 and bottom_left.red() < 80
