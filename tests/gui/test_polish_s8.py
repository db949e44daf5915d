"""Small visual and focus polish: the help card closes when a window shortcut takes the
keys elsewhere, a model name in a task box title breaks at its hyphens, extreme images
stay readable (a panorama's thumbnail, a tiny image in the detail view), and the empty
jobs dock is small."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

from import_helpers import run_import
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QStyleOptionViewItem, QWidget
from window_helpers import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.review import TaskView
from crisisdesk.gui import style
from crisisdesk.gui.task_box import TaskBox
from crisisdesk.gui.wrapping import BREAK, CHUNK, WrappingLabel, breakable


def _active(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


# ---------------------------------------------------------------------- help card

def test_search_from_the_menu_closes_the_help_and_keeps_the_keys_there(
        qtbot, demo_like_project: Project) -> None:
    """Edit > Search picked from a menu bar outside the window (macOS, a desktop's
    global menu) moved the keys to the search box while the card stayed over the
    window: what was typed went to a box the analyst could not see."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    assert window.help.isVisible()
    window.actions_.find.trigger()  # no key and no click reaches the card
    assert not window.help.isVisible()
    assert QApplication.focusWidget() is window.search  # not handed back to the list


def test_go_to_the_jobs_from_the_menu_closes_the_help(qtbot, demo_like_project: Project
                                                      ) -> None:
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    jobs.run("Nothing to do", lambda: iter(()))
    qtbot.waitUntil(lambda: not jobs.running())
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    window.actions_.go_to_jobs.trigger()
    assert not window.help.isVisible()
    assert jobs.isAncestorOf(QApplication.focusWidget())


