"""The detail panel's header: the line beside the image's buttons that names the item shown,
its event, its post time and its author, as an analyst reads them.

The event is shown with spaces for underscores (the store keeps the stored name); the
time, stored as ISO-8601 UTC, as "30 Aug 2017 14:02 UTC" in English month names whatever
the machine's locale, and a time the import could not read is marked so, as written.
Each part is a bidi isolate: the line is left to right, and an Arabic or Hebrew event
name took the neighbouring digits into its right-to-left run ("30 · سيول جدة Aug 2017").
The item id is marked by :func:`~crisisdesk.core.bidi.shown_uid`: in one isolate, a source
named in Arabic read ``0:1:فيضان``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from crisisdesk.core.review import ItemDetail
from crisisdesk.core.schemes import display_name
from crisisdesk.gui import style
from crisisdesk.core.bidi import isolated, shown_uid, unmarked
from crisisdesk.gui.wrapping import WrappingLabel

# Month names spelled out here: strftime("%b") follows the machine's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone(offset: timedelta) -> str:
    """"UTC" or "UTC+05:30": the offset the time was written with."""
    if not offset:
        return "UTC"
    sign, minutes = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    hours, rest = divmod(int(minutes.total_seconds()) // 60, 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def shown_time(stored: str | None) -> str:
    """A post's stored time as a person reads it ("30 Aug 2017 14:02 UTC"), or what is
    known of it: none given, or one the import could not read, as written."""
    if not stored:
        return "no time given"
    try:
        moment = datetime.fromisoformat(stored)
    except ValueError:  # kept as written by the import, with a warning then
        return f"time not read: {stored}"
    if moment.tzinfo is None:  # the store's rule: a time without a zone is UTC
        moment = moment.replace(tzinfo=UTC)
    return (f"{moment.day} {MONTHS[moment.month - 1]} {moment.year:04d} "
            f"{moment.hour:02d}:{moment.minute:02d} {_zone(moment.utcoffset())}")


def _parts(detail: ItemDetail) -> list[str]:
    """The header's parts after the item id, as words: event, time, @author (if known)."""
    row = detail.row
    parts = [display_name(row.event) if row.event else None,
             shown_time(row.created_at), detail.author and f"@{detail.author}"]
    return [part for part in parts if part]


def header_html(detail: ItemDetail) -> str:
    """The header's rich text for ``detail``: uid · event · time · @author, each part
    isolated for direction and escaped (an event or handle may hold "<" or "&")."""
    shown = " · ".join(html.escape(part) for part in
                       [shown_uid(detail.row.uid), *map(isolated, _parts(detail))])
    return f"<span style='color:{style.MUTED}'>{shown}</span>"


def header_words(detail: ItemDetail) -> str:
    """What a screen reader says for the header: its parts without the direction marks
    (read out with the words) and the breaks of long words that the painted line needs."""
    return ", ".join([detail.row.uid, *_parts(detail)])


class DetailHeader(WrappingLabel):
    """The header label; what is copied from it leaves the direction isolates out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)  # a source's name in the uid can be long: wraps
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_detail(self, detail: ItemDetail | None) -> None:
        """Show the header of ``detail`` (None: no item, an empty header)."""
        self.setText(header_html(detail) if detail is not None else "")
        self.setAccessibleName(header_words(detail) if detail is not None else "")

    def selectedText(self) -> str:  # noqa: N802 - Qt's name
        # A copied uid pasted into the search box must match: no invisible marks in it.
        return unmarked(super().selectedText())
