"""Embeddings, cached by the keys of ARCHITECTURE.md.

An image embedding is keyed by (image sha256, encoder): a reposted photo is encoded once.
A text embedding is keyed by (sha256 of the exact text encoded, encoder): a new caption
makes a new text and so a new key. Vectors are stored as float16 blobs with their
dimension; patch tokens (kind ``image_patches``) as float16 [patches, dim] blobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from crisisdesk.core.store.db import StoreBase, utc_now

EMBEDDING_KINDS = ("image", "text", "image_patches")
#: Rows per fetch of a large result (see ``_add_item_texts``).
FETCH_SLICE = 1000
#: True for an embeddings row ``e`` whose blob holds as many float16 values as its dtype
#: and dim say. A row cut short (a partial copy of a received project) or crafted is a
#: cache miss: not read, and computed again by the embed job (INSERT OR REPLACE mends it).
#: length() of a blob reads its header only, not the vector.
# "+e.dim": no index is to answer "dim > 0". With it, SQLite looked keys up through the
# (encoder, kind, dim) index, reading every vector of the encoder for each 500-key slice
# (predict at 100,000 items: 48 of its 53 s); the primary key finds just those keys.
INTACT_SQL = ("(typeof(e.vector) = 'blob' AND +e.dim > 0 AND CASE e.kind"
              " WHEN 'image_patches' THEN length(e.vector) % (2 * e.dim) = 0"
              " AND e.dtype = 'float16:' || (length(e.vector) / (2 * e.dim)) || 'x' || e.dim"
              " ELSE length(e.vector) = 2 * e.dim AND e.dtype = 'float16:' || e.dim END)")


def text_key(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ImageToEmbed:
    """An image file the store knows, by its sha256."""

    sha256: str
    path: str


@dataclass(frozen=True)
class ItemText:
    """The text an item is encoded with: the tweet, then the caption when there is one."""

    item: int
    text: str

    @property
    def key(self) -> str:
        return text_key(self.text)


@dataclass(frozen=True)
class ItemMedia:
    """One item as an explanation needs it: the post's text and sensitivity, and its
    image as recorded at import (None fields for a text-only item)."""

    id: int
    uid: str
    tweet: str
    sensitive: bool
    path: str | None  # where the file is (or was declared to be)
    sha256: str | None
    size: int | None  # bytes, as imported: another size is another file
    status: str | None  # ok / missing / unreadable
    reason: str | None


class EmbeddingsMixin(StoreBase):
    """Functions over the embeddings cache."""

    def images_without_embedding(self, encoder: str, *, patches: bool = False
                                 ) -> list[ImageToEmbed]:
        """Readable images (one per sha256) that have no embedding from ``encoder`` (or,
        with ``patches``, no patch tokens either: a run with --patches after a plain one
        must encode the images again for them)."""
        kinds = ("image", "image_patches") if patches else ("image",)
        lacking = " OR ".join(
            "NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.kind = ? AND e.key = m.sha256"
            f" AND e.encoder = ? AND {INTACT_SQL})" for _ in kinds)
        rows = self._all(
            "SELECT m.sha256, MIN(m.path) AS path FROM media m"
            f" WHERE m.status = 'ok' AND m.sha256 IS NOT NULL AND ({lacking})"
            " GROUP BY m.sha256 ORDER BY MIN(m.id)",
            [value for kind in kinds for value in (kind, encoder)],
        )
        return [ImageToEmbed(r["sha256"], r["path"]) for r in rows]

    def item_texts(self, items: Iterable[int] | None = None, *, captioner: str | None = None,
                   prompt_version: str | None = None) -> list[ItemText]:
        """Each item's text: its post's text, then its caption if it has one.

        The caption is the newest unflagged one of the item's (image, tweet text) pair
        (the captioner saw both), or the newest of ``captioner`` / ``prompt_version`` when
        given; see crisisdesk/core/store/captions.py.
        """
        sql, pinned = self._item_texts_query(captioner, prompt_version)
        out: list[ItemText] = []
        if items is None:
            self._add_item_texts(out, sql + " ORDER BY i.id", pinned)
        else:
            ids = list(items)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                self._add_item_texts(out, sql + f" WHERE i.id IN ({','.join('?' * len(chunk))})"
                                     " ORDER BY i.id", [*pinned, *chunk])
        return out

    def item_text_slices(self, size: int = FETCH_SLICE) -> Iterator[list[ItemText]]:
        """Every item's text (as :meth:`item_texts` gives it), ``size`` items at a time in
        item order: a job over the whole project holds one slice, not every text (tens
        of MB at 100,000 tweets). Each slice is its own query (after the last item of the
        one before), so no read stays open while the caller writes between slices."""
        sql, pinned = self._item_texts_query(None, None)
        after = 0
        while True:
            out: list[ItemText] = []
            self._add_item_texts(out, sql + " WHERE i.id > ? ORDER BY i.id LIMIT ?",
                                 [*pinned, after, size])
            if not out:
                return
            yield out
            after = out[-1].item

    def text_items_without_embedding(self, encoder: str, size: int = FETCH_SLICE
                                     ) -> list[int]:
        """For each item text with no ``encoder`` embedding, the first item (in item
        order) that has it: the embed job encodes each text once, in item order. Read
        ``size`` items at a time; only item ids are returned (the texts are read again a
        batch at a time), and the keys seen go when the list is made."""
        items: list[int] = []
        listed: set[str] = set()
        for texts in self.item_text_slices(size):
            first: dict[str, int] = {}
            for text in texts:
                first.setdefault(text.key, text.item)
            for key in self.missing_keys("text", encoder, first):
                if key not in listed:  # a text repeated in an earlier slice
                    listed.add(key)
                    items.append(first[key])
        return items

    def _item_texts_query(self, captioner: str | None, prompt_version: str | None
                          ) -> tuple[str, list[object]]:
        """The SELECT of items' (id, text, caption) and its first parameters."""
        # Imported here: captions.py imports text_key from this module.
        from crisisdesk.core.store.captions import CURRENT_CAPTION_SQL, register_text_key

        register_text_key(self.conn)
        sql = (f"SELECT i.id, p.text, CASE WHEN m.sha256 IS NULL THEN NULL ELSE"
               f" {CURRENT_CAPTION_SQL} END AS caption FROM items i"
               " JOIN posts p ON p.id = i.post LEFT JOIN media m ON m.id = i.media")
        return sql, [captioner, prompt_version]

    def _add_item_texts(self, out: list[ItemText], sql: str, params: Sequence[object]) -> None:
        """Append the query's (id, text, caption) rows to ``out`` as ItemTexts.

        Fetched in slices, never with one ``fetchall``: building 100,000 rows in one C
        call holds the GIL for ~0.3 s, which froze the app's UI thread while a job ran.
        Between slices the interpreter hands the GIL over; no row is held twice.
        """
        cursor = self.conn.execute(sql, params)
        try:
            while rows := cursor.fetchmany(FETCH_SLICE):
                for row in rows:
                    text, caption = row["text"] or "", row["caption"]
                    out.append(ItemText(row["id"],
                                        f"{text} {caption}".strip() if caption else text))
        finally:
            cursor.close()

    def missing_keys(self, kind: str, encoder: str, keys: Iterable[str]) -> list[str]:
        """The keys (order kept, duplicates dropped) with no embedding of this kind yet."""
        wanted = list(dict.fromkeys(keys))
        have: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            have.update(r[0] for r in self._all(
                f"SELECT key FROM embeddings e WHERE kind = ? AND encoder = ? AND {INTACT_SQL}"
                f" AND key IN ({','.join('?' * len(chunk))})", [kind, encoder, *chunk]))
        return [k for k in wanted if k not in have]

    def put_embeddings(self, kind: str, encoder: str, keys: Sequence[str],
                       vectors: np.ndarray) -> None:
        """Store vectors (rows of ``vectors``, or [n, patches, dim]) as float16, at once."""
        if kind not in EMBEDDING_KINDS:
            raise ValueError(f"embedding kind must be one of {EMBEDDING_KINDS}, not {kind!r}")
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        now = utc_now()
        data = np.asarray(vectors, dtype=np.float16)
        shape = "x".join(str(s) for s in data.shape[1:])
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (kind, key, encoder, dim, dtype, vector,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(kind, key, encoder, int(data.shape[-1]), f"float16:{shape}",
                  data[i].tobytes(), now) for i, key in enumerate(keys)],
            )

    def get_embeddings(self, kind: str, encoder: str, keys: Sequence[str]
                       ) -> dict[str, np.ndarray]:
        """Stored vectors by key (float32), for the keys that have an intact one (see
        :data:`INTACT_SQL`: a damaged row is left out, as missing_keys counts it)."""
        out: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for row in self._all(
                    "SELECT key, dtype, vector FROM embeddings e WHERE kind = ?"
                    f" AND encoder = ? AND {INTACT_SQL}"
                    f" AND key IN ({','.join('?' * len(chunk))})", [kind, encoder, *chunk]):
                shape = tuple(int(s) for s in row["dtype"].split(":", 1)[1].split("x"))
                out[row["key"]] = np.frombuffer(row["vector"], dtype=np.float16
                                                ).reshape(shape).astype(np.float32)
        return out

    def embedding_counts(self) -> dict[str, dict[str, int]]:
        """How many embeddings each encoder has, per kind."""
        counts: dict[str, dict[str, int]] = {}
        for row in self._all("SELECT encoder, kind, COUNT(*) AS n FROM embeddings"
                             " GROUP BY encoder, kind ORDER BY encoder, kind"):
            counts.setdefault(row["encoder"], {})[row["kind"]] = row["n"]
        return counts

    def has_embeddings(self, kind: str, encoder: str) -> bool:
        """Whether any ``kind`` embedding of ``encoder`` is stored (a look-up, where
        embedding_counts counts the whole table)."""
        return self._one("SELECT 1 FROM embeddings WHERE kind = ? AND encoder = ? LIMIT 1",
                         [kind, encoder]) is not None

    def embedding_dims(self, encoder: str) -> dict[int, int]:
        """Dimension -> number of stored embeddings of ``encoder`` (any kind)."""
        return {int(r["dim"]): int(r["n"]) for r in self._all(
            "SELECT dim, COUNT(*) AS n FROM embeddings WHERE encoder = ? GROUP BY dim",
            [encoder])}

    def item_images(self, items: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
        """Item row id -> (image sha256, media status); (None, None) for text-only items."""
        ids, out = list(items), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._all(
                    "SELECT i.id, m.sha256, m.status FROM items i"
                    " LEFT JOIN media m ON m.id = i.media"
                    f" WHERE i.id IN ({','.join('?' * len(chunk))})", chunk):
                out[row["id"]] = (row["sha256"], row["status"])
        return out

    def item_media(self, item: int) -> ItemMedia | None:
        """An item's text and image record (None: no such item), in one lookup: the
        overlay asks it for each item shown, cached explanation or not."""
        row = self._one(
            "SELECT i.id, i.uid, p.text, p.sensitive, COALESCE(m.path, m.declared_path)"
            " AS path, m.sha256, m.size, m.status, m.reason FROM items i"
            " JOIN posts p ON p.id = i.post LEFT JOIN media m ON m.id = i.media"
            " WHERE i.id = ?", [item])
        if row is None:
            return None
        return ItemMedia(row["id"], row["uid"], row["text"] or "", bool(row["sensitive"]),
                         row["path"], row["sha256"], row["size"], row["status"],
                         row["reason"])

    def mark_media_unreadable(self, sha256: str, reason: str, *, path: str | None = None
                              ) -> None:
        """Record that the image with this hash cannot be decoded: all its copies (the
        same bytes decode alike), or with ``path`` only the copy at that path (a file
        changed since the import says nothing of its untouched copies)."""
        if path is None:
            self.conn.execute("UPDATE media SET status = 'unreadable', reason = ?"
                              " WHERE sha256 = ?", [reason, sha256])
        else:
            self.conn.execute("UPDATE media SET status = 'unreadable', reason = ?"
                              " WHERE sha256 = ? AND path = ?", [reason, sha256, path])
