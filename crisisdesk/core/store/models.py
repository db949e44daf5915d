"""Model versions and their predictions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crisisdesk.core.store.db import StoreBase, utc_now

#: ``meta`` key prefix (then the version id) of a count that moves with each write of a
#: version's predictions: the review queues' stamp reads it (review.queue_stamp), where
#: MAX(rowid) missed a prediction redone in its row and needed a scan per version.
PREDICTIONS_CHANGED = "predictions_changed:"


@dataclass(frozen=True)
class Prediction:
    """A model version's class probabilities for one item and task."""

    item: int
    task: str
    probs: dict[str, float]
    #: What the model saw (see fusion.data.item_inputs); None where unknown.
    inputs: str | None = None

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]


def _version(row: Any) -> dict[str, Any]:
    version = dict(row)
    version["config"] = _json_object(version["config"])
    version["metrics"] = _json_object(version["metrics"])
    return version


def _json_object(text: str | None) -> dict[str, Any]:
    """A version's stored config or metrics; {} for a record no crisisdesk wrote (a
    damaged or crafted project): the checkpoint's own sidecar still says what the head
    reads, and a listing shows "?" and "no figures" instead of ending in a traceback."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, TypeError):  # TypeError: a number or blob where JSON was kept
        return {}
    return value if isinstance(value, dict) else {}


class ModelsMixin(StoreBase):
    """Functions over model versions and predictions."""

    def add_model_version(self, task: str, name: str, path: str, *, encoder: str | None = None,
                          config: dict[str, Any] | None = None,
                          metrics: dict[str, Any] | None = None, active: bool = True) -> int:
        """Register a trained head for ``task``; the newest active one is used."""
        with self.transaction():
            if active:
                self.conn.execute("UPDATE model_versions SET active = 0 WHERE task = ?", [task])
            cursor = self.conn.execute(
                "INSERT INTO model_versions (task, name, path, encoder, created_at, active,"
                " config, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [task, name, path, encoder, utc_now(), int(active),
                 json.dumps(config or {}), json.dumps(metrics or {})],
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def active_or_add_model_version(self, task: str, name: str, path: str, *,
                                    encoder: str | None = None,
                                    config: dict[str, Any] | None = None,
                                    metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """The task's active version, or else this one, registered and made active: how
        a predictions start (the shipped head, zero-shot) is registered. The check and
        the insert share one write transaction because two processes (two windows, the
        CLI beside the app) may start the same task at once: the second then gets the
        first's version instead of adding a duplicate or deactivating a trained head
        registered meanwhile."""
        with self.transaction():
            active = self.active_model_version(task)
            if active is not None:
                return active
            version = self.add_model_version(task, name, path, encoder=encoder,
                                             config=config, metrics=metrics)
        added = self.model_version(version)
        assert added is not None
        return added

    def active_model_version(self, task: str) -> dict[str, Any] | None:
        """The model version predictions of ``task`` come from, or None."""
        row = self._one("SELECT * FROM model_versions WHERE task = ? AND active = 1"
                        " ORDER BY id DESC LIMIT 1", [task])
        return _version(row) if row else None

    def model_versions(self, task: str) -> list[dict[str, Any]]:
        """Every version of ``task``, newest first (for re-activating an older one)."""
        rows = self._all("SELECT * FROM model_versions WHERE task = ? ORDER BY id DESC", [task])
        return [_version(row) for row in rows]

    def activate_model_version(self, version: int) -> None:
        """Make ``version`` the one its task's predictions come from."""
        with self.transaction():
            row = self._one("SELECT task FROM model_versions WHERE id = ?", [version])
            if row is None:
                raise KeyError(f"no model version {version}")
            self.conn.execute("UPDATE model_versions SET active = (id = ?) WHERE task = ?",
                              [version, row["task"]])

    def model_version(self, version: int) -> dict[str, Any] | None:
        """A model version by id."""
        row = self._one("SELECT * FROM model_versions WHERE id = ?", [version])
        return _version(row) if row else None

    def items_without_prediction(self, task: str, version: int, *,
                                 with_image: bool = False) -> list[int]:
        """Items that have no prediction of ``task`` from this model version; with
        ``with_image``, only those with a usable image (status ok, hashed): all that a
        version reading images only can ever predict."""
        image = (" JOIN media m ON m.id = i.media AND m.status = 'ok'"
                 " AND m.sha256 IS NOT NULL" if with_image else "")
        return [r[0] for r in self._all(
            f"SELECT i.id FROM items i{image} WHERE NOT EXISTS (SELECT 1 FROM predictions p"
            " WHERE p.item = i.id AND p.task = ? AND p.model_version = ?) ORDER BY i.id",
            [task, version])]

    def prediction_inputs(self, task: str, version: int) -> dict[int, str | None]:
        """What each prediction of ``task`` by this version saw, by item (None: unknown,
        a prediction from before this was kept)."""
        return {r[0]: r[1] for r in self._all(
            "SELECT item, inputs FROM predictions WHERE task = ? AND model_version = ?",
            [task, version])}

    def prediction_input(self, task: str, version: int, item: int) -> str | None:
        """What one item's prediction of ``task`` by this version saw (None: no
        prediction, or one from before this was kept); a primary-key lookup."""
        row = self._one("SELECT inputs FROM predictions WHERE item = ? AND task = ?"
                        " AND model_version = ?", [item, task, version])
        return row["inputs"] if row else None

    def predictions_of(self, version: int, items: Iterable[int]) -> dict[int, dict[str, float]]:
        """Class probabilities of a model version's predictions, by item."""
        ids, out = list(items), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            # "+model_version": looked up by item (the primary key), not by walking all
            # of the version's predictions in its index, as SQLite chose to.
            for row in self._all(
                    "SELECT item, probs FROM predictions WHERE +model_version = ?"
                    f" AND item IN ({','.join('?' * len(chunk))})", [version, *chunk]):
                out[row["item"]] = json.loads(row["probs"])
        return out

    def versions_with_predictions(self, task: str) -> list[int]:
        """The versions of ``task`` holding any prediction."""
        return [r[0] for r in self._all(
            "SELECT id FROM model_versions v WHERE task = ? AND EXISTS (SELECT 1 FROM"
            " predictions p WHERE p.model_version = v.id AND p.task = v.task)", [task])]

    def remove_predictions(self, task: str, version: int, limit: int) -> int:
        """Delete at most ``limit`` of a version's predictions of ``task``, in one short
        transaction, unless the version is active by then; the number deleted (0: none
        left, or the version is active)."""
        with self.transaction():
            # Checked in the deleting transaction: another window or process may make
            # the version active again while a predict job decides to remove its rows,
            # and the queues would then show nothing of the active version.
            deleted = self.conn.execute(
                "DELETE FROM predictions WHERE rowid IN (SELECT rowid FROM predictions"
                " WHERE model_version = ? AND task = ? LIMIT ?) AND NOT EXISTS (SELECT 1"
                " FROM model_versions WHERE id = ? AND active = 1)",
                [version, task, limit, version]).rowcount
            if deleted:
                self._predictions_changed(version)
            return deleted

    def _predictions_changed(self, version: int) -> None:
        """Count a write of ``version``'s predictions (in the writing transaction)."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE"
            " SET value = CAST(value AS INTEGER) + 1", [f"{PREDICTIONS_CHANGED}{version}"])

    def add_predictions(self, model_version: int, predictions: Sequence[Prediction]) -> None:
        """Store (or replace) predictions of one model version, in one transaction."""
        if not predictions:
            # A chunk the head could see none of (not embedded yet): nothing changed, so
            # the queues' stamp stays (else every list over predictions read again).
            return
        now = utc_now()
        with self.transaction():
            # An upsert, not INSERT OR REPLACE: a prediction redone (a stale one) is
            # updated in its row, where a replace deleted and re-inserted it in the table
            # and all three indexes (~30% of the write at 300,000 redone).
            self.conn.executemany(
                "INSERT INTO predictions (item, task, model_version, label, confidence,"
                " probs, created_at, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (item, task, model_version) DO UPDATE SET"
                " label = excluded.label, confidence = excluded.confidence,"
                " probs = excluded.probs, created_at = excluded.created_at,"
                " inputs = excluded.inputs",
                [(p.item, p.task, model_version, p.label, p.confidence, json.dumps(p.probs),
                  now, p.inputs) for p in predictions],
            )
            # A prediction redone moves the queues' order with their size unchanged.
            self._predictions_changed(model_version)
