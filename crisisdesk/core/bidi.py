"""Direction marks for text that mixes scripts: item ids and the parts of a line, so
that an Arabic or Hebrew name does not reorder the text around it, in the app and on a
terminal that applies the Unicode bidi algorithm (GNOME Terminal/VTE, Konsole, macOS
Terminal).

An item id ``<source>:<post id>:<n>`` of a source named in Arabic (``فيضان:12:0``) is
a right-to-left run that takes the numbers after it in: shown as it is, or in one
first-strong isolate, it read ``12:0:فيضان`` or ``0:12:فيضان``. :func:`shown_uid` lays
it out left to right as a whole, each part in an isolate of its own, after a
left-to-right mark: Qt (and a terminal that guesses each line's direction) takes a
line's direction from its first letter, inside an isolate or not, so a line the id
starts was right to left without it. A name followed by figures (an event and its
count, a class and its scores) took the figures into its run too: :func:`isolated`.

The marks are invisible, but they are characters: what is copied from the output holds
them, so what takes an id or a name back drops them (:func:`unmarked`).
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO

# FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE; LEFT-TO-RIGHT ISOLATE and MARK
ISOLATE, POP, LTR_ISOLATE, LTR_MARK = "\u2068", "\u2069", "\u2066", "\u200e"
MARKS = (ISOLATE, POP, LTR_ISOLATE, LTR_MARK)


def isolated(text: str) -> str:
    """``text`` in a first-strong isolate: it keeps its own direction and leaves the
    text around it alone."""
    return f"{ISOLATE}{text}{POP}"


def shown_uid(uid: str) -> str:
    """An item id marked to read in its logical order in any text: left to right, each
    ``:``-separated part isolated (a post id or, in an old project, a source name may
    hold a ``:`` too; each piece keeps its own direction all the same). A line it
    starts is left to right."""
    return f"{LTR_MARK}{LTR_ISOLATE}{':'.join(isolated(part) for part in uid.split(':'))}{POP}"


def unmarked(text: str) -> str:
    """``text`` without the marks of this module: what is copied from the app or a
    terminal must match the search box and the store, which know no invisible marks."""
    for mark in MARKS:
        text = text.replace(mark, "")
    return text


def right_to_left(text: str) -> bool:
    """Whether ``text`` holds a letter of a right-to-left script (Arabic, Hebrew,
    Persian, Urdu, Syriac, Thaana, N'Ko): only such text reorders what is around it."""
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


class TerminalMarks:
    """Marks for the lines the CLI prints: on (a terminal) or off (a file, a pipe).

    Off a terminal the output goes to grep, a script or a file, where invisible marks
    inside an id break an exact match, and nothing lays the line out; ``--json`` never
    takes them. Only a field with right-to-left letters is marked: ASCII output stays
    as it was, byte for byte."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def uid(self, uid: str) -> str:
        """An item id as the line shows it (see :func:`shown_uid`)."""
        return shown_uid(uid) if self.on and right_to_left(uid) else uid

    def field(self, text: str) -> str:
        """A name or text in a line, isolated from the figures and words beside it."""
        return isolated(text) if self.on and right_to_left(text) else text


def terminal_marks(stream: TextIO | None = None) -> TerminalMarks:
    """The marks for lines written to ``stream`` (default: stdout): on where it is a
    terminal that can show them. Not on Windows: its consoles lay no line out by the
    bidi algorithm, and one at a legacy code page printed each mark as ``\\u2068``."""
    stream = sys.stdout if stream is None else stream
    try:
        tty = stream.isatty()
        (ISOLATE + POP + LTR_ISOLATE + LTR_MARK).encode(
            getattr(stream, "encoding", None) or "utf-8")
    except (AttributeError, ValueError, LookupError, UnicodeEncodeError):
        return TerminalMarks(False)  # closed, odd, or an encoding without them
    return TerminalMarks(tty and sys.platform != "win32")
