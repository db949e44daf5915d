"""Captions, cached by the key of ARCHITECTURE.md: (image sha256, sha256 of the tweet text,
captioner, prompt version).

The prompt holds the tweet, so the same photo posted with two texts gets two captions,
and a reposted photo with the same text is captioned once. A new prompt version or
captioner leaves the old captions in place. A caption that came back empty or degenerate
(one token or phrase looping) is stored with a ``flag`` so it is not asked for again, and
is never used as an item's text.

Which caption an item's text uses (``item_texts``, the detail panel) when several exist:
the newest unflagged one of its (image, tweet) pair, whatever the captioner and prompt
version, because the newest is the one an analyst last asked for; a caller may pin a
captioner and prompt version instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from crisisdesk.core.store.db import StoreBase, utc_now
from crisisdesk.core.store.embeddings import text_key

#: SQL for the caption an item's (image, tweet) pair shows, newest unflagged first; the
#: outer query names the image hash ``m.sha256`` and the tweet ``p.text``. Two optional
#: parameters pin the captioner and the prompt version (NULL: any).
CURRENT_CAPTION_SQL = (
    "(SELECT c.caption FROM captions c WHERE c.image_sha256 = m.sha256"
    " AND c.text_sha256 = text_key(p.text) AND c.flag IS NULL"
    " AND (?1 IS NULL OR c.captioner = ?1) AND (?2 IS NULL OR c.prompt_version = ?2)"
    " ORDER BY c.created_at DESC, c.rowid DESC LIMIT 1)"
)

#: The items (``i``) whose text holds a caption, each with that caption's row (``k``):
#: the same choice as CURRENT_CAPTION_SQL, by its rowid; ``WHERE i.id IN (...)`` follows,
#: after the two pinning parameters.
_CURRENT_CAPTION_ROWS_SQL = (
    "SELECT i.id, k.caption, k.captioner, k.prompt_version, k.flag, k.model, k.created_at"
    " FROM items i JOIN posts p ON p.id = i.post JOIN media m ON m.id = i.media"
    " JOIN captions k ON k.rowid = "
    + CURRENT_CAPTION_SQL.replace("SELECT c.caption ", "SELECT c.rowid "))


def register_text_key(conn: sqlite3.Connection) -> None:
    """Make ``text_key(text)`` callable in SQL, so the cache look-ups run in the database
    (posts keep no text hash; computing it in SQLite spares loading every caption)."""
    conn.create_function("text_key", 1, lambda t: text_key(t or ""), deterministic=True)


@dataclass(frozen=True)
class CaptionTodo:
    """An (image, tweet text) pair with no caption yet from one captioner and prompt."""

    image_sha256: str
    tweet_text: str
    path: str
    items: int  # how many items show this photo with this text

    @property
    def text_sha256(self) -> str:
        return text_key(self.tweet_text)


@dataclass(frozen=True)
class NewCaption:
    """A caption to store for an (image, tweet text) pair; ``flag`` marks a bad one."""

    image_sha256: str
    tweet_text: str
    caption: str
    flag: str | None = None


@dataclass(frozen=True)
class StoredCaption:
    """A stored caption, as the app's detail panel shows it."""

    caption: str
    captioner: str
    prompt_version: str
    flag: str | None
    model: str | None
    created_at: str


def current_captions(conn: sqlite3.Connection, items: Sequence[int]
                     ) -> dict[int, StoredCaption]:
    """The caption each of ``items``' text holds (the one ``item_texts`` appends), for the
    items whose text holds one: one query per 500 items, never one per item (an export
    of 100,000 items reads them all). ``conn`` needs :func:`register_text_key` first,
    done before any of its statements is in progress (an export's cursor): SQLite
    refuses to define a function while one is."""
    out: dict[int, StoredCaption] = {}
    ids = list(items)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(
                _CURRENT_CAPTION_ROWS_SQL + f" WHERE i.id IN ({','.join('?' * len(chunk))})",
                [None, None, *chunk]):
            out[row[0]] = StoredCaption(*row[1:])
    return out


@dataclass(frozen=True)
class CaptionCounts:
    """Where a project stands for one captioner and prompt version."""

    items: int
    without_image: int  # text-only items and items whose image file was not found
    unreadable_image: int
    pairs: int  # distinct (readable image, tweet text) pairs: what gets captioned
    captioned: int  # of ``pairs``, those with a caption (flagged ones included)

    @property
    def to_caption(self) -> int:
        return self.pairs - self.captioned


