"""Direction marks for text the app shows that mixes scripts: item ids and the parts of
a line, so that an Arabic or Hebrew name does not reorder the text around it.

An item id ``<source>:<post id>:<n>`` of a source named in Arabic (``فيضان:12:0``) is
a right-to-left run that takes the numbers after it in: shown as it is, or in one
first-strong isolate, it read ``12:0:فيضان`` or ``0:12:فيضان``. :func:`shown_uid` lays
it out left to right as a whole, each part in an isolate of its own, after a
left-to-right mark: Qt takes a line's direction from its first letter, inside an isolate
or not, so a header or tooltip line the id starts was right to left (the header's parts
in reverse order) without it.
"""

from __future__ import annotations

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
    """``text`` without the marks of this module: what is copied must match the search
    box and the CLI, which know no invisible marks."""
    for mark in MARKS:
        text = text.replace(mark, "")
    return text
