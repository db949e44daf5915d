"""A process killed anywhere loses nothing committed and leaves no ghosts.

Each test runs a job in a child process that kills itself with SIGKILL from inside a
function it patches (:data:`CHILD`: the N-th call of that function never runs), so the
crash lands at a chosen point every time, without timing. Then the project is reopened
here: it opens, what was committed is kept, the same command run again finishes the work
without duplicates, and what the crash left on disk is cleaned or never read as real.
(Labels written in a loop and killed from outside: tests/core/test_crash.py.)
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_retrain import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store, schema

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

#: Patches ``module:Owner.attr`` so that its call number ``kill_on`` (1 = the first)
#: kills the process, ``when`` "before" it runs or "after" it returns (still inside the
#: caller's transaction); then runs ``code`` with ``root`` and ``die()`` bound.
CHILD = r"""
import importlib, json, os, signal, sys
spec = json.loads(sys.argv[1])
def die():
    os.kill(os.getpid(), signal.SIGKILL)
module, _, path = spec["patch"].partition(":")
owner = importlib.import_module(module)
*parents, name = path.split(".")
for parent in parents:
    owner = getattr(owner, parent)
original = getattr(owner, name)
calls = [0]
def hooked(*args, **kwargs):
    calls[0] += 1
    last = calls[0] >= spec["kill_on"]
    if last and spec["when"] == "before":
        die()
    result = original(*args, **kwargs)
    if last:
        die()
    return result
setattr(owner, name, hooked)
root = spec["root"]
exec(spec["code"])
sys.exit("the child was not killed: the patched function ran too few times")
"""


def killed(root: Path, patch: str, kill_on: int, code: str, when: str = "before") -> None:
    """Run ``code`` in a child that SIGKILLs itself at call ``kill_on`` of ``patch``."""
    spec = json.dumps({"patch": patch, "kill_on": kill_on, "code": code, "root": str(root),
                       "when": when})
    child = subprocess.run([sys.executable, "-c", CHILD, spec], capture_output=True,
                           text=True, timeout=300,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert child.returncode == -signal.SIGKILL, child.stderr


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.endswith((".tmp", ".old")))


# -- import ------------------------------------------------------------------------------

def test_import_killed_mid_batch_is_resumed_by_the_same_command(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "informative"])
        writer.writerows([f"t{i}", f"Bridge {i} closed by the flood", "informative"]
                         for i in range(700))
    project_dir = tmp_path / "proj"
    # The third batch (of 256) is never written: two were committed.
    killed(project_dir, "crisisdesk.core.importers.writer:RecordWriter.write_batch", 3,
           f"from crisisdesk.cli import main; main(['import', root, {str(source)!r}])")

    with Project.open(project_dir).open_store() as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        committed = store.counts()["posts"]
        assert 0 < committed < 700
        assert store.counts()["labels"]["informative"]["total"] == committed

    assert main(["import", str(project_dir), str(source)]) == 0
    with Project.open(project_dir).open_store() as store:
        assert store.counts()["posts"] == 700
        assert store.counts()["items"] == 700
        assert store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 700


# -- export ------------------------------------------------------------------------------

def test_export_killed_before_its_rename_leaves_no_export_and_its_temp_is_cleared(
        tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n" + "".join(f"t{i},Road {i} open\n" for i in range(30)),
                      encoding="utf-8")
    project_dir = tmp_path / "proj"
    assert main(["import", str(project_dir), str(source)]) == 0
    out = project_dir / "exports" / "labels.csv"
    killed(project_dir, "crisisdesk.core.files:replace_file", 1,
           f"from crisisdesk.cli import main; main(['export', root, {str(out)!r}])")

    # The whole file was written under a temp name: the export is not there, half or whole.
    assert not out.exists()
    (left,) = _temps(out.parent)
    assert left.name.startswith(".labels.csv.")
    # A day later the analyst exports again: the file is whole and the dead export's
    # temp is gone (one being written now by another export would be left alone).
    day_ago = left.stat().st_mtime - 86400
    os.utime(left, (day_ago, day_ago))
    fresh = out.parent / ".labels.csv.another-export.tmp"
    fresh.write_text("being written", encoding="utf-8")
    assert main(["export", str(project_dir), str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 31
    assert _temps(out.parent) == [fresh]


def test_crisismmd_export_killed_before_its_renames_leaves_the_old_files(
        tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("id,text,informative,damage\n" + "".join(
        f"t{i},Road {i} open,informative,mild_damage\n" for i in range(10)), encoding="utf-8")
    project_dir = tmp_path / "proj"
    assert main(["import", str(project_dir), str(source)]) == 0
    out = tmp_path / "mmd"
    export = ["export", str(project_dir), str(out), "--format", "crisismmd"]
    assert main(export) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) >= 2
    killed(project_dir, "crisisdesk.core.files:replace_file", 1,
           f"from crisisdesk.cli import main; main({export!r})")
    # No file moved aside: the old export is whole where it was.
    assert {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")} \
        == before
    for left in _temps(out):
        os.utime(left, (0, 0))
    assert main(export) == 0
    assert _temps(out) == []


# -- train: a version and its checkpoint -------------------------------------------------

TRAIN = """
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.project import Project
recipe = Recipe(optimizer="adamw", lr=5e-3, max_epochs=3, patience=3)
for _ in TrainJob(Project.open(root), "damage", image_encoder="img-enc",
                  text_encoder="txt-enc", recipe=recipe, seeds=1).run():
    pass
