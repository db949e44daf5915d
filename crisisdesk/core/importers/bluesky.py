"""Bluesky result pages: ``app.bsky.feed.searchPosts`` (``posts``) and
``app.bsky.feed.getAuthorFeed`` (``feed[].post``), one page a file or one a line.

A post's id is its ``at://`` URI (Bluesky's own identity of a post). The text is the
record's; images come from ``app.bsky.embed.images#view`` (fullsize URLs, recorded as
remote media), a video's thumbnail, or the media half of ``recordWithMedia``. A quote
links to the quoted post's URI, a reply to its parent; a repost in an author feed that
carries its own URI is a post linked to the original. Posts not found or blocked are
reported. Images keep their ``alt``; a sensitive-media label (see ``SENSITIVE_LABELS``)
from a moderation service or the poster marks the post sensitive.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from crisisdesk.core.importers.jsonsource import (
    as_dict,
    as_list,
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

PLATFORM = "bluesky"
IMAGES = "app.bsky.embed.images#view"
VIDEO = "app.bsky.embed.video#view"
RECORD = "app.bsky.embed.record#view"
RECORD_WITH_MEDIA = "app.bsky.embed.recordWithMedia#view"
UNAVAILABLE = ("#viewNotFound", "#viewBlocked", "#viewDetached", "#notFoundPost",
               "#blockedPost")
# Labels that put a post's media behind a warning in Bluesky's own apps ("gore" is the
# older name of "graphic-media").
SENSITIVE_LABELS = frozenset({"graphic-media", "gore", "nudity", "porn", "sexual"})


def _is_post_view(obj: Any) -> bool:
    return isinstance(obj, dict) and text_of(obj.get("uri")).startswith("at://")


def looks_like(obj: Any) -> bool:
    """Whether a JSON value is a searchPosts / getAuthorFeed page (or one post view)."""
    if not isinstance(obj, dict):
        return False
    posts, feed = obj.get("posts"), obj.get("feed")
    if isinstance(posts, list) and posts:
        return _is_post_view(posts[0])
    if isinstance(feed, list) and feed:
        return _is_post_view(as_dict(feed[0]).get("post"))
    return _is_post_view(obj) and isinstance(obj.get("record"), dict)


class BlueskyParser:
    """Turns result pages into post records."""

    def __init__(self, file: str, defaults: Mapping[str, str | None]) -> None:
        self.file, self.defaults = file, defaults

    @staticmethod
    def count(obj: Any) -> int:
        """How many posts a page holds (a progress estimate)."""
        page = as_dict(obj)
        return len(as_list(page.get("posts")) or as_list(page.get("feed"))) or 1

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]:
        """The records and problems of one page (or one post view)."""
        where = Where(self.file, number)
        if not isinstance(obj, dict):
            yield Problem(where, "not a Bluesky result page (expected a JSON object); skipped")
            return
        if isinstance(obj.get("posts"), list):
            entries = [(post, None) for post in obj["posts"]]
        elif isinstance(obj.get("feed"), list):
            entries = [(as_dict(e).get("post"), as_dict(e).get("reason")) for e in obj["feed"]]
        elif _is_post_view(obj):
            entries = [(obj, None)]
        else:
            yield Problem(where, "not a Bluesky result page (no 'posts' or 'feed'); skipped")
            return
        for view, reason in entries:
            yield from self._post(view, as_dict(reason), where)

    def _post(self, view: Any, reason: dict[str, Any], where: Where) -> Iterator[Parsed]:
        view = as_dict(view)
        uri = text_of(view.get("uri"))
        kind = text_of(view.get("$type"))
        if kind.endswith(UNAVAILABLE) or view.get("notFound") or view.get("blocked"):
            yield Problem(where, f"post {uri or '?'} not available (deleted or blocked); "
                                 "not imported", "warning")
            return
        if not uri.startswith("at://"):
            yield Problem(where, "a post without an at:// uri; skipped")
            return
        record = as_dict(view.get("record"))
        author = text_of(as_dict(view.get("author")).get("handle")) or None
        media, relation, original, problems = _embed(as_dict(view.get("embed")), where)
        yield from problems
        parent = text_of(as_dict(as_dict(record.get("reply")).get("parent")).get("uri"))
        if relation is None and parent:
            relation, original = "reply", parent
        langs = as_list(record.get("langs"))
        fields = {"platform": self.defaults.get("platform") or PLATFORM,
                  "language": text_of(langs[0]) or None if langs else None,
                  "event": self.defaults.get("event"),
                  "sensitive": _sensitive(view, record)}  # the repost's too
        yield PostRecord(
            post_id=uri, where=where, text=text_of(record.get("text")), author=author,
            created_at=text_of(record.get("createdAt")) or text_of(view.get("indexedAt"))
            or None, url=_web_url(author, uri), media=media, original_post_id=original,
            relation=relation, **fields)
        repost = text_of(reason.get("uri"))
        if text_of(reason.get("$type")).endswith("#reasonRepost") and repost:
            by = text_of(as_dict(reason.get("by")).get("handle")) or None
            yield PostRecord(
                post_id=repost, where=where, text=text_of(record.get("text")), author=by,
                created_at=text_of(reason.get("indexedAt")) or None,
                url=_web_url(author, uri),
                media=[MediaRef(m.declared, None, status=m.status, reason=m.reason,
                                quiet=m.quiet, alt_text=m.alt_text) for m in media],
                original_post_id=uri, relation="repost", **fields)


def _embed(embed: dict[str, Any], where: Where
           ) -> tuple[list[MediaRef], str | None, str | None, list[Problem]]:
    """Media, quote link and problems of a post's embed view."""
    kind = text_of(embed.get("$type"))
    media: list[MediaRef] = []
    relation = original = None
    problems: list[Problem] = []
    shown = as_dict(embed.get("media")) if kind == RECORD_WITH_MEDIA else embed
    shown_kind = text_of(shown.get("$type"))
    if shown_kind == IMAGES:
        media = [remote_ref(as_dict(i).get("fullsize") or as_dict(i).get("thumb"), "image",
                            as_dict(i).get("alt")) for i in as_list(shown.get("images"))]
    elif shown_kind == VIDEO:
        media = [remote_ref(shown.get("thumbnail"), "video thumbnail", shown.get("alt"))]
    if kind in (RECORD, RECORD_WITH_MEDIA):
        quoted = as_dict(embed.get("record"))
        if kind == RECORD_WITH_MEDIA:
            quoted = as_dict(quoted.get("record"))
        uri = text_of(quoted.get("uri"))
        if uri:
            relation, original = "quote", uri
        if text_of(quoted.get("$type")).endswith(UNAVAILABLE):
            problems.append(Problem(where, f"quoted post {uri or '?'} not available "
                                           "(deleted, blocked or detached)", "warning"))
    return media, relation, original, problems


def _sensitive(view: dict[str, Any], record: dict[str, Any]) -> bool | None:
    """Whether a post carries a sensitive-media label, from a moderation service (the
    view's ``labels``) or from the poster (the record's self-labels); None when the page
    shows no labels at all. A negating label (``neg``) does not count."""
    given, own = view.get("labels"), as_dict(record.get("labels"))
    if not isinstance(given, list) and not own:
        return None
    labels = [as_dict(v) for v in [*as_list(given), *as_list(own.get("values"))]]
    return any(text_of(v.get("val")) in SENSITIVE_LABELS and not v.get("neg")
               for v in labels)


def _web_url(handle: str | None, uri: str) -> str | None:
    if not handle:
        return None
    return f"https://bsky.app/profile/{handle}/post/{uri.rstrip('/').rsplit('/', 1)[-1]}"


def parse_bluesky(path: Path, defaults: Mapping[str, str | None]) -> Iterator[Parsed]:
    """Records of a Bluesky page file (one JSON page, or JSON Lines of pages)."""
    return parse_json_file(BlueskyParser(str(path), defaults), path, split_arrays=True)
