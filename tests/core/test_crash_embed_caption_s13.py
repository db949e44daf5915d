"""Embed, caption and train killed with SIGKILL at a chosen call: what they leave.

Uses :func:`test_crash_anywhere_s13.killed` (a child that kills itself at call N of a
patched function, so the crash lands at the same point every time, without timing).
Embed and caption run on real tiny models (tests/tiny_clip.py, tests/tiny_llava.py)
registered through ``crisisdesk models add`` in a per-test settings folder that the
child inherits (CRISISDESK_CONFIG_DIR).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest
from caption_fixtures import isolated_config, tiny_llava_dir  # noqa: F401 - fixtures by name
from import_helpers import build_csv_source
from test_crash_anywhere_s13 import TRAIN, killed
from test_retrain import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.store.embeddings import INTACT_SQL, text_key

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


@pytest.fixture
def imported(tmp_path: Path) -> Project:
    """build_csv_source: five photos (five distinct images and tweet pairs) in four
    posts, and a text-only post."""
    assert main(["import", str(tmp_path / "p"), str(build_csv_source(tmp_path / "src"))]) == 0
    return Project.open(tmp_path / "p")


def _integrity_ok(project: Project) -> None:
    with project.open_store() as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- embed --------------------------------------------------------------------------------

def _embeddings(project: Project, encoder: str) -> dict[tuple[str, str], bytes]:
    """(kind, key) -> vector bytes of ``encoder``'s intact rows; every row must be intact."""
    with project.open_store() as store:
        total = store.conn.execute("SELECT COUNT(*) FROM embeddings WHERE encoder = ?",
                                   [encoder]).fetchone()[0]
        rows = store.conn.execute(
            f"SELECT e.kind, e.key, e.vector FROM embeddings e WHERE e.encoder = ?"
            f" AND {INTACT_SQL}", [encoder]).fetchall()
    assert len(rows) == total, "a row that is not intact was left"
    return {(kind, key): bytes(vector) for kind, key, vector in rows}


def test_embed_killed_after_its_second_batch_keeps_both_and_resumes(
        imported: Project, isolated_config: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    from tiny_clip import make_tiny_clip

    tiny = make_tiny_clip(tmp_path / "tiny")
    assert main(["models", "add", "tiny", str(tiny["folder"])]) == 0
    embed = ["embed", str(imported.root), "--encoder", "tiny", "--device", "cpu",
             "--batch-size", "2"]
    # Five images in batches of 2: the third batch is never stored, two were.
    killed(imported.root, "crisisdesk.core.store.embeddings:EmbeddingsMixin.put_embeddings",
           3, f"from crisisdesk.cli import main; main({embed!r})")

    _integrity_ok(imported)
    kept = _embeddings(imported, "tiny")
    assert sorted(kind for kind, _ in kept) == ["image"] * 4
    with imported.open_store() as store:
        assert len(store.images_without_embedding("tiny")) == 1
        texts = len({t.key for t in store.item_texts()})
    capsys.readouterr()

    assert main(embed) == 0
    out = capsys.readouterr().out
    assert f"1 image and {texts} texts encoded" in out  # only the rest
    after = _embeddings(imported, "tiny")
    assert sorted(kind for kind, _ in after) == ["image"] * 5 + ["text"] * texts
    assert {key: after[key] for key in kept} == kept  # the committed ones untouched
    with imported.open_store() as store:
        assert store.images_without_embedding("tiny") == []


# -- caption ------------------------------------------------------------------------------

def test_caption_killed_mid_run_keeps_whole_batches_and_resumes(
        imported: Project, isolated_config: Path, tiny_llava_dir: Path,  # noqa: F811
        capsys) -> None:
    assert main(["models", "add", "tiny-llava", str(tiny_llava_dir)]) == 0
    caption = ["caption", str(imported.root), "--captioner", "tiny-llava", "--device",
               "cpu", "--quant", "none", "--max-new-tokens", "6", "--batch-size", "1"]
    # One pair per batch: the third batch's captions are never stored, two were.
    killed(imported.root, "crisisdesk.core.store.captions:CaptionsMixin.put_captions", 3,
           f"from crisisdesk.cli import main; main({caption!r})")

    _integrity_ok(imported)
    with imported.open_store() as store:
        rows = store.conn.execute("SELECT * FROM captions").fetchall()
        version = store.conn.execute(
            "SELECT DISTINCT prompt_version FROM captions").fetchone()[0]
        keys = {(r["image_sha256"], r["text_sha256"]) for r in rows}
        pairs = {(sha, text_key(text or "")) for sha, text in store.conn.execute(
            "SELECT m.sha256, p.text FROM media m JOIN items i ON i.media = m.id"
            " JOIN posts p ON p.id = i.post")}
        assert store.caption_counts("tiny-llava", version).captioned == 2
    # Two whole rows, each a real pair of the project, with its caption or its flag.
    assert len(rows) == 2 and keys <= pairs
    for row in rows:
        assert row["captioner"] == "tiny-llava" and row["prompt_version"] == version
        assert row["created_at"] and row["model"]
        assert isinstance(row["caption"], str) and (row["caption"].strip() or row["flag"])
    capsys.readouterr()

    assert main(caption) == 0
    _, err = capsys.readouterr()
    assert "3 captions to write, 2 written before" in err
    with imported.open_store() as store:
        again = store.conn.execute("SELECT * FROM captions").fetchall()
        assert store.caption_counts("tiny-llava", version).to_caption == 0
    assert len(again) == 5
    # The captions stored before the kill were not asked for again.
    assert {tuple(r) for r in rows} <= {tuple(r) for r in again}


# -- train: the checkpoint of a version never registered --------------------------------

def _stale(path: Path) -> None:
    """Date ``path`` two hours back: a reservation that old is no running training's."""
    old = path.stat().st_mtime - 7200
    os.utime(path, (old, old))


def _named_long_ago(marker: Path) -> Path:
    """The killed training's files under a name of years ago (its marker returned): named
    for the second it ran, a training of the test in that same second could take the name
    once the orphan is removed, and be taken for it."""
    name = marker.name.removesuffix(".reserved")
    old = "damage-guided_diff-20200101-000000"
    for path in marker.parent.glob(f"{name}.*"):
        path.rename(path.with_name(old + path.name[len(name):]))
    return marker.with_name(f"{old}.reserved")


def _train(project: Project) -> TrainJob:
    job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=2, patience=2),
                   seeds=1)
    list(job.run())
    return job


