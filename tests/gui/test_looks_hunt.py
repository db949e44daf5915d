"""What the analyst sees: the window on a small screen, names that look like markup,
images that cannot be shown, and empty lists (found by looking at the window)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage, QPainter, Qt, QTextDocument
from PySide6.QtWidgets import QLabel, QStyleOptionViewItem
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import display_name, scheme_from_json
from crisisdesk.core.store import LabelChange
from crisisdesk.gui import style
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.wrapping import BREAK

MARKUP_CLASSES = ["children_<5", "<i>injured</i>", "food_&amp;_water", "none"]


def _drawn(label: QLabel) -> str:
    """The words a label draws (its markup read as Qt reads it), without added breaks."""
    shown, form = QLabel.text(label), label.textFormat()
    if form == Qt.TextFormat.RichText or (form == Qt.TextFormat.AutoText
                                          and Qt.mightBeRichText(shown)):
        document = QTextDocument()
        document.setHtml(shown)
        shown = document.toPlainText()
    return shown.replace(BREAK, "")


def test_the_task_boxes_fit_a_1024_by_600_window(qtbot, demo_like_project) -> None:
    """On a 1024 x 600 screen the humanitarian box (its longest class name on one line)
    was wider than the detail panel: a horizontal scroll bar, the box's right edge and
    the percentages cut off. Names now wrap and every bar stays in view."""
    window = open_window(qtbot, demo_like_project)
    window.resize(1024, 600)
    detail = window.detail
    qtbot.waitUntil(lambda: len(detail.task_boxes) == 3)

    def in_view() -> bool:
        view = detail.scroll.viewport()
        return detail.scroll.horizontalScrollBar().maximum() == 0 and all(
            0 < box.mapTo(view, QPoint(box.width(), 0)).x() <= view.width()
            for box in detail.task_boxes)

    qtbot.waitUntil(in_view, timeout=5_000)


def test_class_and_annotator_names_that_look_like_markup_show_as_written(
        qtbot, demo_like_project) -> None:
    """A project's class "<i>injured</i>" showed as an italic "injured" once given (and
    "food &amp; water" as "food & water"), an annotator "<b>bob</b>" in bold: the task
    box read names as markup."""
    with demo_like_project.open_store() as store:
        store.add_scheme(scheme_from_json({"task": "people", "classes": MARKUP_CLASSES},
                                          "people.json"))
    window = open_window(qtbot, demo_like_project)
    item = window.current_row().id
    with demo_like_project.open_store() as store:
        store.add_labels([LabelChange(item, "people", "<i>injured</i>")],
                         annotator="<b>bob</b>")
    window.detail.reload()
    qtbot.waitUntil(lambda: any(b.view.task == "people" and b.view.label
                                for b in window.detail.task_boxes))
    box = next(b for b in window.detail.task_boxes if b.view.task == "people")
    names = {cls: next(w for w, c in box._row_of.items() if c == cls and w.text()
                       and not w.text().isdigit() and "%" not in w.text()
                       and w.text() != "–")
             for cls in MARKUP_CLASSES}
    for cls, label in names.items():
        assert _drawn(label).startswith(display_name(cls)), (cls, _drawn(label))
    lines = [_drawn(w) for w in box.findChildren(QLabel) if _drawn(w).startswith("Label:")]
    assert lines == ["Label: <i>injured</i> (human, <b>bob</b>)"]


def _image_paths(project: Project) -> list[str]:
    with project.open_store() as store:
        return [r[0] for r in store.conn.execute(
            "SELECT path FROM media WHERE status = 'ok' ORDER BY id")]


class _Recorder(QPainter):
    """A painter that notes the words drawn with it."""

    def __init__(self, device: QImage) -> None:
        super().__init__(device)
        self.words: list[str] = []
        self.widths: dict[str, int] = {}  # each word's width in the font it was drawn in

    def drawText(self, *args) -> None:  # noqa: N802 - Qt's name
        for word in (a for a in args if isinstance(a, str)):
            self.words.append(word)
            self.widths[word] = self.fontMetrics().horizontalAdvance(word)
        super().drawText(*args)


def test_an_image_gone_since_the_import_is_said_in_the_list_and_the_detail(
        qtbot, demo_like_project) -> None:
    """An image deleted (or its folder moved) after the import kept its thumbnail tile at
    "…" for good, as if still loading, and the detail panel called it a file that could
    not be decoded."""
    paths = _image_paths(demo_like_project)
    for path in paths:
        Path(path).unlink()
    window = open_window(qtbot, demo_like_project)
    first = window.current_row()
    assert first is not None and first.image_path in paths
    qtbot.waitUntil(lambda: window.detail.image.message.startswith("Image file not found"))
    assert first.image_path in window.detail.image.message
    qtbot.waitUntil(lambda: window.thumbnails.failed(first.image_path))

    index = window.model.index(window.items.currentIndex().row())
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 400, 80)
    option.font = window.items.font()
    canvas = QImage(400, 80, QImage.Format.Format_ARGB32)
    painter = _Recorder(canvas)
    window.items.itemDelegate().paint(painter, option, index)
    painter.end()
    assert "unreadable" in painter.words and "…" not in painter.words, painter.words
    assert painter.widths["unreadable"] <= style.THUMB_SIZE  # within its tile, not cut


def _inked(widget) -> int:
    """How many pixels of ``widget`` as drawn are not its white background."""
    image = widget.grab().toImage()
    white = QColor("white").rgb()
    return sum(image.pixel(x, y) != white
               for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))


def test_an_empty_list_says_why_and_what_to_do(qtbot, tmp_path, demo_like_project) -> None:
    """A project with no posts, a search that finds nothing, or an empty queue showed a
    blank white list (and "No item selected" beside it): it now says why it is empty."""
    window = MainWindow(Project.open(tmp_path / "empty", create=True), annotator="tester")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.list_title.text() == "All items: 0 items")
    assert "Import" in window.items.empty_text()
    assert "Ctrl+I" in window.items.empty_text()
    assert _inked(window.items.viewport()) > 0  # drawn, not only held

    window = open_window(qtbot, demo_like_project)
    assert window.items.empty_text() == ""  # rows to show: nothing said
    window.search.setText("zebra-crossing")
    qtbot.waitUntil(lambda: window.model.total == 0 and "zebra" in window.list_title.text())
    assert window.items.empty_text().startswith("No item matches “zebra-crossing”")
    window.search.setText("")
    qtbot.waitUntil(lambda: window.model.total > 0)
    assert window.items.empty_text() == ""
    corrected = Queue("corrected", "damage")
    window.queues.select(corrected)
    qtbot.waitUntil(lambda: window.model.queue == corrected and window.model.total == 0
                    and bool(window.items.empty_text()))
    assert window.items.empty_text().startswith("Nothing in “")
