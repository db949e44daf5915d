"""Labels whose long words wrap: a URL or a run of hashtags inside the panel's width.

Qt wraps a label's text at spaces (and a few marks, such as "/" or "-") only: a word
wider than the label (CrisisMMD tweets hold 92-character hashtag runs) set the label's
minimum width, so a scroll area holding it grew sideways and pushed what sat beside it
(the prediction bars) out of view. :class:`WrappingLabel` adds zero-width spaces, break
opportunities that draw nothing, inside long words for display only: ``text()`` and what
is copied are the text as given.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QWidget

BREAK = "\u200b"  # ZERO WIDTH SPACE
#: Longest run of characters drawn without a break opportunity: ~16 wide letters fit
#: the narrowest the detail panel gets.
CHUNK = 16
_TAG = re.compile(r"(<[^>]*>)")  # rich text: breaks go between tags, never inside one
_PLAIN_RUN = re.compile(rf"\S{{{CHUNK + 1},}}")
_RICH_RUN = re.compile(r"(?:&#?\w+;|[^\s&])+")  # an entity is one character
_RICH_CHAR = re.compile(r"&#?\w+;|.", re.DOTALL)


def _chunks(chars: list[str]) -> str:
    # Qt breaks after a hyphen or a slash followed by a letter already: a model name
    # "bundled-minilm-humanitarian" wrapped as "bundled-minilm-h / umanitarian" when
    # the breaks went every CHUNK characters of the whole word. Only a piece between
    # Qt's own breaks that is longer than CHUNK gets breaks added.
    ends = [i + 1 for i in range(len(chars) - 1)
            if chars[i] in "-/" and chars[i + 1].isalpha()] + [len(chars)]
    pieces, start = [], 0
    for end in ends:
        piece = chars[start:end]
        pieces.append(BREAK.join("".join(piece[i:i + CHUNK])
                                 for i in range(0, len(piece), CHUNK)))
        start = end
    return "".join(pieces)


def breakable(text: str, *, rich: bool = False) -> str:
    """``text`` with a break opportunity every :data:`CHUNK` characters of each word
    longer than that (counted from the hyphens and slashes Qt breaks at); ``rich``: the
    text is HTML (tags and entities are kept whole)."""
    if not rich:
        return _PLAIN_RUN.sub(lambda m: _chunks(list(m.group())), text)

    def run(match: re.Match[str]) -> str:
        chars = _RICH_CHAR.findall(match.group())
        return _chunks(chars) if len(chars) > CHUNK else match.group()

    parts = _TAG.split(text)
    return "".join(part if part.startswith("<") else _RICH_RUN.sub(run, part)
                   for part in parts)


class WrappingLabel(QLabel):
    """A word-wrapped, mouse-selectable label whose long words wrap too."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self._text = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        """Show ``text`` with break opportunities in its long words."""
        self._text = text
        rich = self.textFormat() != Qt.TextFormat.PlainText  # AutoText: mostly markup here
        super().setText(breakable(text, rich=rich))

    def setTextFormat(self, text_format: Qt.TextFormat) -> None:  # noqa: N802
        """Read the text in ``text_format`` (the breaks go elsewhere in markup)."""
        super().setTextFormat(text_format)
        self.setText(self._text)

    def text(self) -> str:
        """The text as given (without the added breaks)."""
        return self._text

    def selectedText(self) -> str:  # noqa: N802 - Qt's name
        return super().selectedText().replace(BREAK, "")

    def copy_selection(self) -> None:
        """Put the selected text on the clipboard as typed (no added breaks)."""
        if self.hasSelectedText():
            QGuiApplication.clipboard().setText(self.selectedText())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        # Qt's own menu copies what is drawn, breaks included.
        menu = QMenu(self)
        copy = menu.addAction("Copy", self.copy_selection)
        copy.setEnabled(self.hasSelectedText())
        menu.addAction("Select All", lambda: self.setSelection(0, len(QLabel.text(self))))
        menu.exec(event.globalPos())
