"""Mastodon API Status entities (a hashtag or public timeline as a collector saves it):
a JSON array of statuses, or JSON Lines of statuses or of streaming events.

The HTML content becomes plain text (the stdlib html.parser; a content warning is kept
in front). A reblog is a post of its own linked to the original (relation repost), and
the original is imported too; a quote (Mastodon 4.4) links to the quoted status, a reply
to its parent. ``media_attachments`` are recorded as remote media: an image's URL, or a
video's or GIF's preview still, with the attachment's ``description`` as alt text; the
status's ``sensitive`` (or its reblogged original's) marks the post sensitive. A
streaming ``delete`` event is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from crisisdesk.core.importers.jsonsource import (
    as_dict,
    as_list,
    flag_of,
    parse_json_file,
    remote_ref,
    text_of,
)
from crisisdesk.core.importers.records import (
    MediaRef,
    Parsed,
    PostRecord,
    Problem,
    Where,
)

PLATFORM = "mastodon"


def looks_like(obj: Any) -> bool:
    """Whether a JSON value is a Mastodon Status (or a streaming event carrying one)."""
    if isinstance(obj, list):
        return bool(obj) and looks_like(obj[0])
    if not isinstance(obj, dict):
        return False
    if "event" in obj and "payload" in obj:
        return obj["event"] in ("update", "status.update", "delete")
    return "id" in obj and "content" in obj and isinstance(obj.get("account"), dict)


class _PlainText(HTMLParser):
    """Collects the text of Mastodon's HTML: paragraphs and line breaks become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        # Mastodon splits long links into "invisible" and "ellipsis" spans: keeping every
        # span's text gives the whole URL back.
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of a status's HTML content."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\r", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class MastodonParser:
    """Turns statuses into post records; remembers the statuses already yielded."""

    def __init__(self, file: str, defaults: Mapping[str, str | None]) -> None:
        self.file, self.defaults = file, defaults
        self.done: set[str] = set()

    @staticmethod
    def count(obj: Any) -> int:
        """How many statuses a value holds (a progress estimate)."""
        return len(obj) if isinstance(obj, list) else 1

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]:
        """The records and problems of one status, event, or array of statuses."""
        where = Where(self.file, number)
        if isinstance(obj, list):
            for status in obj:
                yield from self.feed(number, status)
            return
        if isinstance(obj, dict) and "event" in obj and "payload" in obj:
            yield from self._event(obj, where)
            return
        if not looks_like(obj):
            yield Problem(where, "not a Mastodon status (needs id, content and account); "
                                 "skipped")
            return
        yield from self._status(obj, where)

    def _event(self, event: dict[str, Any], where: Where) -> Iterator[Parsed]:
        kind, payload = event.get("event"), event.get("payload")
        if kind == "delete":
            yield Problem(where, f"status {payload} was deleted (stream event); not "
                                 "imported, or kept as imported before", "warning")
            return
        if kind not in ("update", "status.update"):
            return  # notifications, filters: nothing to import
        try:
            status = json.loads(payload) if isinstance(payload, str) else payload
        except json.JSONDecodeError as exc:
            yield Problem(where, f"stream event payload is malformed JSON: {exc.msg}; skipped")
            return
        yield from self.feed(where.row or 0, status)

    def _status(self, status: dict[str, Any], where: Where) -> Iterator[Parsed]:
        status_id = str(status["id"])
        self.done.add(status_id)
        reblog = status.get("reblog")
        quote = as_dict(status.get("quote"))
        quoted = as_dict(quote.get("quoted_status"))
        # A Quote holds the quoted status; a ShallowQuote (a quote inside a quoted
        # status) only its id.
        quoted_id = quoted.get("id") or quote.get("quoted_status_id")
        shown = reblog if isinstance(reblog, dict) else status
        relation = original = None
        if isinstance(reblog, dict) and reblog.get("id"):
            relation, original = "repost", str(reblog["id"])
        elif quoted_id:
            relation, original = "quote", str(quoted_id)
        elif status.get("in_reply_to_id"):
            relation, original = "reply", str(status["in_reply_to_id"])
        if quote and not quoted_id:
            state = text_of(quote.get("state")) or "unknown state"
            yield Problem(where, f"status {status_id} quotes a post that is not available "
                                 f"({state}); imported without the link", "warning")
        text = html_to_text(text_of(shown.get("content")))
        warning = text_of(shown.get("spoiler_text")).strip()
        if warning:
            text = f"CW: {warning}\n\n{text}"
        account = as_dict(status.get("account"))
        yield PostRecord(
            post_id=status_id, where=where, text=text,
            platform=self.defaults.get("platform") or PLATFORM,
            author=text_of(account.get("acct")) or text_of(account.get("username")) or None,
            created_at=text_of(status.get("created_at")) or None,
            language=text_of(shown.get("language")) or None,
            url=text_of(status.get("url")) or text_of(status.get("uri")) or None,
            event=self.defaults.get("event"),
            media=[_media_ref(a) for a in as_list(shown.get("media_attachments"))
                   if _is_visual(a)],
            original_post_id=original, relation=relation,
            sensitive=flag_of(status.get("sensitive"), shown.get("sensitive")))
        target = reblog if relation == "repost" else quoted if relation == "quote" else None
        if isinstance(target, dict) and looks_like(target) and original not in self.done:
            yield from self._status(target, where)


def _is_visual(attachment: Any) -> bool:
    # Audio has no image to classify; everything else has a picture or a preview still.
    return isinstance(attachment, dict) and attachment.get("type") != "audio"


def _media_ref(attachment: dict[str, Any]) -> MediaRef:
    kind = attachment.get("type")
    if kind == "image":
        url = attachment.get("url") or attachment.get("remote_url")
    elif kind == "unknown":
        # The instance could not process the file: only the origin's copy exists.
        url = attachment.get("remote_url") or attachment.get("url")
    else:  # gifv, video: the preview still
        url = attachment.get("preview_url") or attachment.get("url")
    return remote_ref(url, f"attachment {attachment.get('id', '?')}",
                      attachment.get("description"))


def parse_mastodon(path: Path, defaults: Mapping[str, str | None]) -> Iterator[Parsed]:
    """Records of a Mastodon JSON array or JSON Lines file."""
    return parse_json_file(MastodonParser(str(path), defaults), path)
