"""A review of session 13's later changes: what an analyst hits in them.

Shipped heads across releases: a project whose shipped head a later release replaced,
opened again by the release before it (a downgrade, or a colleague's older install on a
shared project), predicts with the head that release ships, as the version that already
holds it; it refused every predict with "predict again", which failed the same way.

The detail panel's reason for a missing prediction: under a zero-shot start it counted
the whole embeddings table per task and item (47 ms at 600,000 embeddings), and a
label given to a few hundred text-only items refreshed each of their rows so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_upgrades_s13 import next_release_heads, predicted  # noqa: F401 - a fixture

from test_export import _import_texts

from crisisdesk.core.fusion import starts
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.project import Project
from crisisdesk.core.review import item_detail
from crisisdesk.core.store import Store


def test_the_release_before_an_upgrade_predicts_again_with_its_own_shipped_head(
        predicted: Project, tmp_path: Path,  # noqa: F811 - the fixture imported above
        monkeypatch: pytest.MonkeyPatch) -> None:
    with predicted.open_store() as store:
        older = store.active_model_version("damage")
    installed = starts.resource
    next_release_heads(tmp_path / "heads", "damage")
    with monkeypatch.context() as later_release:
        later_release.setattr(starts, "resource", lambda *parts: (
            (tmp_path / "heads").joinpath(*parts[1:]) if parts[0] == "heads"
            else installed(*parts)))
        list(PredictJob(predicted, ["damage"]).run())
    with predicted.open_store() as store:
        newer = store.active_model_version("damage")
    assert newer["id"] != older["id"]

    # The older release again: its head is the one the first version registered.
    job = PredictJob(predicted, ["damage"])
    list(job.run())  # raised NoModel: "... predict again ..."
    with predicted.open_store() as store:
        active = store.active_model_version("damage")
        made = store.predictions_of(active["id"], [1, 2, 3])
    assert active["id"] == older["id"]
    assert job.report.tasks["damage"].get("error") is None
    assert len(made) == 3


def _steps(conn: sqlite3.Connection, work) -> int:  # noqa: ANN001 - a callable
    """The SQLite virtual-machine steps (in thousands) ``work`` runs on ``conn``."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 1000)
    try:
        work()
    finally:
        conn.set_progress_handler(None, 0)
    return steps[0]


def test_why_an_item_has_no_zero_shot_prediction_reads_no_more_as_embeddings_grow(
        project: Project, tmp_path: Path) -> None:
    """Saying why a text-only item has no prediction from a zero-shot start does not
    read every embedding of the project (work counted in SQLite steps, not timed)."""
    _import_texts(project, tmp_path, ["Bridge down on Main St"])
    with project.open_store() as store:
        item = store.resolve_item("0_0").id
        store.add_model_version("damage", "zero-shot-clip-damage", f"{starts.ZERO_SHOT}clip",
                                config={"zero_shot": True, "encoder": "clip"})

        def embed(n: int, start: int) -> None:
            store.put_embeddings("image", "clip", [f"{i:064x}" for i in range(start, start + n)],
                                 np.zeros((n, 4), dtype=np.float32))

        def detail(store: Store = store) -> None:
            why = {v.task: v.no_prediction for v in item_detail(store, item).tasks}
            assert "zero-shot-clip-damage reads images only" in why["damage"]

        embed(10, 0)
        few = _steps(store.conn, detail)
        embed(100_000, 10)
        many = _steps(store.conn, detail)
    assert many <= few + 5, (few, many)
