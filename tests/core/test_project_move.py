"""A project folder that is moved or copied keeps its images and trained heads: the
paths the store keeps inside the project follow the folder on the next open; images
outside it are relinked with ``crisisdesk media relink``."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page
from crisisdesk.core.store import Store

CLASSES = ("severe_damage", "mild_damage", "little_or_no_damage")
FAST = Recipe(optimizer="adamw", lr=5e-3, max_epochs=10, patience=3)


def _image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (seed % 256, seed // 256, 9)).save(path)
    return path


def _archive(tmp_path: Path, n: int) -> tuple[Path, np.ndarray]:
    """A zip of ``n`` labelled posts with images (unpacked into the project's media/)."""
    labels = np.random.default_rng(0).integers(0, 3, n)
    rows = [["id", "text", "image", "damage", "split"]]
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(n):
            zf.write(_image(tmp_path / "zipped" / f"{i}.png", i), f"{i}.png")
            split = "train" if i < n * 0.6 else "dev" if i < n * 0.8 else "test"
            rows.append([str(i), f"post {i}", f"{i}.png", CLASSES[labels[i]], split])
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        zf.writestr("posts.csv", text.getvalue())
    return archive, labels


def _outside_source(tmp_path: Path) -> Path:
    """A CSV of one post whose image stays in the analyst's own folder."""
    folder = tmp_path / "pictures"
    _image(folder / "own.png", 999)
    (folder / "own.csv").write_text("id,text,image\nown1,my own photo,own.png\n",
                                    encoding="utf-8")
    return folder / "own.csv"


def _project(tmp_path: Path, *, train: bool = True, n: int = 90) -> Project:
    """A project at tmp_path/a/project: ``n`` posts imported from a zip (their images
    inside the project), one post whose image is outside it, and (``train``) a damage
    head trained on fake embeddings into the project's models/."""
    archive, labels = _archive(tmp_path, n)
    project = Project.open(tmp_path / "a" / "project", create=True)
    list(ImportJob(project, [archive, _outside_source(tmp_path)], ImportOptions()).run())
    if not train:
        return project
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 8))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        order = sorted(texts)
        vectors = np.stack([centres[labels[k] if k < n else 0]
                            for k in range(len(order))]) + 0.2 * rng.normal(size=(len(order), 8))
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], vectors)
    job = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                   recipe=FAST)
    list(job.run())
    assert job.report.model_version is not None
    return project


def _stored_files(store: Store) -> list[Path]:
    """Every image path the store hands out (to embed, to the review list) and the
    active damage head's checkpoint."""
    images = [Path(i.path) for i in store.images_without_embedding("another-encoder")]
    shown = [Path(row.image_path) for row in queue_page(store, Queue("all"), offset=0, limit=500)]
    version = store.active_model_version("damage")
    heads = [Path(version["path"])] if version else []
    return images + shown + heads


def _inside(paths: list[Path], folder: Path) -> list[Path]:
    return [p for p in paths if p.is_relative_to(folder)]


def test_a_moved_project_finds_its_images_and_its_trained_head(tmp_path, capsys) -> None:
    old = _project(tmp_path).root
    own = tmp_path / "pictures" / "own.png"
    new = tmp_path / "b" / "moved"
    new.parent.mkdir()
    shutil.move(old, new)
    project = Project.open(new)
    with project.open_store() as store:
        files = _stored_files(store)
        assert store.moved_from == old
    assert len(_inside(files, new)) == 2 * 90 + 1  # to embed, listed, the head
    assert not _inside(files, old)
    assert all(p.is_file() for p in files)
    assert own in files  # the analyst's own image is where it was
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 91
    assert main(["info", str(new)]) == 0
    assert "91 ok" in capsys.readouterr().out
    with project.open_store() as store:
        assert store.moved_from is None  # followed once, on the first open


