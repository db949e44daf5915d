"""Posts, their media and their items: the store's write and lookup functions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from crisisdesk.core.bidi import unmarked
from crisisdesk.core.imaging import ImageFacts
from crisisdesk.core.store.db import StoreBase, utc_now
from crisisdesk.core.store.schema import MEDIA_STATUSES, POST_RELATIONS, SPLITS
from crisisdesk.core.words import both_names

BASE_POST_FIELDS = ("platform", "author", "created_at", "text", "language", "url", "event")
LINK_FIELDS = ("original_post_id", "relation")  # schema v5: reposts, quotes, replies
OPTIONAL_FIELDS = LINK_FIELDS + ("sensitive",)  # named only when set (see insert_post)
POST_FIELDS = BASE_POST_FIELDS + OPTIONAL_FIELDS


def item_uid(source: str, post_id: str, n: int) -> str:
    """The item id of ARCHITECTURE.md: ``<source>:<post id>:<n>``."""
    return f"{source}:{post_id}:{n}"


@dataclass(frozen=True)
class PostRow:
    """A stored post as lookups return it."""

    id: int
    source: str
    post_id: str
    text: str


@dataclass(frozen=True)
class RemoteMedia:
    """Media known by URL only (or refused earlier, when retrying): what a fetch needs."""

    id: int
    url: str
    status: str
    uid: str  # the item showing it, to name it in a report


@dataclass(frozen=True)
class WatchedFile:
    """How far a watched file has been imported: the byte after the last complete line
    read (``offset``) and that line's number, with the size and mtime seen then, and the
    file's fingerprint at that offset (``anchor``: None when there is none to check)."""

    path: str
    source: str
    format: str
    offset: int
    line: int
    size: int
    mtime: float
    anchor: str | None = None


@dataclass(frozen=True)
class ItemRow:
    """A stored item: one image-text pair (``media`` None for a text-only item)."""

    id: int
    uid: str
    post: int
    n: int
    media: int | None
    declared_path: str | None = None


