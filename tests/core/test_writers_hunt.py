"""Two writers and hostile disks: a project folder that moves while it is open, a disk
that fills up, writes that fail half-way."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from crisisdesk.core.project import DB_NAME, Project, ProjectError
from crisisdesk.core.store import LabelChange, Store


def _one_item(project: Project) -> int:
    """Import one text-only post; return its item's row id."""
    from crisisdesk.core.importers import ImportJob, ImportOptions

    source = project.root.parent / "posts.csv"
    source.write_text("id,text\n1,water rising on main street\n", encoding="utf-8")
    for _ in ImportJob(project, [source], ImportOptions()).run():
        pass
    with project.open_store() as store:
        return store.resolve_item("posts:1:0").id


def test_store_of_a_project_renamed_while_open_is_refused_not_made_anew(
        tmp_path: Path) -> None:
    """The app holds a Project and opens a store per label write: once the folder was
    renamed (or its drive unplugged), a store opened by the old name must not be a new,
    empty project.sqlite there, which would take the analyst's labels."""
    project = Project.open(tmp_path / "flood", create=True)
    _one_item(project)
    os.rename(project.root, tmp_path / "flood-2024")
    project.root.mkdir()  # the old name is a folder again (a job made its subfolder)
    with pytest.raises(ProjectError, match="flood.*moved, renamed or deleted"):
        project.open_store()
    assert not (project.root / DB_NAME).exists()


def test_subfolder_of_a_project_moved_while_open_is_not_made_where_it_was(
        tmp_path: Path) -> None:
    """A job that ends after the folder moved (a training saving its head, an import
    saving its report) must not build the old folder again: a checkpoint saved there is
    outside the project, and the next store opened there would be a new empty one."""
    project = Project.open(tmp_path / "flood", create=True)
    os.rename(project.root, tmp_path / "flood-2024")
    with pytest.raises(ProjectError, match="moved, renamed or deleted"):
        project.folder("models")
    assert not project.root.exists()
    assert (tmp_path / "flood-2024" / "models").is_dir()


def test_labels_of_the_moved_project_stay_where_they_are(tmp_path: Path) -> None:
    """The label given after a rename goes nowhere but says why; the project under its
    new name keeps its labels and opens as before."""
    project = Project.open(tmp_path / "flood", create=True)
    item = _one_item(project)
    os.rename(project.root, tmp_path / "flood-2024")
    with pytest.raises(ProjectError):
        project.open_store()
    moved = Project.open(tmp_path / "flood-2024")
    with moved.open_store() as store:
        store.add_labels([LabelChange(item, "damage", "severe_damage")], annotator="ann")
        assert store.current_label(item, "damage").label == "severe_damage"


def _nearly_full(store: Store, pages: int = 5) -> None:
    """Let the database grow by only ``pages`` pages, with a page cache small enough that
    a large transaction spills to disk before it commits: as on a disk that fills up
    during an embedding or import batch, SQLite then rolls the whole transaction back."""
    store.conn.execute("PRAGMA cache_size=10")
    size = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={size + pages}")


def test_a_full_disk_is_said_not_hidden_by_the_rollback(proj: Project) -> None:
    """An embedding batch that fills the disk fails with SQLite's "database or disk is
    full", not with "cannot rollback - no transaction is active" (the rollback of a
    transaction SQLite had already rolled back), and stores nothing."""
    vectors = np.random.default_rng(0).standard_normal((200, 512)).astype(np.float32)
    keys = [f"sha{i}" for i in range(200)]
    with proj.open_store() as store:
        _nearly_full(store)
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            with store.transaction():  # as the embedding job stores a batch
                store.put_embeddings("image", "clip-test", keys, vectors)
        assert not store.conn.in_transaction
        store.conn.execute("PRAGMA max_page_count=1073741823")  # space freed
        assert store.get_embeddings("image", "clip-test", keys) == {}
        store.put_embeddings("image", "clip-test", keys, vectors)
        assert len(store.get_embeddings("image", "clip-test", keys)) == 200


def test_writes_after_a_rolled_back_savepoint_do_not_commit_one_by_one(
        proj: Project) -> None:
    """An import batch writes each post in a savepoint and reports a post that fails:
    once the disk filled and SQLite rolled the batch back, the posts after it must not
    be committed on their own (the batch is all or nothing), and the batch fails
    naming the full disk."""
    with proj.open_store() as store:
        _nearly_full(store)
        failed = []
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            with store.transaction():
                for n in range(6):
                    try:
                        with store.transaction():
                            store.set_meta(f"post{n}", "x" * (200_000 if n == 2 else 10))
                    except sqlite3.OperationalError:
                        failed.append(n)
        assert failed == [2, 3, 4, 5]
        assert [store.meta(f"post{n}") for n in range(6)] == [None] * 6


def test_an_import_whose_report_cannot_be_saved_ends_with_its_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The posts are committed before the report is written: a report that cannot be
    saved (a full disk, a reports/ folder not writable; here a file in its place) is
    said, and the summary printed, instead of a traceback after the work was done."""
    from crisisdesk.cli import main

    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,bridge down\n2,road closed\n", encoding="utf-8")
    root = tmp_path / "p"
    Project.open(root, create=True)
    reports = root / "reports"
    if reports.is_dir():
        reports.rmdir()
    reports.write_text("not a folder", encoding="utf-8")
    assert main(["import", str(root), str(src)]) == 0
    out, err = capsys.readouterr()
    assert "Imported: 2 new posts" in out and "Report:" not in out
    assert "the import report could not be saved" in err
    with Project.open(root).open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 2


def test_save_report_removes_its_placeholder_when_the_write_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core import files

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "write_json_atomic", full)
    path, why = files.save_report(lambda: tmp_path, "import", {"a": 1})
    assert path is None and "No space left on device" in why
    assert list(tmp_path.iterdir()) == []  # no 0-byte import-*.json left behind
