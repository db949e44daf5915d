"""Model versions and their predictions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisisdesk.core.store.db import StoreBase, utc_now


@dataclass(frozen=True)
class Prediction:
    """A model version's class probabilities for one item and task."""

    item: int
    task: str
    probs: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]


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

    def add_predictions(self, model_version: int, predictions: Sequence[Prediction]) -> None:
        """Store (or replace) predictions of one model version, in one transaction."""
        now = utc_now()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO predictions (item, task, model_version, label,"
                " confidence, probs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(p.item, p.task, model_version, p.label, p.confidence, json.dumps(p.probs),
                  now) for p in predictions],
            )
