"""Labels whose long words wrap: a URL or a run of hashtags inside the panel's width.

Qt wraps a label's text at spaces (and a few marks, such as "/" or "-") only: a word
wider than the label (CrisisMMD tweets hold 92-character hashtag runs) set the label's
minimum width, so a scroll area holding it grew sideways and pushed what sat beside it
(the prediction bars) out of view. :class:`WrappingLabel` adds zero-width spaces, break
opportunities that draw nothing, inside long words for display only: ``text()``, what
is copied and what a screen reader says are the text as given. The breaks go between
grapheme clusters (what a reader sees as one character: an emoji with its skin tone, a
flag, a letter with its marks), so a wrapped line never starts with half of one.
"""

from __future__ import annotations

import re

from PySide6 import QtGui
from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTextBoundaryFinder,
)
from PySide6.QtGui import (
    QContextMenuEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

BREAK = "\u200b"  # ZERO WIDTH SPACE
#: Longest run of characters drawn without a break opportunity: ~16 wide letters fit
#: the narrowest the detail panel gets.
CHUNK = 16
_TAG = re.compile(r"(<[^>]*>)")  # rich text: breaks go between tags, never inside one
_PLAIN_RUN = re.compile(rf"\S{{{CHUNK + 1},}}")
_RICH_RUN = re.compile(r"(?:&#?\w+;|[^\s&])+")  # an entity is one character
_ENTITY = re.compile(r"(&#?\w+;)")
_NEWLINES = str.maketrans("\u2028\u2029", "\n\n")


def _clusters(text: str) -> list[str]:
    """``text`` cut into grapheme clusters, as Qt draws them: a break every CHUNK code
    points cut "folded hands + skin tone" in two (the tone drawn alone on the next line),
    a family emoji into its people, a flag into two letters."""
    units = text.encode("utf-16-le", "surrogatepass")  # Qt counts UTF-16 code units
    finder = QTextBoundaryFinder(QTextBoundaryFinder.BoundaryType.Grapheme, text)
    clusters, start = [], 0
    while (end := finder.toNextBoundary()) > 0:
        clusters.append(units[2 * start:2 * end].decode("utf-16-le", "surrogatepass"))
        start = end
    return clusters


def _rich_clusters(run: str) -> list[str]:
    """The grapheme clusters of a run of rich text, each entity one of them."""
    return [cluster for part in _ENTITY.split(run) if part
            for cluster in ([part] if _ENTITY.fullmatch(part) else _clusters(part))]


def _chunks(chars: list[str]) -> str:
    # Qt breaks after a hyphen or a slash followed by a letter already: a model name
    # "bundled-minilm-humanitarian" wrapped as "bundled-minilm-h / umanitarian" when
    # the breaks went every CHUNK characters of the whole word. Only a piece between
    # Qt's own breaks that is longer than CHUNK gets breaks added.
    ends = [i + 1 for i in range(len(chars) - 1)
            if chars[i] in "-/" and chars[i + 1][0].isalpha()] + [len(chars)]
    pieces, start = [], 0
    for end in ends:
        piece = chars[start:end]
        pieces.append(BREAK.join("".join(piece[i:i + CHUNK])
                                 for i in range(0, len(piece), CHUNK)))
        start = end
    return "".join(pieces)


def plain(text: str, text_format: Qt.TextFormat) -> str:
    """``text`` as a label in ``text_format`` shows it, without the markup: what a
    screen reader says and what "Select All" counts."""
    if text_format == Qt.TextFormat.RichText or (
            # QtGui's Qt holds mightBeRichText (QtCore's has none: Select All raised).
            text_format == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text)):
        document = QTextDocument()
        document.setHtml(text)
        return document.toPlainText()
    return text


def breakable(text: str, *, rich: bool = False) -> str:
    """``text`` with a break opportunity every :data:`CHUNK` grapheme clusters of each
    word longer than that (counted from the hyphens and slashes Qt breaks at); ``rich``: the
    text is HTML (tags and entities are kept whole)."""
    if not rich:
        return _PLAIN_RUN.sub(lambda m: _chunks(_clusters(m.group())), text)

    def run(match: re.Match[str]) -> str:
        chars = _rich_clusters(match.group())
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
        self._said = ""  # the accessible name this label gave itself (see setText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        """Show ``text`` with break opportunities in its long words."""
        self._text = text
        rich = self.textFormat() != Qt.TextFormat.PlainText  # AutoText: mostly markup here
        super().setText(breakable(text, rich=rich))
        # Qt names a label by the text it draws: a screen reader read the breaks out
        # ("Harvey", pause, "Relief"). A name its owner gave (see DetailHeader) stays.
        if self.accessibleName() in ("", self._said):
            self._said = plain(text, self.textFormat())
            self.setAccessibleName(self._said)

    def setTextFormat(self, text_format: Qt.TextFormat) -> None:  # noqa: N802
        """Read the text in ``text_format`` (the breaks go elsewhere in markup)."""
        super().setTextFormat(text_format)
        self.setText(self._text)

    def text(self) -> str:
        """The text as given (without the added breaks)."""
        return self._text

    def selectedText(self) -> str:  # noqa: N802 - Qt's name
        # Qt gives a line break (<br>) and a paragraph's end as U+2028 / U+2029, which a
        # spreadsheet or a report pasted into shows as a box: a newline, as Qt copies.
        return super().selectedText().replace(BREAK, "").translate(_NEWLINES)

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
        menu.addAction("Select All", self._select_all)
        menu.exec(event.globalPos())

    def _select_all(self) -> None:
        # Qt counts what is drawn, in UTF-16 units: the markup's length selected nothing
        # in rich text (out of range) and too little in a plain text with emoji.
        shown = plain(QLabel.text(self), self.textFormat())
        self.setSelection(0, len(shown.encode("utf-16-le", "surrogatepass")) // 2)


class WrappedColumn(QStyledItemDelegate):
    """A tree's column whose text wraps at the column's width, each row as high as its
    wrapped text (QTreeView asks a row's height for no width: a wrapped text got one
    line). The view needs ``setWordWrap(True)`` and, when the column is resized, its
    rows laid out again (their heights change)."""

    def __init__(self, view: QTreeView, column: int = 0) -> None:
        super().__init__(view)
        self.column = column

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt's name
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        view = self.parent()
        assert isinstance(view, QTreeView)
        depth, parent = 0, index.parent()
        while self.column == 0 and parent.isValid():  # only the first column is indented
            depth, parent = depth + 1, parent.parent()
        # The room the text is drawn in: its column, less the indentation of its level.
        width = view.columnWidth(self.column) - depth * view.indentation()
        option.rect = QRect(0, 0, max(width, 1), 1)  # type: ignore[attr-defined]
        return super().sizeHint(option, index)
