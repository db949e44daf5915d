"""Read-side functions: project counts, rows for exports, and job records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crisisdesk.core.store.captions import StoredCaption, current_captions, register_text_key
from crisisdesk.core.store.db import StoreBase, rw_uri, utc_now
from crisisdesk.core.store.embeddings import text_key
from crisisdesk.core.store.schema import JOB_STATES

#: Items per chunk of an export (their ids and the tasks stay under SQLite's 999 host
#: parameters of versions before 3.32).
EXPORT_CHUNK = 500


def _corrected(tasks: list[str], only_corrected: bool) -> str:
    """The WHERE clause of an export of only corrected items ("" for all), over items ``i``.

    The items with a human current label are found in label_state's (task, source)
    index; read all and filtered after, an export of a thousand corrections out of
    200,000 items read every item's labels and predictions (14 s)."""
    if not only_corrected:
        return ""
    return (" WHERE i.id IN (SELECT s.item FROM label_state s WHERE s.task IN"
            f" ({','.join('?' * len(tasks))}) AND s.source = 'human'"
            " AND s.label IS NOT NULL)")


def running_jobs(db_path: Path, started_before: str) -> list[int]:
    """The ids of the jobs the store at ``db_path`` records as running since before
    ``started_before`` (a store time); [] when it cannot be read. Read-only, without
    opening a :class:`Store`, which would migrate or relink the project: opening a
    project looks here each time (see job_locks), and the store's first open after an
    upgrade or a move must still be the one that tells the analyst."""
    try:
        uri = rw_uri(db_path.absolute()).removesuffix("?mode=rw") + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
    except sqlite3.Error:
        return []
    try:
        return [row[0] for row in conn.execute(
            "SELECT id FROM jobs WHERE state = 'running' AND started_at < ? ORDER BY id",
            [started_before])]
    except sqlite3.Error:  # not a store (yet), busy, or unreadable: nothing said here
        return []
    finally:
        conn.close()


def text_kinds(tweet: str, caption: str | None) -> dict[str, str]:
    """The texts an item's prediction may have read and still be named, by their key
    (embeddings.text_key): the tweet alone, and the tweet with its caption now."""
    kinds = {text_key(tweet): "tweet"}
    if caption:
        kinds[text_key(f"{tweet} {caption}".strip())] = "tweet+caption"  # as item_texts
    return kinds


def prediction_read(inputs: str | None, kinds: dict[str, str]) -> str | None:
    """Which text a prediction read, from what it kept of its inputs (``<image
    sha256>|<text key>``, fusion.inputs.item_inputs) and the item's :func:`text_kinds`:
    "tweet+caption" (the tweet with the caption exported beside it), "tweet" (the tweet
    alone, whether or not a caption came since), "tweet+other caption" (one replaced or
    set aside since), "no text" (its head reads none, or the text was not embedded yet),
    or None (one kept from before predictions recorded their inputs: not known)."""
    if inputs is None:
        return None
    read = inputs.partition("|")[2]
    if not read:
        return "no text"
    return kinds.get(read, "tweet+other caption")


