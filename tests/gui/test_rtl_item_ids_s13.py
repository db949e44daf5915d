"""Item ids of sources named in Arabic or Hebrew read in their logical order.

Sources keep letters of any script now, so an item id can be ``فيضان:1:0``. Shown as it
is (the list's tooltip, the label history) or in one first-strong isolate (the detail
header), the Arabic name took the numbers after it into its right-to-left run, and the
id read ``1:0:فيضان`` or ``0:1:فيضان``. The id is now left to right as a whole, each of
its parts isolated; the tests read the text given to Qt and where Qt lays it out.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.labelling import _for
from crisisdesk.gui.targets import Targets

SOURCE = "فيضان"
UID = f"{SOURCE}:12:0"
LRI, FSI, PDI, LRM = "\u2066", "\u2068", "\u2069", "\u200e"


def unmarked(text: str) -> str:
    """``text`` without direction isolates and marks."""
    return text.replace(LRI, "").replace(FSI, "").replace(PDI, "").replace(LRM, "")


def _window(qtbot, tmp_path):
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source(SOURCE, "csv", f"{SOURCE}.csv")
        post = store.insert_post(SOURCE, "12", text="السيول تغمر الشوارع")
        store.add_text_item(post, SOURCE, "12")
    return open_window(qtbot, project)


def _assert_reads_in_order(document: QTextDocument) -> None:
    """The id in ``document``'s first line runs left to right: the name, then the post
    id, then the media index (marks given to Qt, and Qt's layout of them)."""
    text = document.toPlainText().split("\n")[0]
    assert UID in unmarked(text), text
    # Left to right as a whole, the name in an isolate of its own.
    assert f"{LRI}{FSI}{SOURCE}{PDI}:" in text, ascii(text)
    document.setTextWidth(10_000)  # one line
    document.size()  # lays it out
    line = document.firstBlock().layout().lineAt(0)
    start = text.index(SOURCE)
    name_xs = [line.cursorToX(i)[0] for i in range(start, start + len(SOURCE))]
    post = text.index("12", start)
    index = text.index("0", post)
    x = [line.cursorToX(i)[0] for i in (post, post + 1, index)]
    assert max(name_xs) <= x[0] < x[1] < x[2], (ascii(text), name_xs, x)
    # A line it starts is left to right (Qt takes a line's direction from its first
    # letter, in an isolate or not): what follows the id is on its right.
    after = text.find("no time given")
    if after > 0:
        assert line.cursorToX(after)[0] > x[2], (ascii(text), x)


def test_the_detail_header_list_tooltip_and_history_show_the_id_in_order(
        qtbot, tmp_path) -> None:
    window = _window(qtbot, tmp_path)
    header = QTextDocument()
    header.setHtml(window.detail.header.text())
    _assert_reads_in_order(header)

    tooltip = window.model.data(window.model.index(0), Qt.ItemDataRole.ToolTipRole)
    shown = QTextDocument()
    shown.setPlainText(tooltip)
    _assert_reads_in_order(shown)

    history = window.detail.history
    history.show_task(window.detail.task_boxes[0].view.task)
    title = QTextDocument()
    title.setPlainText(history.title.text())
    _assert_reads_in_order(title)
    assert UID in unmarked(history.windowTitle())

    # Copied from the header, the id has no marks: pasted into the search box it matches.
    window.detail.header.setSelection(0, len(header.toPlainText()))
    assert UID in window.detail.header.selectedText()
    assert not set(window.detail.header.selectedText()) & {LRI, FSI, PDI, LRM}


def test_a_label_not_saved_names_the_item_in_order(qtbot, tmp_path) -> None:
    window = _window(qtbot, tmp_path)
    said = QTextDocument()
    said.setPlainText(f"damage: mild damage{_for(Targets((window.current_row(),)))}")
    _assert_reads_in_order(said)
