"""A real disaster project holds 100,000 to 500,000 posts: what must not grow with it.

* An export reads labels, splits and predictions a chunk of items at a time, not the
  whole project's up front (300,000 items held 640 MB before the first line was
  written; now 50 MB).
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import LabelChange

N = 20_000


def build(root: Path, n: int = N) -> Project:
    """A project of ``n`` text-only items with bulk inserts: every item predicted for
    each built-in task by an active and an older version, a third labelled on import."""
    project = Project.open(root, create=True)
    with project.open_store() as store:
        conn = store.conn
        conn.execute("BEGIN")
        conn.execute("INSERT INTO sources VALUES ('big', 'csv', 'big', '', '')")
        conn.executemany(
            "INSERT INTO posts (id, source, post_id, text, event, imported_at)"
            " VALUES (?, 'big', ?, ?, 'flood', '')",
            ((i, str(i), f"post {i} about the flood") for i in range(1, n + 1)))
        conn.executemany("INSERT INTO items (id, uid, post, n) VALUES (?, ?, ?, 0)",
                         ((i, f"big:{i}:0", i) for i in range(1, n + 1)))
        conn.execute("INSERT INTO label_actions (id, annotator, source, kind, created_at)"
                     " VALUES (1, 'import', 'import', 'set', '')")
        for task, scheme in builtin_schemes().items():
            classes = scheme.classes
            for name, active in (("old", 0), ("new", 1)):
                version = conn.execute(
                    "INSERT INTO model_versions (task, name, path, created_at, active)"
                    " VALUES (?, ?, 'x', '', ?)", [task, f"{name}-{task}", active]).lastrowid
                conn.executemany(
                    "INSERT INTO predictions (item, task, model_version, label, confidence,"
                    " probs, created_at) VALUES (?, ?, ?, ?, 0.5, ?, '')",
                    ((i, task, version, classes[(i + active) % len(classes)],
                      json.dumps(dict.fromkeys(classes, 1 / len(classes))))
                     for i in range(1, n + 1)))
            conn.executemany(
                "INSERT INTO labels (action, item, task, label, annotator, source,"
                " created_at) VALUES (1, ?, ?, ?, 'import', 'import', '')",
                ((i, task, classes[0]) for i in range(1, n + 1, 3)))
        conn.execute("COMMIT")
        store.add_labels([LabelChange(7, "damage", "mild_damage")], annotator="ana")
    return project


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return build(tmp_path_factory.mktemp("scale") / "big")


def test_export_memory_does_not_grow_with_the_project(big: Project) -> None:
    with big.open_store() as store:
        tasks = list(store.schemes())
        items = store.export_items(tasks)
        tracemalloc.start()
        try:
            first = next(items)
            for _item in items:
                pass
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert first["item_id"] == "big:1:0"
    assert first["tasks"]["damage"]["model_version"] == "new-damage"  # the active version
    # 20,000 items' labels and predictions read up front took 40 MB here; a chunk's
    # rows take well under 5 MB, whatever the project's size.
    assert peak < 5 * 1024 * 1024, f"{peak / 2**20:.1f} MB"


def test_export_chunks_keep_every_item_label_and_prediction(big: Project) -> None:
    with big.open_store() as store:
        rows = list(store.export_items(["damage", "informative"]))
        corrected = list(store.export_items(["damage"], only_corrected=True))
    assert len(rows) == N
    assert [r["item_id"] for r in rows[:3]] == ["big:1:0", "big:2:0", "big:3:0"]
    damage = builtin_schemes()["damage"].classes
    for i, row in enumerate(rows, start=1):
        task = row["tasks"]["damage"]
        assert task["prediction"] == damage[(i + 1) % len(damage)]
        if i == 7:
            assert (task["label"], task["label_source"]) == ("mild_damage", "human")
        elif i % 3 == 1:
            assert (task["label"], task["label_source"]) == (damage[0], "import")
        else:
            assert task["label"] is None
    assert [r["item_id"] for r in corrected] == ["big:7:0"]


@pytest.mark.parametrize("fmt", ["crisismmd", "csv"])
def test_a_file_export_memory_does_not_grow_with_the_project(big: Project, tmp_path: Path,
                                                             fmt: str) -> None:
    """The CrisisMMD export held every item in a list to write one file per task; all
    its files are now written in one pass over the items."""
    out = tmp_path / "out"
    with big.open_store() as store:
        exporter = Exporter(store)
        tracemalloc.start()
        try:
            written = exporter.write(out if fmt == "crisismmd" else out / "all.csv", fmt)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"{peak / 2**20:.1f} MB"
    if fmt == "crisismmd":
        damage = next(p for p in written if "damage" in p.name)
        rows = damage.read_text(encoding="utf-8").splitlines()
        assert len(rows) == 1 + len(range(1, N + 1, 3))  # header + the labelled third