def test_the_help_stays_while_another_window_has_the_keys(qtbot, demo_like_project: Project
                                                          ) -> None:
    """Switching to another window and back is no reason to close it."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    _active(qtbot, other)
    assert window.help.isVisible()
    _active(qtbot, window)
    assert window.help.isVisible() and window.help.hasFocus()


# ---------------------------------------------------------------------- wrapping

def _lines(label: QLabel) -> list[str]:
    """The lines a rich-text label draws at its width (added breaks left out)."""
    document = QTextDocument()
    document.setDefaultFont(label.font())
    document.setDocumentMargin(0)
    document.setHtml(QLabel.text(label))
    document.setTextWidth(label.contentsRect().width())
    document.size()  # lays the text out
    lines, block = [], document.begin()
    while block.isValid():
        layout, text = block.layout(), block.text()
        for n in range(layout.lineCount()):
            line = layout.lineAt(n)
            lines.append(text[line.textStart():line.textStart() + line.textLength()])
        block = block.next()
    return [line.replace(BREAK, "").strip() for line in lines]


def _view(model_version: str) -> TaskView:
    return TaskView("humanitarian", ("rescue", "none"), {"rescue": 0.7, "none": 0.3},
                    "rescue", model_version, None, None, None)


def test_a_model_name_in_a_task_title_breaks_at_its_hyphens(qtbot) -> None:
    """At the detail panel's narrowest, "predicted by bundled-minilm-humanitarian"
    wrapped as "bundled-minilm-h / umanitarian": the break added every 16 characters
    came before the hyphen Qt breaks at."""
    box = TaskBox(_view("bundled-minilm-humanitarian"))
    qtbot.addWidget(box)
    title = box.findChildren(WrappingLabel)[0]
    box.show()
    for width in (150, 195, 330, 360):  # each cut it mid-word
        box.setFixedWidth(width)
        qtbot.waitUntil(lambda w=width: box.width() == w)
        lines = _lines(title)
        assert len(lines) > 1, lines  # narrow enough to wrap
        assert lines[-1].endswith("-humanitarian") or lines[-1] == "humanitarian", lines
        assert not any(line.startswith("umanitarian") for line in lines), (width, lines)


def test_a_word_longer_than_a_line_still_gets_breaks() -> None:
    """Each piece between hyphens longer than the chunk still wraps (a 92-character
    hashtag run must not widen the panel); short pieces get no added break."""
    assert BREAK not in breakable("bundled-minilm-humanitarian")
    assert BREAK not in breakable("predicted by <b>bundled-minilm-humanitarian</b>", rich=True)
    hashtags = "#HurricaneHarvey#Houston#HoustonFlood#TexasStrong"
    assert max(len(part) for part in breakable(hashtags).split(BREAK)) <= CHUNK
    long_piece = "flood-" + "x" * 40  # Qt breaks after "flood-", then at each break
    assert max(len(part) for part in re.split(f"{BREAK}|(?<=-)", breakable(long_piece))
               ) <= CHUNK
    assert breakable(long_piece).replace(BREAK, "") == long_piece


# ---------------------------------------------------------------------- extreme images

def _project_with(tmp_path: Path, name: str, width: int, height: int) -> Project:
    """A project of one post whose image is ``width`` x ``height``, all red."""
    folder = tmp_path / "posts"
    folder.mkdir()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    assert image.save(str(folder / f"{name}.png"))
    (folder / f"{name}.txt").write_text(f"The {name} photo", "utf-8")
    project = Project.open(tmp_path / "project", create=True)
    run_import(project, [folder])
    return project


def test_a_panorama_thumbnail_is_a_visible_strip(qtbot, tmp_path) -> None:
    """A 10000 x 200 panorama fitted into the 64 px tile was a line 1 pixel high: its
    thumbnail is at least a quarter of the tile high (the middle of the picture)."""
    window = open_window(qtbot, _project_with(tmp_path, "panorama", 10000, 200))
    row = window.current_row()
    qtbot.waitUntil(lambda: window.thumbnails.get(row.image_path) is not None)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 400, style.ROW_HEIGHT)
    option.font = window.items.font()
    canvas = QImage(400, style.ROW_HEIGHT, QImage.Format.Format_RGB32)
    canvas.fill(QColor("white"))
    painter = QPainter(canvas)
    window.items.itemDelegate().paint(painter, option, window.model.index(0))
    painter.end()
    red = [y for y in range(canvas.height())
           if QColor(canvas.pixel(6 + style.THUMB_SIZE // 2, y)).red() > 200
           and QColor(canvas.pixel(6 + style.THUMB_SIZE // 2, y)).green() < 80]
    assert len(red) >= style.THUMB_SIZE // 4, red
    # As wide as the tile: a strip cut from the middle, not a smaller squashed picture.
    y = red[len(red) // 2]
    wide = [x for x in range(6, 6 + style.THUMB_SIZE + 2)
            if QColor(canvas.pixel(x, y)).red() > 200 and QColor(canvas.pixel(x, y)).green() < 80]
    assert len(wide) >= style.THUMB_SIZE - 1


def test_a_tiny_image_is_not_blown_up_and_says_its_size(qtbot, tmp_path) -> None:
    """A 16 x 16 image filled the detail view (~20 times its size, a blur of squares):
    it is shown at most 4 times its size, and its tooltip says how big it is."""
    window = open_window(qtbot, _project_with(tmp_path, "tiny", 16, 16))
    window.resize(1600, 900)
    view = window.detail.image
    qtbot.waitUntil(view.has_image)
    qtbot.waitUntil(lambda: view.width() > 300 and view.height() > 200)
    rect = view.image_rect()
    assert rect.width() == rect.height() <= 16 * 4, rect
    assert rect.width() >= 16  # not made smaller either
    assert "16 × 16" in view.toolTip()
    view.zoom_in()  # the analyst may still zoom in
    assert view.image_rect().width() > rect.width()


def test_a_large_image_still_fills_the_view(qtbot, tmp_path) -> None:
    window = open_window(qtbot, _project_with(tmp_path, "large", 1200, 900))
    view = window.detail.image
    qtbot.waitUntil(view.has_image)
    rect = view.image_rect()
    area = view.rect().adjusted(4, 4, -4, -4)
    assert abs(rect.width() - area.width()) < 1 or abs(rect.height() - area.height()) < 1
    assert "pixels" not in view.toolTip()  # its pixmap may be decoded smaller than the file


def test_thumbnail_rects_of_tall_and_ordinary_pictures() -> None:
    """A tall strip (a phone's scrolling screenshot) gets the same minimum width; an
    ordinary picture is drawn whole, fitted, as before."""
    from crisisdesk.gui.item_list import thumb_rects

    tile = QRect(6, 6, 64, 64)
    source, target = thumb_rects(QSize(1, 64), tile)
    assert target.size() == QSize(16, 64) and source.height() == 4
    assert tile.contains(target)
    source, target = thumb_rects(QSize(64, 48), tile)
    assert source == QRect(0, 0, 64, 48) and target.size() == QSize(64, 48)
    assert target.center() == tile.center()


# ---------------------------------------------------------------------- jobs dock

def test_the_empty_jobs_dock_is_one_line_and_grows_with_a_job(
        qtbot, demo_like_project: Project) -> None:
    """"No jobs yet" took a sixth of a 600-pixel window, blank under the line; the first
    job's row then showed cut off (its Cancel out of view) in a dock that did not grow."""
    window = open_window(qtbot, demo_like_project)
    window.resize(1024, 600)
    dock, jobs = window.actions_.dock, window.actions_.jobs
    head = max(jobs.summary.sizeHint().height(), jobs.clear.sizeHint().height())
    qtbot.waitUntil(lambda: jobs.height() <= head + 8)  # the summary line alone
    assert dock.height() < window.height() // 10
    assert jobs.summary.isVisible() and jobs.summary.text() == "No jobs yet"
    gate = threading.Event()

    def waits() -> Iterator[Progress]:
        yield Progress(0, 10, "captioning the first image", "cpu")
        gate.wait(30)

    runner = jobs.run("Caption images (all)", waits)
    row = jobs.row_of(runner)
    qtbot.waitUntil(row.message.isVisible)
    qtbot.waitUntil(lambda: row.visibleRegion().boundingRect().height() == row.height())
    assert row.cancel.visibleRegion().boundingRect().height() == row.cancel.height()
    assert dock.height() <= window.height() // 3  # the items stay the larger part
    gate.set()
    qtbot.waitUntil(lambda: not runner.is_running())
    jobs.clear_finished()
    qtbot.waitUntil(lambda: jobs.height() <= head + 8)


def test_a_panorama_is_decoded_with_a_short_side_the_strip_can_show(qapp, tmp_path) -> None:
    """Fitted whole in the 64 px tile a 10000 x 200 panorama was decoded 64 x 1, so the
    strip the list draws from its middle was 4 source pixels stretched."""
    from PIL import Image

    from crisisdesk.gui.thumbnails import decode_scaled

    wide, square = tmp_path / "wide.png", tmp_path / "square.png"
    Image.new("RGB", (10000, 200), (20, 120, 200)).save(wide)
    Image.new("RGB", (1000, 800), (20, 120, 200)).save(square)
    image = decode_scaled(str(wide), 64)
    assert image is not None and (image.width(), image.height()) == (800, 16)
    image = decode_scaled(str(square), 64)
    assert image is not None and (image.width(), image.height()) == (64, 51)  # as before
