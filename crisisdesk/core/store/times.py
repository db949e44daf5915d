"""Times as the store writes them: ISO-8601 UTC with milliseconds and a Z, one width for
all, so that times compare (and sort) as text.

``post_time`` reads a post's time as platforms and collectors write it (ISO 8601 with any
offset, Twitter's classic ``Fri Sep 01 11:00:00 +0000 2017``, RFC 2822, Unix seconds or
milliseconds): stored as written, "sort by time" compared ``Fri ...`` with ``2017-...``
as text and put posts out of order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Unix time in seconds (10 digits) or milliseconds (13), as some exports give it.
_EPOCH = re.compile(r"\d{10}(\d{3})?(\.\d+)?")


# A 12-hour clock, which email.utils ignores: "2:03 PM" was read as 02:03.
_HALF_DAY = re.compile(r"\b[ap]\.?m\b\.?", re.IGNORECASE)
# How an RFC 2822 time without any zone ends: its clock, then (asctime) the year, or
# RFC 2822's -0000 ("zone not known"); a word there is a zone email.utils did not read.
_NO_ZONE_END = re.compile(r"(?:^|\s)\d{1,2}:\d{2}(?::\d{2})?(?:\s+(?:\d{4}|-0000))?$")
# Zone names email.utils reads that RFC 2822 does not define: AST is Atlantic time there
# (-4) and Arabia Standard Time (+3) in the Gulf, so a post from Riyadh was 7 h off. One
# in a comment after a numeric offset ("+0300 (AST)") is only a comment.
_NOT_RFC2822_ZONE = re.compile(r"(?:^|\s)(?:AST|ADT)(?:\s|$)", re.IGNORECASE)


def _rfc2822(text: str) -> datetime:
    """An RFC 2822 (or asctime) time; ValueError for a 12-hour clock, and for a zone
    email.utils does not know (IST, CEST, +05:30), which it reads as no zone: taken as
    UTC, a time in India would be 5 h 30 off without a word; and for the names it reads
    that RFC 2822 does not define (AST, ADT), each meaning two places."""
    if _HALF_DAY.search(text):
        raise ValueError("12-hour clock")
    if _NOT_RFC2822_ZONE.search(text):
        raise ValueError("zone name RFC 2822 does not define")
    moment = parsedate_to_datetime(text)
    if moment.tzinfo is None and not _NO_ZONE_END.search(text):
        raise ValueError("unknown zone")
    return moment


def _format_time(moment: datetime) -> str:
    """An aware time as the store writes times: ISO-8601 UTC with milliseconds and a Z,
    one width for all, so times compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time in the store's time format."""
    return _format_time(datetime.now(UTC))


def store_time(text: str) -> str:
    """An ISO-8601 time written elsewhere (an export's ``labelled_at``) in the store's
    format, so journal times compare as text; a time without a zone is taken as UTC.
    Raises ValueError when ``text`` is not an ISO-8601 time."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _format_time(parsed)


def post_time(text: str) -> str | None:
    """A post's time in the store's format (a time without a zone is taken as UTC), or
    None when ``text`` is no time this reads."""
    text = text.strip()
    if not text:
        return None
    moment: datetime | None = None
    if _EPOCH.fullmatch(text):
        seconds = float(text)
        moment = datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
    else:
        for parse in (datetime.fromisoformat,
                      lambda t: datetime.strptime(t, "%a %b %d %H:%M:%S %z %Y"),
                      _rfc2822):
            try:
                moment = parse(text)
                break
            except (ValueError, TypeError, IndexError):
                continue
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return _format_time(moment)
    except OverflowError:  # before year 1 or after 9999 once in UTC: a client's bad clock
        return None