"""


def _versions_and_files(project: Project) -> tuple[list[tuple[str, int]], set[str]]:
    """The task's versions (name, active), oldest first, and the models folder's files."""
    with project.open_store() as store:
        rows = [(r["name"], r["active"]) for r in store.conn.execute(
            "SELECT name, active FROM model_versions WHERE task = 'damage' ORDER BY id")]
    return rows, {p.name for p in project.folder("models").iterdir()}


@pytest.mark.parametrize(("patch", "when"), [
    # Killed after the checkpoint is saved, before its version is registered...
    ("crisisdesk.core.store.models:ModelsMixin.add_model_version", "before"),
    # ...and inside the registering transaction, once the older version is deactivated.
    ("crisisdesk.core.store.models:utc_now", "after"),
])
def test_train_killed_while_registering_keeps_one_active_version(
        tmp_path: Path, patch: str, when: str) -> None:
    project = _project(tmp_path)
    first = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST, seeds=1)
    list(first.run())
    assert _versions_and_files(project)[0] == [(first.report.model_name, 1)]
    killed(project.root, patch, 1, TRAIN, when)

    # One active version, the first; every registered version has its checkpoint.
    assert _versions_and_files(project)[0] == [(first.report.model_name, 1)]
    with project.open_store() as store:
        for row in store.model_versions("damage"):
            assert Path(row["path"]).is_file()

    # The same command trains again: a new version under a name of its own (the killed
    # training's files, if it saved them, are not overwritten), the only active one.
    left = {p.name: p.read_bytes() for p in project.folder("models").iterdir()}
    again = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST, seeds=1)
    list(again.run())
    rows, _ = _versions_and_files(project)
    assert [active for _, active in rows] == [0, 1]
    assert rows[-1][0] == again.report.model_name != first.report.model_name
    assert all((project.folder("models") / name).read_bytes() == data
               for name, data in left.items())


# -- predict ------------------------------------------------------------------------------

def test_predict_killed_mid_task_keeps_its_chunks_and_resumes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    train = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=FAST, seeds=1)
    list(train.run())
    with project.open_store() as store:
        store.conn.execute("DELETE FROM predictions")
        items = store.counts()["items"]
    predict = ("import crisisdesk.core.fusion.predict as predict\n"
               "predict.CHUNK = 50\n"
               "from crisisdesk.core.project import Project\n"
               "for _ in predict.PredictJob(Project.open(root), ['damage']).run():\n"
               "    pass\n")
    # The third chunk of 50 is never stored: two were.
    killed(project.root, "crisisdesk.core.store.models:ModelsMixin.add_predictions", 3,
           predict)
    count = "SELECT COUNT(*), COUNT(DISTINCT item) FROM predictions WHERE model_version = ?"
    version = train.report.model_version
    with project.open_store() as store:
        assert tuple(store.conn.execute(count, [version]).fetchone()) == (100, 100)
    list(PredictJob(project, ["damage"]).run())
    with project.open_store() as store:
        assert tuple(store.conn.execute(count, [version]).fetchone()) == (items, items)


# -- undo / redo of a big label step -----------------------------------------------------

def _labels_now(store: Store, items: list[int]) -> dict[int, str | None]:
    return {i: (c.label if (c := store.current_label(i, "informative")) else None)
            for i in items}


@pytest.mark.parametrize("step", ["undo", "redo"])
def test_undo_or_redo_of_a_big_step_killed_midway_is_all_or_nothing(
        tmp_path: Path, step: str) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n" + "".join(f"t{i},Road {i}\n" for i in range(300)),
                      encoding="utf-8")
    project_dir = tmp_path / "proj"
    assert main(["import", str(project_dir), str(source)]) == 0
    project = Project.open(project_dir)
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items")]
        store.add_labels([LabelChange(i, "informative", "informative") for i in items],
                         annotator="ana")
        if step == "redo":
            store.undo("ana")
        before, stacks = _labels_now(store, items), store.stack_sizes("ana")
    # Killed once the step's rows are written, before its transaction commits.
    killed(project_dir, "crisisdesk.core.store.labels:LabelsMixin._revert", 1,
           f"from crisisdesk.core.project import Project\n"
           f"Project.open(root).open_store().{step}('ana')", when="after")
    with project.open_store() as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _labels_now(store, items) == before
        assert store.stack_sizes("ana") == stacks
        # The same step again does all of it.
        assert len(getattr(store, step)("ana")) == len(items)


# -- schema migration --------------------------------------------------------------------

def test_upgrade_killed_inside_a_step_leaves_the_step_before_and_finishes_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from old_schema import as_schema

    last = schema.SCHEMA_VERSION
    with monkeypatch.context() as old:
        as_schema(old, last - 2)
        project = Project.open(tmp_path / "proj", create=True)
        with project.open_store() as store:
            store.conn.execute("INSERT INTO sources VALUES ('s', 'csv', 's', '', '')")
            store.conn.execute("INSERT INTO posts (source, post_id, text, imported_at)"
                               " VALUES ('s', '1', 'Caf\u00e9 flooded', '')")
    # The last step runs its SQL, then the process dies before that step's COMMIT.
    killed(project.root, "crisisdesk.core.store.schema:schema_version", 10**9, f"""
from crisisdesk.core.store import schema
step = schema.MIGRATIONS[{last - 1}]
def then_die(db):
    step(db)
    die()
schema.MIGRATIONS[{last - 1}] = then_die
from crisisdesk.core.project import Project
Project.open(root).open_store()
""")
    conn = sqlite3.connect(project.root / "project.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchone()[0] == str(last - 1)
    finally:
        conn.close()
    with project.open_store() as store:
        assert schema.schema_version(store.db) == last
        assert store.counts()["posts"] == 1
