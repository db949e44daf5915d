"""The detail panel's text side as an analyst reads it: the header's event and time in
words, right-to-left posts and events laid out in their own direction, and long runs of
emoji wrapped between whole emoji."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.wrapping import BREAK, breakable

PRAY = "\U0001f64f\U0001f3fd"  # folded hands, medium skin tone: two code points
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
FLAG = "\U0001f1f8\U0001f1e6"  # Saudi Arabia: two regional indicators
SHADDA_WORD = "الشَّوَارِعَ"  # Arabic letters carrying their marks


def _pieces(text: str, *, rich: bool = False) -> list[str]:
    shown = breakable(text, rich=rich)
    assert shown.replace(BREAK, "") == text  # breaks only, nothing else changed
    return shown.split(BREAK)


def test_a_long_run_of_emoji_wraps_between_whole_emoji() -> None:
    """A break went every 16 code points: inside "folded hands + skin tone" (the tone
    drawn alone as a brown square on the next line), inside a family emoji (drawn as
    man, woman, girl) and between a flag's two letters; and between an Arabic letter
    and its marks."""
    for run, unit in ((PRAY * 20, PRAY), ("#" + FLAG * 20, FLAG),
                      ("x" + FAMILY * 20, FAMILY), (SHADDA_WORD * 3, None)):
        for rich in (False, True):
            pieces = _pieces(run, rich=rich)
            assert len(pieces) > 1, run  # it still wraps
            for left, right in zip(pieces, pieces[1:], strict=False):
                if unit is not None:
                    assert left.endswith(unit) and right.startswith(unit[0]), (left, right)
                else:  # the piece after a break starts with a letter, not a mark
                    assert right[0].isalpha(), (left, right)


def test_shown_time_reads_as_a_date_with_its_zone() -> None:
    """The header showed "2017-08-30T14:02:11.000Z" (and a time the import could not
    read as written, unmarked)."""
    assert shown_time("2017-08-30T14:02:11.000Z") == "30 Aug 2017 14:02 UTC"
    assert shown_time("2017-01-05T23:59:59+05:30") == "5 Jan 2017 23:59 UTC+05:30"
    assert shown_time(None) == "no time given"
    assert shown_time("yesterday at noon") == "time not read: yesterday at noon"


def _unmarked(text: str) -> str:
    """``text`` without the direction isolates the header puts around each part (and
    the left-to-right isolate and mark of its item id)."""
    return "".join(c for c in text if c not in "\u2068\u2069\u2066\u200e")


def _window_on_one_post(qtbot, tmp_path, **fields: str):
    """A main window on a new project of one text-only post posted 30 Aug 2017 14:02:11
    UTC, with ``fields``."""
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "s.csv")
        post = store.insert_post("s", "1", created_at="2017-08-30T14:02:11.000Z", **fields)
        store.add_text_item(post, "s", "1")
    return open_window(qtbot, project)


def _header_document(window) -> QTextDocument:
    document = QTextDocument()
    document.setHtml(window.detail.header.text())
    document.setTextWidth(10_000)  # one line
    document.size()  # lays it out
    return document


def test_the_header_shows_the_event_and_time_readably(qtbot, tmp_path) -> None:
    window = _window_on_one_post(qtbot, tmp_path, text="water rising", author="ahmed",
                                 event="hurricane_harvey")
    shown = _unmarked(_header_document(window).toPlainText())
    assert "hurricane harvey · 30 Aug 2017 14:02 UTC · @ahmed" in shown, shown
    assert window.detail.detail.row.event == "hurricane_harvey"  # stored as it was


def test_an_arabic_event_keeps_the_time_beside_it_in_the_header(qtbot, tmp_path) -> None:
    """The header is one left-to-right line: an Arabic event name took the day of the
    time after it into its right-to-left run ("posts:1:0 · 30 · سيول جدة Aug 2017")."""
    window = _window_on_one_post(qtbot, tmp_path, text="السيول تغمر الشوارع",
                                 event="سيول_جدة")
    document = _header_document(window)
    text = document.toPlainText()
    line = document.firstBlock().layout().lineAt(0)
    event_xs = [line.cursorToX(i)[0] for i in range(text.index("سيول"),
                                                      text.index("جدة") + 3)]
    day = line.cursorToX(text.index("30 Aug"))[0]
    assert day > max(event_xs), (text, event_xs, day)
    # What is copied from the header is the text without the direction marks.
    header = window.detail.header
    header.setSelection(0, len(text))
    assert header.selectedText() == _unmarked(text)
    assert "سيول جدة" in header.selectedText()


def _select_all_from_the_menu(label) -> None:
    """Right-click the label and pick "Select All" in the menu that opens."""
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        [action] = [a for a in menu.actions() if a.text() == "Select All"]
        action.trigger()
        menu.close()

    QTimer.singleShot(0, pick)  # the menu runs its own event loop until closed
    label.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(2, 2),
                                             label.mapToGlobal(QPoint(2, 2))))


def test_select_all_in_the_menu_selects_the_whole_caption_and_post(qtbot) -> None:
    """"Select All" selected the length of the label's markup: in the caption and the
    header (rich text, longer than what is drawn) nothing at all, so Copy stayed greyed;
    in a post with emoji (two UTF-16 units each) all but the last few characters. The
    caption's line break is copied as a newline (Qt gives U+2028, a box when pasted)."""
    from PySide6.QtCore import Qt

    from crisisdesk.gui.wrapping import WrappingLabel

    caption = "A flooded street, cars under water " + "x" * 40
    for text, text_format, expected in (
            (f"{caption}<br><span style='color:#6b7280'>by blip</span>",
             Qt.TextFormat.RichText, f"{caption}\nby blip"),
            (f"Praying {PRAY * 3} for Houston {FLAG}", Qt.TextFormat.PlainText, None)):
        label = WrappingLabel()
        qtbot.addWidget(label)
        label.setTextFormat(text_format)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setText(text)
        label.show()
        _select_all_from_the_menu(label)
        assert label.selectedText() == (expected or text)