class PostsMixin(StoreBase):
    """Functions over sources, posts, media, items and splits."""

    def ensure_source(self, name: str, kind: str, location: str) -> str | None:
        """Record an import source; return a warning when the name was used elsewhere."""
        now = utc_now()
        row = self._one("SELECT location FROM sources WHERE name = ?", [name])
        if row is None:
            self.conn.execute(
                "INSERT INTO sources (name, kind, location, first_imported, last_imported)"
                " VALUES (?, ?, ?, ?, ?)",
                [name, kind, location, now, now],
            )
            return None
        self.conn.execute("UPDATE sources SET last_imported = ? WHERE name = ?", [now, name])
        if row["location"] != location:
            return (
                f"source name {name!r} was first used for {row['location']}; posts with the "
                "same ids merge (give another source name to keep the two apart: "
                f"{both_names('Source name', '--source NAME')})"
            )
        return None

    def source_location(self, name: str) -> str | None:
        """Where the source of this name was first imported from, or None for a name not
        used yet (an import picks a name for a new file with it)."""
        row = self._one("SELECT location FROM sources WHERE name = ?", [name])
        return row["location"] if row else None

    def find_post(self, source: str, post_id: str) -> PostRow | None:
        """The post with this identity, or None."""
        row = self._one(
            "SELECT id, source, post_id, text FROM posts WHERE source = ? AND post_id = ?",
            [source, post_id],
        )
        return PostRow(row["id"], row["source"], row["post_id"], row["text"]) if row else None

    def insert_post(self, source: str, post_id: str, **fields: str | bool | None) -> int:
        """Add a post and return its row id (the caller checked it does not exist).

        ``sensitive`` is True or False where the source says, else None (unknown)."""
        unknown = set(fields) - set(POST_FIELDS)
        if unknown:
            raise ValueError(f"unknown post fields: {sorted(unknown)}")
        values = {f: fields.get(f) for f in POST_FIELDS}
        values["text"] = values["text"] or ""
        if values["relation"] is not None and values["relation"] not in POST_RELATIONS:
            raise ValueError(f"post relation must be one of {POST_RELATIONS}, "
                             f"not {values['relation']!r}")
        if values["sensitive"] is not None:
            values["sensitive"] = int(bool(values["sensitive"]))
        # Link and sensitive columns are named only when set, so a post without them is
        # written the same way into a store built at an older schema version (as
        # migration tests do).
        names = [*BASE_POST_FIELDS, *(f for f in OPTIONAL_FIELDS if values[f] is not None)]
        cursor = self.conn.execute(
            f"INSERT INTO posts (source, post_id, {', '.join(names)}, imported_at)"
            f" VALUES (?, ?, {', '.join('?' * len(names))}, ?)",
            [source, post_id, *(values[f] for f in names), utc_now()],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def items_of_post(self, post: int) -> list[ItemRow]:
        """The items of a post in media order, with the path each image was given as."""
        rows = self._all(
            "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM items i"
            " LEFT JOIN media m ON m.id = i.media WHERE i.post = ? ORDER BY i.n",
            [post],
        )
        return [ItemRow(*row) for row in rows]

    def add_text_item(self, post: int, source: str, post_id: str) -> int:
        """Add the single text-only item of a post without media."""
        cursor = self.conn.execute(
            "INSERT INTO items (uid, post, n, media) VALUES (?, ?, 0, NULL)",
            [item_uid(source, post_id, 0), post],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_media_item(
        self,
        post: int,
        source: str,
        post_id: str,
        n: int,
        *,
        path: str | None,
        declared_path: str,
        external_id: str | None = None,
        status: str,
        reason: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        url: str | None = None,
        alt_text: str | None = None,
    ) -> int:
        """Add media number ``n`` of a post and its item; return the item's row id.

        A text-only item already at ``n`` (the post was first seen without its image)
        becomes this image's item, so its labels stay with it. Remote media (a URL a
        collector wrote) keep the URL, by default the declared path, to be fetched later.
        ``alt_text`` is the poster's description of the image, where the source has one.
        """
        if status not in MEDIA_STATUSES:
            raise ValueError(f"media status must be one of {MEDIA_STATUSES}, not {status!r}")
        if url is None and status == "remote":
            url = declared_path
        columns = {"post": post, "n": n, "path": path, "declared_path": declared_path,
                   "sha256": sha256, "size": size, "width": width, "height": height,
                   "status": status, "reason": reason}
        # Later columns are named only when set (older schema versions lack them).
        columns.update({k: v for k, v in (("url", url), ("alt_text", alt_text)) if v})
        cursor = self.conn.execute(
            f"INSERT INTO media ({', '.join(columns)}) VALUES"
            f" ({', '.join('?' * len(columns))})", list(columns.values()),
        )
        media = cursor.lastrowid
        existing = self._one(
            "SELECT id FROM items WHERE post = ? AND n = ? AND media IS NULL", [post, n]
        )
        if existing is not None:
            self.conn.execute("UPDATE items SET media = ?, external_id = ? WHERE id = ?",
                              [media, external_id, existing["id"]])
            return int(existing["id"])
        cursor = self.conn.execute(
            "INSERT INTO items (uid, post, n, media, external_id) VALUES (?, ?, ?, ?, ?)",
            [item_uid(source, post_id, n), post, n, media, external_id],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def mark_sensitive(self, post: int, sensitive: bool) -> None:
        """Record what a re-import says about a post's sensitivity: an unknown one is
        filled, and a mark given since is kept (the safer side: the image gets blurred);
        an earlier mark is never taken back."""
        self.conn.execute(
            "UPDATE posts SET sensitive = ? WHERE id = ? AND (sensitive IS NULL OR"
            " sensitive < ?)", [int(sensitive), post, int(sensitive)])

    def fill_alt_text(self, media: int, alt_text: str) -> None:
        """Give media the poster's description when it has none yet (the first kept)."""
        self.conn.execute(
            "UPDATE media SET alt_text = ? WHERE id = ? AND COALESCE(alt_text, '') = ''",
            [alt_text, media])

    def missing_media_paths(self, post: int) -> set[str]:
        """Declared paths of a post's media recorded as missing (to attach later)."""
        # "+status": SQLite otherwise picked the index on (status, id) and read every
        # missing media row of the project for each post (a re-import of 30,000 rows
        # without their images: 116 s against 4.5 s); the post's own rows are few.
        return {r[0] for r in self._all(
            "SELECT declared_path FROM media WHERE post = ? AND +status = 'missing'", [post])}

    def update_missing_media(self, media: int | None, path: str, facts: ImageFacts) -> bool:
        """Attach a file to media recorded as missing; True when it is now found."""
        if media is None or facts.status == "missing":
            return False
        cursor = self.conn.execute(
            "UPDATE media SET path = ?, sha256 = ?, size = ?, width = ?, height = ?,"
            " status = ?, reason = ? WHERE id = ? AND status = 'missing'",
            [path, facts.sha256, facts.size, facts.width, facts.height, facts.status,
             facts.reason, media],
        )
        return cursor.rowcount > 0

    def remote_media(self, after: int = 0, limit: int = 256,
                     retry_unreadable: bool = False) -> list[RemoteMedia]:
        """Media still to fetch, in id order after ``after``: status remote (and, when
        retrying, unreadable ones that came from a URL)."""
        statuses = ("remote", "unreadable") if retry_unreadable else ("remote",)
        rows = self._all(
            "SELECT m.id, m.url, m.status, i.uid FROM media m JOIN items i ON i.media = m.id"
            f" WHERE m.status IN ({','.join('?' * len(statuses))})"
            " AND m.url IS NOT NULL AND m.id > ? ORDER BY m.id LIMIT ?",
            [*statuses, after, limit])
        return [RemoteMedia(r["id"], r["url"], r["status"], r["uid"]) for r in rows]

    def count_remote_media(self, retry_unreadable: bool = False) -> int:
        """How many media :meth:`remote_media` would list in all."""
        extra = " OR status = 'unreadable'" if retry_unreadable else ""
        return int(self._scalar(
            f"SELECT COUNT(*) FROM media WHERE (status = 'remote'{extra}) AND url IS NOT NULL"))

    def fetched_by_url(self, url: str) -> tuple[str, ImageFacts] | None:
        """A file already fetched from this URL (its path and facts), to reuse it."""
        row = self._one(
            "SELECT path, sha256, size, width, height FROM media WHERE url = ? AND"
            " +status = 'ok' AND path IS NOT NULL LIMIT 1", [url])  # "+": as above
        if row is None:
            return None
        return row["path"], ImageFacts("ok", None, row["sha256"], row["size"], row["width"],
                                       row["height"])

    def set_media_fetched(self, media: int, path: str, facts: ImageFacts) -> bool:
        """Record the file fetched for remote media; False when it was no longer remote."""
        cursor = self.conn.execute(
            "UPDATE media SET path = ?, sha256 = ?, size = ?, width = ?, height = ?,"
            " status = ?, reason = ? WHERE id = ? AND status IN ('remote', 'unreadable')",
            [path, facts.sha256, facts.size, facts.width, facts.height, facts.status,
             facts.reason, media])
        return cursor.rowcount > 0

    def set_media_fetch_failed(self, media: int, status: str, reason: str) -> None:
        """Record why a fetch failed: ``remote`` (worth trying again: network, HTTP
        errors) or ``unreadable`` (the bytes came and are no usable image)."""
        if status not in ("remote", "unreadable"):
            raise ValueError(f"a failed fetch leaves media remote or unreadable, not {status!r}")
        self.conn.execute(
            "UPDATE media SET status = ?, reason = ? WHERE id = ? AND status IN"
            " ('remote', 'unreadable')", [status, reason, media])

    def watched_file(self, path: str) -> WatchedFile | None:
        """How far a watched file was imported, or None for a file not seen yet."""
        row = self._one("SELECT path, source, format, offset, line, size, mtime, anchor"
                        " FROM watch_files WHERE path = ?", [path])
        return WatchedFile(*row) if row else None

    def set_watched_file(self, state: WatchedFile) -> None:
        """Remember how far a watched file was imported (in the caller's transaction, so
        the offset moves with the posts it covers)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO watch_files (path, source, format, offset, line, size,"
            " mtime, anchor, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [state.path, state.source, state.format, state.offset, state.line, state.size,
             state.mtime, state.anchor, utc_now()])

    def set_split(self, item: int, task: str, split: str) -> bool:
        """Put (item, task) in a split; return False when it already was in one.

        The first split given wins: a later import does not move an item silently.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO splits (item, task, split) VALUES (?, ?, ?)",
            [item, task, split],
        )
        return cursor.rowcount > 0

    def item_by_uid(self, uid: str) -> ItemRow | None:
        """The item with this full id, or None."""
        row = self._one(
            "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM items i"
            " LEFT JOIN media m ON m.id = i.media WHERE i.uid = ?",
            [uid],
        )
        return ItemRow(*row) if row else None

    def item_uid_of(self, item: int) -> str:
        """The full id of an item given its row id (KeyError for no such item)."""
        return self.item_uids_of([item])[item]

    def item_uids_of(self, items: Iterable[int]) -> dict[int, str]:
        """The full id of each item given its row id, read in one query: a query per
        item took seconds for the undo of a label given to 100,000 items."""
        return dict(self.conn.execute(
            "SELECT i.id, i.uid FROM json_each(?) j JOIN items i ON i.id = j.value",
            [json.dumps(sorted({int(i) for i in items}))]))

    def resolve_item(self, ref: str) -> ItemRow:
        """Find an item by its full id or by an unambiguous ``<post id>_<n>`` short form.

        Raises LookupError with a message for a user: not found, or which ids match.
        Direction marks are ignored: an id copied from a terminal or the app holds
        those that keep an Arabic or Hebrew source name in its place (core/bidi.py).
        """
        ref = unmarked(ref)
        item = self.item_by_uid(ref)
        if item is not None:
            return item
        rows = self._all(
            "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM items i"
            " LEFT JOIN media m ON m.id = i.media WHERE i.external_id = ? ORDER BY i.uid",
            [ref],
        )
        post_id, sep, n = ref.rpartition("_")
        if sep and n.isdigit():
            # Both readings at once: a CrisisMMD image id of one source's item can be the
            # <post id>_<n> of another source's (a watch of the same tweets): taking the
            # first alone labelled one of the two without a word.
            # From the few sources, so that (source, post_id) and (post, n) are entered
            # by their indexes: no index leads with post_id, and joined from items this
            # walked every item per look-up (each row of an embeddings import).
            by_id = {r["id"]: r for r in rows}
            by_id.update((r["id"], r) for r in self._all(
                "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM sources s"
                " CROSS JOIN posts p ON p.source = s.name AND p.post_id = ?"
                " CROSS JOIN items i ON i.post = p.id AND i.n = ?"
                " LEFT JOIN media m ON m.id = i.media ORDER BY i.uid",
                [post_id, int(n)],
            ))
            rows = sorted(by_id.values(), key=lambda r: r["uid"])
        if len(rows) == 1:
            return ItemRow(*rows[0])
        if len(rows) > 1:
            ids = ", ".join(r["uid"] for r in rows)
            raise LookupError(f"item {ref!r} is ambiguous; use one of: {ids}")
        raise LookupError(
            f"no item {ref!r} in this project (give <source>:<post id>:<n>, "
            f"or <post id>_<n> when only one source has that post)"
        )
