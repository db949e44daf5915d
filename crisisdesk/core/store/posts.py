"""Posts, their media and their items: the store's write and lookup functions."""

from __future__ import annotations

from dataclasses import dataclass

from crisisdesk.core.imaging import ImageFacts
from crisisdesk.core.store.db import StoreBase, utc_now
from crisisdesk.core.store.schema import MEDIA_STATUSES, SPLITS

POST_FIELDS = ("platform", "author", "created_at", "text", "language", "url", "event")


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
                f"same ids merge (pass --source NAME to keep the two apart)"
            )
        return None

    def find_post(self, source: str, post_id: str) -> PostRow | None:
        """The post with this identity, or None."""
        row = self._one(
            "SELECT id, source, post_id, text FROM posts WHERE source = ? AND post_id = ?",
            [source, post_id],
        )
        return PostRow(row["id"], row["source"], row["post_id"], row["text"]) if row else None

    def insert_post(self, source: str, post_id: str, **fields: str | None) -> int:
        """Add a post and return its row id (the caller checked it does not exist)."""
        unknown = set(fields) - set(POST_FIELDS)
        if unknown:
            raise ValueError(f"unknown post fields: {sorted(unknown)}")
        values = {f: fields.get(f) for f in POST_FIELDS}
        values["text"] = values["text"] or ""
        cursor = self.conn.execute(
            "INSERT INTO posts (source, post_id, platform, author, created_at, text, language,"
            " url, event, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [source, post_id, *(values[f] for f in POST_FIELDS), utc_now()],
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
    ) -> int:
        """Add media number ``n`` of a post and its item; return the item's row id.

        A text-only item already at ``n`` (the post was first seen without its image)
        becomes this image's item, so its labels stay with it.
        """
        if status not in MEDIA_STATUSES:
            raise ValueError(f"media status must be one of {MEDIA_STATUSES}, not {status!r}")
        cursor = self.conn.execute(
            "INSERT INTO media (post, n, path, declared_path, sha256, size, width, height,"
            " status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [post, n, path, declared_path, sha256, size, width, height, status, reason],
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

    def missing_media_paths(self, post: int) -> set[str]:
        """Declared paths of a post's media recorded as missing (to attach later)."""
        return {r[0] for r in self._all(
            "SELECT declared_path FROM media WHERE post = ? AND status = 'missing'", [post])}

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
        """The full id of an item given its row id."""
        return str(self._scalar("SELECT uid FROM items WHERE id = ?", [item]))

    def resolve_item(self, ref: str) -> ItemRow:
        """Find an item by its full id or by an unambiguous ``<post id>_<n>`` short form.

        Raises LookupError with a message for a user: not found, or which ids match.
        """
        item = self.item_by_uid(ref)
        if item is not None:
            return item
        rows = self._all(
            "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM items i"
            " LEFT JOIN media m ON m.id = i.media WHERE i.external_id = ? ORDER BY i.uid",
            [ref],
        )
        if len(rows) == 1:
            return ItemRow(*rows[0])
        post_id, sep, n = ref.rpartition("_")
        if sep and n.isdigit():
            rows = self._all(
                "SELECT i.id, i.uid, i.post, i.n, i.media, m.declared_path FROM items i"
                " JOIN posts p ON p.id = i.post LEFT JOIN media m ON m.id = i.media"
                " WHERE p.post_id = ? AND i.n = ? ORDER BY i.uid",
                [post_id, int(n)],
            ) or rows
            if len(rows) == 1:
                return ItemRow(*rows[0])
            if len(rows) > 1:
                ids = ", ".join(r["uid"] for r in rows)
                raise LookupError(f"item {ref!r} is ambiguous; use one of: {ids}")
        raise LookupError(
            f"no item {ref!r} in this project (give <source>:<post id>:<n>, "
            f"or <post id>_<n> when only one source has that post)"
        )
