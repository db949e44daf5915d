"""Leftovers in damaged projects, exports and archive unpacking (session 13): embeddings
of two lengths under one encoder name; a CrisisMMD export of several tasks with one file
held open; archive entries named like the unpacker's temp files; an export re-imported
with some of its images found."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bad_input_helpers import run_import, write_csv
from import_helpers import errors
from test_reimport_polish_s12 import _export, _photos  # a project of two photos
from test_training_job import FAST, _project  # a labelled project with embeddings

from crisisdesk.cli import main
from crisisdesk.core import files
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers.archive import extract_zip
from crisisdesk.core.project import Project


def _odd_rows(project, n: int) -> list[str]:
    """Rewrite ``n`` stored txt-enc rows with vectors of another length, as an old build
    (or a crafted file) left them: intact rows, only of another dimension."""
    with project.open_store() as store:
        keys = [t.key for t in store.item_texts()][:n]
        dims = store.embedding_dims("txt-enc")
        odd = max(dims) + 3
        store.put_embeddings("text", "txt-enc", keys, np.ones((n, odd), np.float32))
    return keys


def test_predict_over_embeddings_of_two_lengths_is_a_clear_message(tmp_path: Path,
                                                                  capsys) -> None:
    """One encoder name holding vectors of two lengths ended predict in a numpy
    broadcast traceback; it must name the encoder and both lengths instead."""
    project = _project(tmp_path, n=60)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    _odd_rows(project, 2)
    capsys.readouterr()
    code = main(["predict", str(project.root), "--task", "damage"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("crisisdesk: error:") and "Traceback" not in err
    assert "txt-enc" in err and "19" in err and "16" in err


def test_train_over_embeddings_of_two_lengths_names_the_items(tmp_path: Path,
                                                             capsys) -> None:
    project = _project(tmp_path, n=60)
    keys = _odd_rows(project, 2)
    with project.open_store() as store:
        odd = [store.item_uid_of(t.item) for t in store.item_texts() if t.key in keys]
    capsys.readouterr()
    code = main(["train", str(project.root), "--task", "damage", "--epochs", "2",
                 "--encoder", "img-enc", "--text-encoder", "txt-enc"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("crisisdesk: error:") and "Traceback" not in err
    assert all(uid in err for uid in odd)


# -- a CrisisMMD export of several tasks, one of its files held open (Windows) ----------

def _held_file(monkeypatch, held: Path) -> None:
    """os.replace in files.py fails for ``held`` (as source or target) as Windows does
    for a file another program holds (WinError 32), every time; no waiting."""
    real = os.replace
    monkeypatch.setattr(files, "REPLACE_PAUSES", (0.0,))

    def replace(src, dst):
        if held in (Path(src), Path(dst)):
            exc = PermissionError(13, "being used by another process")
            exc.winerror = 32  # set by Windows itself; an attribute anywhere else
            raise exc
        return real(src, dst)
    monkeypatch.setattr(files.os, "replace", replace)


@pytest.mark.parametrize("held_task", ["informative", "humanitarian", "damage"])
def test_a_crisismmd_export_with_one_task_file_held_replaces_none(
        proj, tmp_path: Path, monkeypatch, capsys, held_task: str) -> None:
    """The other tasks' files were replaced and the held one not: a folder of files
    from two exports, the message naming only the held one. All or none now, and the
    message says none was written."""
    run_import(proj, [write_csv(tmp_path / "src" / "posts.csv", ["id", "text"], [["1", "a"]])])
    out = tmp_path / "exports"
    out.mkdir()
    before = {task: out / f"task_{task}_text_img.tsv"
              for task in ("informative", "humanitarian", "damage")}
    for task, path in before.items():
        path.write_text(f"the export before, {task}\n", encoding="utf-8")
    _held_file(monkeypatch, before[held_task])
    code = main(["export", str(proj.root), str(out), "--format", "crisismmd"])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code != 0 and "Traceback" not in text
    assert str(before[held_task]) in text and "close it" in text
    assert "none of the 3 files was written" in text.lower()
    for task, path in before.items():
        assert path.read_text(encoding="utf-8") == f"the export before, {task}\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in before.values())


def test_a_crisismmd_export_with_none_held_replaces_all(proj, tmp_path: Path) -> None:
    run_import(proj, [write_csv(tmp_path / "src" / "posts.csv", ["id", "text"], [["1", "a"]])])
    out = tmp_path / "exports"
    out.mkdir()
    (out / "task_damage_text_img.tsv").write_text("the export before\n", encoding="utf-8")
    assert main(["export", str(proj.root), str(out), "--format", "crisismmd"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"task_{t}_text_img.tsv"
                           for t in ("informative", "humanitarian", "damage"))
    assert all(p.read_text(encoding="utf-8").startswith("event_name\t") for p in out.iterdir())


# -- the archive unpacker's temp files ---------------------------------------------------

@pytest.mark.parametrize("order", [("x.jpg.part", "x.jpg"), ("x.jpg", "x.jpg.part"),
                                   ("x.jpg.part.part", "x.jpg.part", "x.jpg")])
def test_an_entry_named_like_the_unpackers_temp_file_keeps_its_bytes(
        tmp_path: Path, order: tuple[str, ...]) -> None:
    """Each entry was written to ``<name>.part`` and renamed: an entry named
    ``x.jpg.part`` unpacked before ``x.jpg`` was overwritten by x.jpg's bytes and then
    renamed away, its own file gone."""
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in order:
            zf.writestr(name, f"the bytes of {name}")
    dest = tmp_path / "out"
    folder, problems = extract_zip(archive, dest)
    assert folder == dest and not problems
    for name in order:
        assert (dest / name).read_text(encoding="utf-8") == f"the bytes of {name}"
    assert sorted(p.name for p in dest.iterdir()) == sorted(order)  # no temp left


# -- an export re-imported with some of its images found ---------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_with_some_images_found_names_each_missing_one_once(
        tmp_path: Path, fmt: str) -> None:
    """The mixed case of ExportImages (export_images.py): with some images found, the
    missing ones are the exception, each named by its row as an error, and the
    "--images-root" warning (which would say none was found) is not given."""
    out = _export(_photos(tmp_path), tmp_path / f"labels.{fmt}", fmt)
    (tmp_path / "src" / "b.jpg").unlink()  # one image lost on the way
    again = Project.open(tmp_path / "again", create=True)
    job = run_import(again, [out], images_root=tmp_path / "src")
    lines = [str(p) for p in job.report.problems]
    assert errors(job) == [line for line in lines if "b.jpg" in line]
    row = {"csv": "row 3", "jsonl": "row 2"}[fmt]  # b.jpg's post: after the CSV's header
    assert len(errors(job)) == 1 and row in errors(job)[0], lines
    assert not any("--images-root" in line or "a.jpg" in line for line in lines)
    with again.open_store() as store:
        statuses = {i["post_id"]: i["image_status"] for i in store.export_items(["damage"])}
    assert statuses == {"1": "ok", "2": "missing", "3": None}