def test_a_train_killed_before_registering_leaves_files_the_next_train_removes(
        tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=60)
    first = _train(project)
    models = project.folder("models")
    kept = {p.name: p.read_bytes() for p in models.iterdir()}
    # Killed after the checkpoint is saved, before its version is registered.
    killed(project.root, "crisisdesk.core.store.models:ModelsMixin.add_model_version", 1,
           TRAIN)
    (marker,) = models.glob("*.reserved")
    marker = _named_long_ago(marker)
    orphan = marker.name.removesuffix(".reserved")
    files = {f"{orphan}.safetensors", f"{orphan}.json", marker.name}
    assert {p.name for p in models.iterdir()} == set(kept) | files
    with project.open_store() as store:
        assert [r["name"] for r in store.model_versions("damage")] == [
            first.report.model_name]

    # A reservation this fresh may be a training saving now: left alone.
    second = _train(project)
    assert files <= {p.name for p in models.iterdir()}

    # An hour later it is a dead training's: the next train removes its files, says so
    # once, and touches nothing else (registered versions, a stale reservation of a
    # registered name loses its marker only).
    _stale(marker)
    registered = models / f"{first.report.model_name}.reserved"
    registered.touch()
    _stale(registered)
    before = {p.name: p.read_bytes() for p in models.iterdir()
              if p.suffix != ".reserved" and not p.name.startswith(orphan)}
    capsys.readouterr()
    assert main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count(orphan) == 1 and "killed" in out
    left = {p.name for p in models.iterdir()}
    assert not files & left and registered.name not in left
    assert all((models / name).read_bytes() == data for name, data in before.items())
    with project.open_store() as store:
        for row in store.model_versions("damage"):
            assert Path(row["path"]).is_file()
    assert main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"]) == 0
    assert orphan not in capsys.readouterr().out
    assert second.report.orphans_removed == []


def test_a_train_whose_registering_fails_leaves_no_checkpoint_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core.store.models import ModelsMixin

    project = _project(tmp_path, n=60)
    first = _train(project)
    models = project.folder("models")
    before = {p.name: p.read_bytes() for p in models.iterdir()}

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ModelsMixin, "add_model_version", locked)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _train(project)
    # Only the registered version's files: none of a version that does not exist.
    assert {p.name: p.read_bytes() for p in models.iterdir()} == before
    monkeypatch.undo()
    with project.open_store() as store:
        assert [r["name"] for r in store.model_versions("damage")] == [
            first.report.model_name]


def test_a_retrain_that_removes_a_killed_trainings_files_says_so_in_its_notes(
        tmp_path: Path) -> None:
    from crisisdesk.core.retrain import RetrainJob

    project = _project(tmp_path, n=60)
    _train(project)
    killed(project.root, "crisisdesk.core.store.models:ModelsMixin.add_model_version", 1,
           TRAIN)
    (marker,) = project.folder("models").glob("*.reserved")
    marker = _named_long_ago(marker)
    _stale(marker)
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=2, patience=2))
    notes = [note for progress in job.run() for note in progress.notes]
    # The app's jobs panel shows a job's notes: the removal is said there once.
    orphan = marker.name.removesuffix(".reserved")
    assert len([note for note in notes if orphan in note]) == 1
    assert not list(project.folder("models").glob(f"{orphan}*"))