class CaptionsMixin(StoreBase):
    """Functions over the captions cache."""

    _text_key_ready = False

    def _with_text_key(self) -> None:
        if not self._text_key_ready:
            register_text_key(self.conn)
            self._text_key_ready = True

    def add_caption(self, image_sha256: str, tweet_text: str, captioner: str,
                    prompt_version: str, caption: str, *, flag: str | None = None,
                    model: str | None = None) -> None:
        """Store one caption under its cache key (replacing one with the same key)."""
        self.put_captions(captioner, prompt_version,
                          [NewCaption(image_sha256, tweet_text, caption, flag)], model=model)

    def put_captions(self, captioner: str, prompt_version: str,
                     captions: Sequence[NewCaption], *, model: str | None = None) -> None:
        """Store a batch of captions in one transaction: all land, or none."""
        now = utc_now()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO captions (image_sha256, text_sha256, captioner,"
                " prompt_version, caption, created_at, flag, model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.image_sha256, text_key(c.tweet_text), captioner, prompt_version,
                  c.caption, now, c.flag, model) for c in captions],
            )

    def captions_to_do(self, captioner: str, prompt_version: str, *, page: int = 2048
                       ) -> Iterator[list[CaptionTodo]]:
        """The (readable image, tweet text) pairs without a caption from ``captioner`` with
        ``prompt_version``, in pages of about ``page`` images (by image hash order).

        Each page is read when asked for, so a job can commit captions between pages and
        memory stays flat for any project size. A pair that failed earlier in the same run
        is not offered again (the pages move on); the next run retries it.
        """
        self._with_text_key()
        last = ""
        while True:
            shas = [r[0] for r in self._all(
                "SELECT DISTINCT sha256 FROM media WHERE status = 'ok' AND sha256 > ?"
                " ORDER BY sha256 LIMIT ?", [last, page])]
            if not shas:
                return
            # CROSS JOIN keeps media the outer loop (a range of its sha256 index), and the
            # items are found by their (post, n) index: a page costs its own rows only.
            rows = self._all(
                "SELECT m.sha256, p.text, MIN(m.path) AS path, COUNT(*) AS n FROM media m"
                " CROSS JOIN items i ON i.post = m.post AND i.n = m.n AND i.media = m.id"
                " JOIN posts p ON p.id = i.post"
                " WHERE m.status = 'ok' AND m.sha256 BETWEEN ? AND ? AND NOT EXISTS ("
                "   SELECT 1 FROM captions c WHERE c.image_sha256 = m.sha256"
                "   AND c.text_sha256 = text_key(p.text) AND c.captioner = ?"
                "   AND c.prompt_version = ?)"
                " GROUP BY m.sha256, p.text ORDER BY m.sha256, p.text",
                [shas[0], shas[-1], captioner, prompt_version])
            last = shas[-1]
            todo = [CaptionTodo(r["sha256"], r["text"] or "", r["path"], r["n"]) for r in rows]
            if todo:
                yield todo

    def caption_counts(self, captioner: str, prompt_version: str) -> CaptionCounts:
        """Items, items without a usable image, and pairs captioned or still to caption."""
        self._with_text_key()
        row = self._one(
            "SELECT COUNT(*) AS items,"
            " COALESCE(SUM(i.media IS NULL OR m.status = 'missing'), 0) AS without_image,"
            " COALESCE(SUM(m.status = 'unreadable'), 0) AS unreadable"
            " FROM items i LEFT JOIN media m ON m.id = i.media")
        pairs = self._one(
            "SELECT COUNT(*) AS pairs, COALESCE(SUM(EXISTS ("
            "   SELECT 1 FROM captions c WHERE c.image_sha256 = k.sha256"
            "   AND c.text_sha256 = text_key(k.text) AND c.captioner = ?"
            "   AND c.prompt_version = ?)), 0) AS captioned"
            " FROM (SELECT DISTINCT m.sha256, p.text FROM media m"
            "       JOIN items i ON i.media = m.id JOIN posts p ON p.id = i.post"
            "       WHERE m.status = 'ok' AND m.sha256 IS NOT NULL) k",
            [captioner, prompt_version])
        assert row is not None and pairs is not None
        return CaptionCounts(row["items"], row["without_image"], row["unreadable"],
                             pairs["pairs"], pairs["captioned"])

    def item_captions(self, item: int) -> list[StoredCaption]:
        """Every caption of an item's (image, tweet) pair, newest first (flagged included)."""
        self._with_text_key()
        rows = self._all(
            "SELECT c.caption, c.captioner, c.prompt_version, c.flag, c.model, c.created_at"
            " FROM items i JOIN media m ON m.id = i.media JOIN posts p ON p.id = i.post"
            " JOIN captions c ON c.image_sha256 = m.sha256"
            "  AND c.text_sha256 = text_key(p.text)"
            " WHERE i.id = ? ORDER BY c.created_at DESC, c.rowid DESC", [item])
        return [StoredCaption(*row) for row in rows]

    def item_caption(self, item: int, *, captioner: str | None = None,
                     prompt_version: str | None = None) -> StoredCaption | None:
        """The caption an item's text uses: the newest unflagged one (of ``captioner`` /
        ``prompt_version`` when given). None when there is none."""
        for caption in self.item_captions(item):
            if caption.flag is None and captioner in (None, caption.captioner) and \
                    prompt_version in (None, caption.prompt_version):
                return caption
        return None

    def caption_sources(self, items: Sequence[int]) -> dict[int, str]:
        """The captioner of the caption each item's text holds (the caption ``item_texts``
        appends), for the items whose text holds one."""
        self._with_text_key()
        return {item: caption.captioner
                for item, caption in current_captions(self.conn, items).items()}

    def caption_rows(self, captioner: str, prompt_version: str) -> list[dict[str, Any]]:
        """Every caption of one captioner and prompt version (for reports and tests)."""
        return [dict(r) for r in self._all(
            "SELECT image_sha256, text_sha256, caption, flag, model, created_at FROM captions"
            " WHERE captioner = ? AND prompt_version = ? ORDER BY image_sha256, text_sha256",
            [captioner, prompt_version])]
