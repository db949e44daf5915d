"""X (Twitter) API v2 responses as twarc2 writes them: JSON Lines, one response page a
line (``data``, ``includes.users``, ``includes.media``, ``includes.tweets``, ``errors``),
or twarc2's flattened lines (one tweet a line with its author and media inlined).

Retweets, quotes and replies keep the platform id of the tweet they point to
(``original_post_id`` with relation repost / quote / reply), so duplicates can be grouped
later; the original of a retweet or quote is imported too when the page includes it.
Tweets the API could not return (deleted, protected, suspended) and withheld tweets are
reported. Photos are recorded as remote media (the URL), fetched only on request, with
their ``alt_text``; a tweet's ``possibly_sensitive`` (or its retweeted original's) marks
the post sensitive.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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

PLATFORM = "x"
# referenced_tweets types, strongest link first: a retweet that is also a reply is a repost.
RELATIONS = (("retweeted", "repost"), ("quoted", "quote"), ("replied_to", "reply"))


def looks_like(obj: Any) -> bool:
    """Whether a JSON value is a twarc2 response page or a flattened twarc2 tweet."""
    if not isinstance(obj, dict):
        return False
    if "data" in obj or "errors" in obj:
        data = obj.get("data")
        first = data[0] if isinstance(data, list) and data else data
        tweetish = isinstance(first, dict) and "id" in first and "text" in first
        return tweetish or any(k in obj for k in ("includes", "meta", "__twarc"))
    return "id" in obj and "text" in obj and ("__twarc" in obj or "edit_history_tweet_ids" in obj)


def _flat_to_page(tweet: dict[str, Any]) -> dict[str, Any]:
    """A flattened tweet (author, media and referenced tweets inlined) as a page."""
    refs = [r for r in as_list(tweet.get("referenced_tweets")) if isinstance(r, dict)]
    media = list(as_list(as_dict(tweet.get("attachments")).get("media")))
    users = [tweet["author"]] if isinstance(tweet.get("author"), dict) else []
    for ref in refs:
        media.extend(as_list(as_dict(ref.get("attachments")).get("media")))
        if isinstance(ref.get("author"), dict):
            users.append(ref["author"])
    return {"data": [tweet], "includes": {
        "users": users, "media": media, "tweets": [r for r in refs if "text" in r]}}


class TwarcParser:
    """Turns twarc2 pages into post records; remembers the tweets already yielded."""

    def __init__(self, file: str, defaults: Mapping[str, str | None]) -> None:
        self.file, self.defaults = file, defaults
        self.done: set[str] = set()

    @staticmethod
    def count(obj: Any) -> int:
        """How many tweets a page holds (a progress estimate)."""
        data = as_dict(obj).get("data")
        return len(data) if isinstance(data, list) else 1

    def feed(self, number: int, obj: Any) -> Iterator[Parsed]:
        """The records and problems of one page (line ``number`` of the file)."""
        where = Where(self.file, number)
        if not looks_like(obj):
            yield Problem(where, "not an X API v2 response page (no 'data' with tweets); "
                                 "line skipped")
            return
        if "data" not in obj and "errors" not in obj:
            obj = _flat_to_page(obj)
        includes = as_dict(obj.get("includes"))
        users = {str(u["id"]): u for u in as_list(includes.get("users"))
                 if isinstance(u, dict) and "id" in u}
        media = {str(m["media_key"]): m for m in as_list(includes.get("media"))
                 if isinstance(m, dict) and "media_key" in m}
        tweets = {str(t["id"]): t for t in as_list(includes.get("tweets"))
                  if isinstance(t, dict) and "id" in t}
        data = obj.get("data")
        for tweet in data if isinstance(data, list) else [data] if data else []:
            yield from self._tweet(tweet, where, users, media, tweets)
        for error in as_list(obj.get("errors")):
            yield Problem(where, _describe_error(as_dict(error)), "warning")

    def _tweet(self, tweet: Any, where: Where, users: dict[str, Any],
               media: dict[str, Any], tweets: dict[str, Any]) -> Iterator[Parsed]:
        if not isinstance(tweet, dict) or not tweet.get("id"):
            yield Problem(where, "a tweet without an id; skipped")
            return
        tweet_id = str(tweet["id"])
        self.done.add(tweet_id)
        refs = {str(r.get("type")): str(r.get("id")) for r in
                as_list(tweet.get("referenced_tweets")) if isinstance(r, dict)}
        relation = original = None
        for kind, name in RELATIONS:
            if kind in refs:
                relation, original = name, refs[kind]
                break
        author = _handle(users, tweet)
        text = _full_text(tweet)
        shown = tweet  # whose media the post shows
        if relation == "repost" and original in tweets:
            # A retweet's own text is cut short; the original holds the whole of it.
            shown = tweets[original]
            text = f"RT @{_handle(users, shown)}: {_full_text(shown)}"
        keys = _media_keys(tweet) or (_media_keys(shown) if shown is not tweet else [])
        withheld = as_dict(tweet.get("withheld"))
        if withheld:
            places = ", ".join(as_list(withheld.get("country_codes"))) or "some countries"
            yield Problem(where, f"tweet {tweet_id} is withheld in {places}"
                                 f"{' (copyright)' if withheld.get('copyright') else ''}; "
                                 "imported as the page holds it", "warning")
        yield PostRecord(
            post_id=tweet_id, where=where, text=text,
            platform=self.defaults.get("platform") or PLATFORM, author=author,
            created_at=text_of(tweet.get("created_at")) or None,
            language=text_of(tweet.get("lang")) or None,
            url=f"https://x.com/{author or 'i'}/status/{tweet_id}",
            event=self.defaults.get("event"),
            media=[_media_ref(key, media) for key in keys],
            original_post_id=original, relation=relation,
            # A retweet shows the original's media: the original's mark counts too.
            sensitive=flag_of(tweet.get("possibly_sensitive"), shown.get("possibly_sensitive")))
        if relation in ("repost", "quote") and original in tweets and original not in self.done:
            yield from self._tweet(tweets[original], where, users, media, tweets)


def _full_text(tweet: dict[str, Any]) -> str:
    # Tweets over 280 characters carry their whole text in note_tweet.
    return text_of(as_dict(tweet.get("note_tweet")).get("text")) or text_of(tweet.get("text"))


def _handle(users: dict[str, Any], tweet: dict[str, Any]) -> str | None:
    user = users.get(str(tweet.get("author_id"))) or as_dict(tweet.get("author"))
    return text_of(user.get("username")) or (str(tweet["author_id"])
                                             if tweet.get("author_id") else None)


def _media_keys(tweet: dict[str, Any]) -> list[str]:
    return [str(k) for k in as_list(as_dict(tweet.get("attachments")).get("media_keys"))]


def _media_ref(key: str, media: dict[str, Any]) -> MediaRef:
    entry = media.get(key)
    if entry is None:
        return MediaRef(f"media_key:{key}", None, status="missing",
                        reason=f"media {key} is not in the page's includes.media")
    # Videos and GIFs: their preview still is the image a person (and a model) looks at.
    url = entry.get("url") if entry.get("type") == "photo" else entry.get("preview_image_url")
    return remote_ref(url or entry.get("url") or entry.get("preview_image_url"),
                      f"media {key}", entry.get("alt_text"))


def _describe_error(error: dict[str, Any]) -> str:
    """An API error entry (a deleted, protected or suspended tweet or user) as a line."""
    kind = error.get("resource_type") or "resource"
    ident = error.get("resource_id") or error.get("value") or "?"
    title = error.get("title") or "error"
    detail = error.get("detail") or error.get("message") or ""
    why = {"Not Found Error": "deleted or never existed",
           "Authorization Error": "protected or suspended"}.get(str(title), str(title))
    return f"{kind} {ident} not available ({why}: {detail}); not imported"


def parse_twarc(path: Path, defaults: Mapping[str, str | None]) -> Iterator[Parsed]:
    """Records of a twarc2 JSON Lines file."""
    return parse_json_file(TwarcParser(str(path), defaults), path)