def test_a_copied_project_uses_its_own_files_and_the_original_is_untouched(tmp_path) -> None:
    original = _project(tmp_path).root
    copy = tmp_path / "usb" / "project"
    shutil.copytree(original, copy)
    with Project.open(copy).open_store() as store:
        assert store.moved_from == original
        copied = _stored_files(store)
    with Project.open(original).open_store() as store:
        assert store.moved_from is None
        assert len(_inside(_stored_files(store), original)) == 2 * 90 + 1
    assert len(_inside(copied, copy)) == 2 * 90 + 1
    shutil.rmtree(original)  # the colleague's copy works on its own
    job = PredictJob(Project.open(copy), ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 91


def test_a_project_opened_through_another_name_keeps_its_paths(tmp_path) -> None:
    root = _project(tmp_path, train=False).root
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    with Project.open(alias).open_store() as store:
        assert store.moved_from is None
        assert len(_inside(_stored_files(store), root)) == 2 * 90
        assert store.meta("project_folder") == str(root)


def test_paths_under_the_folders_real_name_follow_a_move_too(tmp_path) -> None:
    """Imported images are stored under the folder's real name (symlinks followed), the
    models under the name it was opened by: both follow the folder."""
    real = tmp_path / "disk" / "project"
    real.parent.mkdir()
    (tmp_path / "link").symlink_to(real.parent, target_is_directory=True)
    linked = tmp_path / "link" / "project"
    project = Project.open(linked, create=True)
    archive, _ = _archive(tmp_path, 3)
    list(ImportJob(project, [archive], ImportOptions()).run())
    head = project.folder("models") / "head.safetensors"
    head.write_bytes(b"weights")
    with project.open_store() as store:
        store.add_model_version("damage", "head", str(head))
        assert len(_inside(_stored_files(store), real)) == 2 * 3
    (tmp_path / "link").unlink()
    moved = tmp_path / "moved"
    shutil.move(real, moved)
    with Project.open(moved).open_store() as store:
        files = _stored_files(store)
    assert len(_inside(files, moved)) == 2 * 3 + 1 and all(p.is_file() for p in files)


def test_a_project_from_before_records_its_folder_and_keeps_its_paths(tmp_path) -> None:
    root = _project(tmp_path, train=False).root
    with Project.open(root).open_store() as store:
        store.conn.execute("DELETE FROM meta WHERE key LIKE 'project_folder%'")
        before = _stored_files(store)
    with Project.open(root).open_store() as store:
        assert store.moved_from is None
        assert store.meta("project_folder") == str(root)
        assert _stored_files(store) == before


def test_two_connections_opening_a_moved_project_at_once_follow_it_once(
        tmp_path, monkeypatch) -> None:
    """The app's threads may open a moved project at the same moment: the one that waited
    for the write lock finds the paths followed already."""
    from crisisdesk.core.store import relocate

    old = _project(tmp_path, train=False).root
    new = tmp_path / "moved"
    shutil.move(old, new)
    read = relocate.recorded_folder
    looks: list[object] = []
    others: list[Path | None] = []

    def look_then_another_connection_follows(conn):
        folder = read(conn)
        looks.append(folder)
        if len(looks) == 1:  # the first look: another connection opens right after it
            with Store(new / "project.sqlite") as other:
                others.append(other.moved_from)
        return folder

    monkeypatch.setattr(relocate, "recorded_folder", look_then_another_connection_follows)
    with Store(new / "project.sqlite") as store:
        assert others == [old]
        assert store.moved_from is None
        files = _stored_files(store)
    assert len(_inside(files, new)) == 2 * 90 and all(p.is_file() for p in files)


# --------------------------------------------------------------------------- relink


def _relinked(root: Path, capsys, *argv: str) -> tuple[int, str, list[Path]]:
    """``crisisdesk media relink root *argv``: exit code, what it said, the paths after."""
    code = main(["media", "relink", str(root), *argv])
    out = capsys.readouterr()
    with Project.open(root).open_store() as store:
        files = _stored_files(store)
    return code, out.out + out.err, files


def test_relink_points_images_outside_the_project_at_their_new_folder(tmp_path,
                                                                     capsys) -> None:
    root = _project(tmp_path, train=False).root
    (tmp_path / "new").mkdir()
    shutil.move(tmp_path / "pictures", tmp_path / "new" / "pictures")
    code, out, files = _relinked(root, capsys, str(tmp_path / "pictures"),
                                 str(tmp_path / "new" / "pictures"))
    assert code == 0
    assert "Relinked 1 file" in out
    assert tmp_path / "new" / "pictures" / "own.png" in files
    assert all(p.is_file() for p in files)


def test_relink_leaves_paths_whose_file_is_not_at_the_new_place(tmp_path, capsys) -> None:
    root = _project(tmp_path, train=False).root
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, files = _relinked(root, capsys, str(tmp_path / "pictures"),
                                 str(elsewhere))
    assert code == 1
    assert "Relinked 0 files" in out and "left as stored: 1 file (own.png)" in out
    assert tmp_path / "pictures" / "own.png" in files


def test_relink_matches_whole_folder_names_not_string_prefixes(tmp_path, capsys) -> None:
    """``pic`` is a string prefix of ``pictures`` but not its folder."""
    root = _project(tmp_path, train=False).root
    _image(tmp_path / "other" / "tures" / "own.png", 999)
    code, out, files = _relinked(root, capsys, str(tmp_path / "pic"),
                                 str(tmp_path / "other"))
    assert code == 1
    assert "no stored file" in out.lower()
    assert tmp_path / "pictures" / "own.png" in files


def test_relink_to_a_folder_that_does_not_exist_is_refused(tmp_path, capsys) -> None:
    root = _project(tmp_path, train=False).root
    code, out, _ = _relinked(root, capsys, str(tmp_path / "pictures"),
                             str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere" in out


def test_relink_mends_a_project_moved_before_its_folder_was_recorded(tmp_path,
                                                                    capsys) -> None:
    """An older crisisdesk kept no folder: the paths of a project it moved stay old on
    open, and a relink of the whole project folder mends images and heads alike."""
    project = _project(tmp_path, train=False)
    head = project.folder("models") / "head.safetensors"
    head.write_bytes(b"weights")
    with project.open_store() as store:
        store.add_model_version("damage", "head", str(head))
        store.conn.execute("DELETE FROM meta WHERE key LIKE 'project_folder%'")
    old, new = project.root, tmp_path / "b" / "project"
    new.parent.mkdir()
    shutil.move(old, new)
    with Project.open(new).open_store() as store:
        assert store.moved_from is None  # nothing recorded: nothing to follow
        assert not _inside(_stored_files(store), new)
    code, out, files = _relinked(new, capsys, str(old), str(new))
    assert code == 0 and "Relinked 91 files" in out
    assert len(_inside(files, new)) == 2 * 90 + 1 and all(p.is_file() for p in files)


def test_relink_checks_the_files_without_holding_the_write_lock(tmp_path,
                                                                 monkeypatch) -> None:
    """Checking every file (a large or network folder) under the write lock kept the
    app and a watch from writing, until SQLite's busy timeout failed them."""
    project = _project(tmp_path, train=False)
    (tmp_path / "new").mkdir()
    shutil.move(tmp_path / "pictures", tmp_path / "new" / "pictures")
    new = tmp_path / "new" / "pictures"
    is_file, locked = Path.is_file, []

    def is_file_while_another_writes(path: Path) -> bool:
        if path.is_relative_to(new):
            other = sqlite3.connect(project.root / "project.sqlite", timeout=0,
                                    isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                locked.append(False)
            except sqlite3.OperationalError:
                locked.append(True)
            finally:
                other.close()
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", is_file_while_another_writes)
    with project.open_store() as store:
        done = store.relink(tmp_path / "pictures", new)
    assert done.moved == 1 and locked == [False]


def test_relink_takes_a_windows_folder_as_written(tmp_path, capsys) -> None:
    """A colleague's project from Windows stores C:\\... paths: relink's OLD was made an
    absolute path under the current folder and matched nothing, and a file not found
    under NEW crashed the report."""
    root = _project(tmp_path, train=False, n=2).root
    with Project.open(root).open_store() as store:
        store.conn.execute("UPDATE media SET path = 'C:\\Users\\col\\pictures\\own.png'"
                           " WHERE path = ?", [str(tmp_path / "pictures" / "own.png")])
        store.conn.execute("UPDATE media SET path = 'C:\\Users\\col\\pictures\\gone.png'"
                           " WHERE path != 'C:\\Users\\col\\pictures\\own.png'"
                           " AND id = (SELECT MIN(id) FROM media)")
    code, out, files = _relinked(root, capsys, "C:\\Users\\col\\pictures",
                                 str(tmp_path / "pictures"))
    assert "Relinked 1 file" in out and "gone.png" in out
    assert tmp_path / "pictures" / "own.png" in files
    assert code == 1  # one file was not found under NEW
