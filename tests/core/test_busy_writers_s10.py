"""Several writers on one project at once: a watch, an import, the app's label writes.
The write lock is held only for writing, never while files are read, so a label given in
the app does not wait behind (or fail on) a watch hashing a batch of photos."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from PIL import Image

import crisisdesk.core.importers.watch as watch_module
import crisisdesk.core.importers.watch_csv as watch_csv
import crisisdesk.core.importers.writer as writer_module
from crisisdesk.core.importers import ImportOptions, WatchJob, WatchOptions
from crisisdesk.core.project import Project


def _write_lock_free(project: Project) -> bool:
    """Whether another connection (the app's label write) can take the write lock now."""
    conn = sqlite3.connect(project.db_path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        conn.close()


@pytest.mark.parametrize("table", ["posts.jsonl", "posts.csv"])
def test_a_watch_checks_a_batch_s_photos_without_the_write_lock(
        proj: Project, tmp_path: Path, monkeypatch, table: str) -> None:
    """A collector's posts naming local photos: the watch hashed and trial-decoded a
    batch's photos (256 of them: 9.5 s on two cores, far longer on a network share)
    inside its write transaction, and every label given in the app meanwhile waited, or
    failed with "database is locked" after the busy timeout. A one-shot import checks
    them before taking the lock; so does the watch, for JSON Lines read line by line
    and for a table read whole (in batches of two here: both of its write paths)."""
    monkeypatch.setattr(watch_module, "BATCH", 2)
    monkeypatch.setattr(watch_csv, "BATCH", 2)  # a CSV is read from its offset there
    folder = tmp_path / "collector"
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(3):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / "img" / f"p{i}.png")
        rows.append({"id": f"w{i}", "text": f"street flooded {i}", "image": f"img/p{i}.png"})
    if table.endswith(".jsonl"):
        (folder / table).write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        (folder / table).write_text("id,text,image\n" + "".join(
            f"{r['id']},{r['text']},{r['image']}\n" for r in rows))
    free_while_checked: list[bool] = []
    inspect = writer_module.inspect_image

    probing = threading.Lock()  # the photos are checked in a pool: one probe at a time,
    # else one probe's BEGIN IMMEDIATE is taken for the watch's lock by another

    def checked(path, limits):  # noqa: ANN001, ANN202 - inspect_image's own signature
        with probing:
            free_while_checked.append(_write_lock_free(proj))
        return inspect(path, limits)

    monkeypatch.setattr(writer_module, "inspect_image", checked)
    run = WatchJob(proj, folder, ImportOptions(), WatchOptions(interval=0)).run()
    try:
        next(run)
        next(run)  # a table is read once its size held for a look
    finally:
        run.close()
    with proj.open_store() as store:
        assert store.conn.execute(
            "SELECT COUNT(*) FROM media WHERE status = 'ok'").fetchone()[0] == 3
    assert free_while_checked == [True, True, True]