class QueriesMixin(StoreBase):
    """Counts for ``crisisdesk info``, export rows and the jobs table."""

    def counts(self) -> dict[str, Any]:
        """Counts of posts, items, media by status, labels per task and source, splits,
        items per event."""
        labels: dict[str, dict[str, Any]] = {}
        for row in self._all(
            "SELECT task, source, COUNT(*) AS n FROM current_labels GROUP BY task, source"
            " ORDER BY task, source"
        ):
            entry = labels.setdefault(row["task"], {"total": 0, "by_source": {}})
            entry["total"] += row["n"]
            entry["by_source"][row["source"]] = row["n"]
        splits: dict[str, dict[str, int]] = {}
        for row in self._all(
            "SELECT task, split, COUNT(*) AS n FROM splits GROUP BY task, split ORDER BY task"
        ):
            splits.setdefault(row["task"], {})[row["split"]] = row["n"]
        return {
            "posts": self._scalar("SELECT COUNT(*) FROM posts"),
            "items": self._scalar("SELECT COUNT(*) FROM items"),
            "text_only_items": self._scalar("SELECT COUNT(*) FROM items WHERE media IS NULL"),
            "media": {r["status"]: r["n"] for r in self._all(
                "SELECT status, COUNT(*) AS n FROM media GROUP BY status ORDER BY status")},
            "labels": labels,
            "splits": splits,
            # Items, as the app's event queues count them (posts here made "flood 66"
            # beside the queue's "Event: flood 128").
            "events": {event or "": n for event, n in self.event_counts().items()},
            "sources": {r["name"]: r["location"] for r in self._all(
                "SELECT name, location FROM sources ORDER BY name")},
        }

    def has_images(self) -> bool:
        """Whether any image of the project is readable (status ok): what an image
        encoder or a captioner would work on. The app preloads their libraries only then."""
        return bool(self._scalar("SELECT EXISTS (SELECT 1 FROM media WHERE status = 'ok')"))

    def event_counts(self) -> dict[str | None, int]:
        """Items per event (None: posts without one), most first: the figures both
        ``crisisdesk info`` and the app's event queues show."""
        return {r["event"]: int(r["n"]) for r in self._all(
            "SELECT p.event, COUNT(*) AS n FROM items i JOIN posts p ON p.id = i.post"
            " GROUP BY p.event ORDER BY n DESC, p.event")}

    def export_items(
        self, tasks: list[str], *, only_corrected: bool = False
    ) -> Iterator[dict[str, Any]]:
        """One dict per item with its post fields, the caption its text holds (with its
        captioner and model) and, per task, label, split, prediction and which text that
        prediction read (:func:`prediction_read`).

        ``only_corrected`` keeps the items whose current label in one of ``tasks`` was
        given by a person.
        """
        register_text_key(self.conn)  # for the captions; not while the cursor runs
        cursor = self.conn.execute(
            "SELECT i.id, i.uid, i.n, i.external_id, p.source, p.post_id, p.platform, p.author,"
            " p.created_at,"
            " p.text, p.language, p.url, p.event, p.sensitive, m.declared_path, m.path,"
            " m.sha256, m.status, m.alt_text"
            " FROM items i JOIN posts p ON p.id = i.post LEFT JOIN media m ON m.id = i.media"
            f"{_corrected(tasks, only_corrected)} ORDER BY p.source, p.id, i.n",
            tasks if only_corrected else []
        )
        # Labels, splits, predictions and captions are read for a chunk of items at a
        # time: read for the whole project up front, they held 300,000 items' rows
        # (640 MB) in memory.
        while chunk := cursor.fetchmany(EXPORT_CHUNK):
            yield from self._export_chunk(chunk, tasks, only_corrected)

    def export_count(self, tasks: list[str], *, only_corrected: bool = False) -> int:
        """How many items :meth:`export_items` gives for the same arguments (the total an
        export's progress counts towards)."""
        return self._scalar("SELECT COUNT(*) FROM items i"
                            f"{_corrected(tasks, only_corrected)}",
                            tasks if only_corrected else [])

    def _export_chunk(self, rows: list[Any], tasks: list[str], only_corrected: bool
                      ) -> Iterator[dict[str, Any]]:
        """The export dicts of ``rows`` (items read by export_items), in their order."""
        ids = [row["id"] for row in rows]
        items, of_tasks = ",".join("?" * len(ids)), ",".join("?" * len(tasks))
        params = [*ids, *tasks]
        # The current label is the journal's latest row; a NULL there means none
        # (the current_labels view, for these items only).
        latest: dict[tuple[int, str], Any] = {}
        for r in self._all("SELECT item, task, label, annotator, source, created_at FROM labels"
                           f" WHERE item IN ({items}) AND task IN ({of_tasks}) ORDER BY id",
                           params):
            latest[(r["item"], r["task"])] = r
        labels = {key: r for key, r in latest.items() if r["label"] is not None}
        splits = {(r["item"], r["task"]): r["split"] for r in self._all(
            f"SELECT item, task, split FROM splits WHERE item IN ({items})"
            f" AND task IN ({of_tasks})", params)}
        # The prediction the app shows: the task's active version's. The newest version's
        # (the rule before) named a version the analyst had switched away from (an older
        # one made active again, or the image-only / text-only heads the "image vs text"
        # queue keeps) as the source of every row. A task with no active version: the
        # newest version's.
        predictions = {(r["item"], r["task"]): r for r in self._all(
            "SELECT p.item, p.task, p.label, p.confidence, p.inputs, m.name AS model"
            " FROM predictions p JOIN model_versions m ON m.id = p.model_version"
            f" WHERE p.item IN ({items}) AND p.task IN ({of_tasks})"
            " AND p.model_version = COALESCE("
            "  (SELECT a.id FROM model_versions a WHERE a.task = p.task AND a.active = 1"
            "   ORDER BY a.id DESC LIMIT 1),"
            "  (SELECT MAX(x.model_version) FROM predictions x"
            "   WHERE x.item = p.item AND x.task = p.task))", params)}
        # What a head reads of an item is its tweet and this caption: an exported
        # prediction is traced to its text by them (and by prediction_read, per task).
        captions: dict[int, StoredCaption] = current_captions(self.conn, ids)
        for row in rows:
            caption = captions.get(row["id"])
            kinds: dict[str, str] | None = None  # hashed once an input asks for them
            per_task = {}
            for task in tasks:
                key = (row["id"], task)
                label, prediction = labels.get(key), predictions.get(key)
                read = None
                if prediction and prediction["inputs"] is not None:
                    if kinds is None:
                        kinds = text_kinds(row["text"] or "", caption and caption.caption)
                    read = prediction_read(prediction["inputs"], kinds)
                per_task[task] = {
                    "label": label["label"] if label else None,
                    "label_source": label["source"] if label else None,
                    "annotator": label["annotator"] if label else None,
                    "labelled_at": label["created_at"] if label else None,
                    "split": splits.get(key),
                    "prediction": prediction["label"] if prediction else None,
                    "confidence": prediction["confidence"] if prediction else None,
                    "model_version": prediction["model"] if prediction else None,
                    "prediction_read": read,
                }
            if only_corrected and not any(
                t["label_source"] == "human" for t in per_task.values()
            ):
                continue
            yield {
                "item_id": row["uid"], "source": row["source"], "post_id": row["post_id"],
                "n": row["n"], "external_id": row["external_id"],
                "platform": row["platform"], "author": row["author"],
                "created_at": row["created_at"], "text": row["text"],
                "language": row["language"], "url": row["url"], "event": row["event"],
                "image": row["declared_path"], "image_path": row["path"],
                "image_sha256": row["sha256"], "image_status": row["status"],
                "sensitive": None if row["sensitive"] is None else bool(row["sensitive"]),
                "alt_text": row["alt_text"],
                "caption": caption.caption if caption else None,
                "captioner": caption.captioner if caption else None,
                "caption_model": caption.model if caption else None,
                "tasks": per_task,
            }

    def start_job(self, kind: str, params: dict[str, Any]) -> int:
        """Record a job as running; return its id."""
        cursor = self.conn.execute(
            "INSERT INTO jobs (kind, params, state, done, total, problems, started_at)"
            " VALUES (?, ?, 'running', 0, 0, 0, ?)",
            [kind, json.dumps(params, default=str), utc_now()],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def update_job(self, job: int, *, done: int, total: int, problems: int = 0) -> None:
        """Record how far a running job has come."""
        self.conn.execute(
            "UPDATE jobs SET done = ?, total = ?, problems = ? WHERE id = ?",
            [done, total, problems, job],
        )

    def finish_job(self, job: int, state: str, error: str | None = None,
                   result: dict[str, Any] | None = None) -> None:
        """Record how a job ended (done, cancelled or failed with the error) and what it did."""
        if state not in JOB_STATES:
            raise ValueError(f"job state must be one of {JOB_STATES}, not {state!r}")
        self.conn.execute(
            "UPDATE jobs SET state = ?, error = ?, finished_at = ?, result = ? WHERE id = ?",
            [state, error, utc_now(), json.dumps(result, default=str) if result else None,
             job],
        )

    def job(self, job: int) -> dict[str, Any] | None:
        """A job record as a dict."""
        row = self._one("SELECT * FROM jobs WHERE id = ?", [job])
        return dict(row) if row else None

    def jobs_page(self, before: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Up to ``limit`` job records, newest first, with ids below ``before`` (None: the
        newest): the job history is read a page at a time, as a project of years holds
        thousands. Without their ``result`` (a retrain's whole report): what a listing
        shows (kind, state, counts, error, times, the ``params`` JSON text) is light."""
        rows = self._all(
            "SELECT id, kind, state, done, total, problems, error, started_at, finished_at,"
            " params FROM jobs WHERE id < ? ORDER BY id DESC LIMIT ?",
            [before if before is not None else 2**63 - 1, limit])
        return [dict(row) for row in rows]

    def last_job(self, kind: str, state: str = "done") -> dict[str, Any] | None:
        """The newest job record of ``kind`` that ended in ``state`` (its ``result`` as
        the JSON text stored), or None: how the last retrain's report is found again."""
        row = self._one("SELECT * FROM jobs WHERE kind = ? AND state = ?"
                        " ORDER BY id DESC LIMIT 1", [kind, state])
        return dict(row) if row else None
