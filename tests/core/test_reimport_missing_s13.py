"""An export (or CrisisMMD files) imported again over posts the project already has: each
missing image is said once, and only when it is missing (session 13)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from import_helpers import (
    build_crisismmd,
    build_crisismmd_images,
    crisismmd_files,
    errors,
    run_import,
)
from test_reimport_polish_s12 import _export, _photos  # a project of two photos

from crisisdesk.core.project import Project


def _lines(job, name: str) -> list[str]:
    return [str(p) for p in job.report.problems if name in str(p)]


def _statuses(project: Project) -> dict[str, str | None]:
    with project.open_store() as store:
        return {i["post_id"]: i["image_status"] for i in store.export_items(["damage"])}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_reimport_with_the_same_root_says_a_missing_image_once(
        tmp_path: Path, fmt: str) -> None:
    """The second run over the same posts named b.jpg twice: as a row error (the export's
    tally) and in the "stay missing" warning."""
    out = _export(_photos(tmp_path), tmp_path / f"labels.{fmt}", fmt)
    (tmp_path / "src" / "b.jpg").unlink()
    again = Project.open(tmp_path / "again", create=True)
    first = run_import(again, [out], images_root=tmp_path / "src")
    assert len(_lines(first, "b.jpg")) == 1
    job = run_import(again, [out], images_root=tmp_path / "src")
    said = _lines(job, "b.jpg")
    assert len(said) == 1 and "stay missing" in said[0], job.report.summary()
    assert errors(job) == []
    assert _statuses(again) == {"1": "ok", "2": "missing", "3": None}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_reimport_without_root_does_not_call_a_stored_image_missing(
        tmp_path: Path, fmt: str) -> None:
    """a.jpg was attached by an import with --images-root; run again without it, the
    import warned "2 images of 2 posts not found ... marked missing"."""
    out = _export(_photos(tmp_path), tmp_path / f"labels.{fmt}", fmt)
    shutil.move(tmp_path / "src", tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "b.jpg").unlink()
    again = Project.open(tmp_path / "again", create=True)
    run_import(again, [out])
    attached = run_import(again, [out], images_root=tmp_path / "elsewhere")
    assert attached.report.media_attached == 1
    job = run_import(again, [out])
    lines = [str(p) for p in job.report.problems]
    assert not any("a.jpg" in line or "2 images" in line for line in lines), lines
    assert len(_lines(job, "b.jpg")) == 1, lines
    assert _statuses(again) == {"1": "ok", "2": "missing", "3": None}


def test_one_image_still_missing_is_said_in_the_singular(tmp_path: Path) -> None:
    out = _export(_photos(tmp_path), tmp_path / "labels.csv", "csv")
    (tmp_path / "src" / "b.jpg").unlink()
    again = Project.open(tmp_path / "again", create=True)
    run_import(again, [out], images_root=tmp_path / "src")
    job = run_import(again, [out], images_root=tmp_path / "src")
    (line,) = _lines(job, "stay missing")
    assert "1 image not found" in line


def _marked_missing(job) -> int:
    """How many images the CrisisMMD summaries say were marked missing, all files."""
    return sum(int(m.group(1).replace(",", "")) for p in job.report.problems
               if (m := re.match(r"([\d,]+) images? marked missing", p.message)))


def test_crisismmd_without_root_counts_each_image_once(tmp_path: Path) -> None:
    """Its split files share images (100_0 is in all three): each file counted it."""
    root = build_crisismmd(tmp_path / "cmmd")
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, crisismmd_files(root))
    with project.open_store() as store:
        missing = store.counts()["media"]["missing"]
    assert _marked_missing(job) == missing


def test_crisismmd_reimport_without_root_does_not_call_stored_images_missing(
        tmp_path: Path) -> None:
    root = build_crisismmd(tmp_path / "cmmd")
    build_crisismmd_images(root)
    project = Project.open(tmp_path / "p", create=True)
    first = run_import(project, crisismmd_files(root), images_root=root)
    assert first.report.media_added == {"ok": 3}, first.report.summary()
    job = run_import(project, crisismmd_files(root))
    assert _marked_missing(job) == 0, job.report.summary()
    with project.open_store() as store:
        assert store.counts()["media"] == {"ok": 3}
