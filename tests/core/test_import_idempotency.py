"""Importing twice adds nothing; cancelling keeps committed batches and a re-run
completes the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from import_helpers import (  # the shared builders and look-ups
    build_crisismmd,
    build_crisismmd_images,
    build_csv_source,
    build_jsonl_source,
    build_manifest_folder,
    build_posts_folder,
    crisismmd_files,
    items,
    journal_rows,
    label_of,
    run_import,
    write_csv,
    zip_folder,
)

from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.importers.job import BATCH
from crisisdesk.core.progress import Progress

# --------------------------------------------------------------------------- idempotency


def _src_folder(tmp: Path) -> tuple[list[Path], dict]:
    return [build_posts_folder(tmp / "field_posts")], {}


def _src_manifest_csv(tmp: Path) -> tuple[list[Path], dict]:
    return [build_manifest_folder(tmp / "mcsv", "csv")], {}


def _src_manifest_jsonl(tmp: Path) -> tuple[list[Path], dict]:
    return [build_manifest_folder(tmp / "mjsonl", "jsonl")], {}


def _src_csv(tmp: Path) -> tuple[list[Path], dict]:
    return [build_csv_source(tmp / "csvsrc")], {}


def _src_jsonl(tmp: Path) -> tuple[list[Path], dict]:
    return [build_jsonl_source(tmp / "jsonsrc")], {}


def _src_crisismmd(tmp: Path) -> tuple[list[Path], dict]:
    return crisismmd_files(build_crisismmd(tmp / "cmmd")), {}


def _src_crisismmd_images(tmp: Path) -> tuple[list[Path], dict]:
    images_root = tmp / "images"
    build_crisismmd_images(images_root)
    return crisismmd_files(build_crisismmd(tmp / "cmmd")), {"images_root": images_root}


def _src_zip_folder(tmp: Path) -> tuple[list[Path], dict]:
    folder = build_posts_folder(tmp / "field_posts")
    return [zip_folder(folder, tmp / "field_zip.zip", top="field_posts")], {}


def _src_zip_csv(tmp: Path) -> tuple[list[Path], dict]:
    table = build_csv_source(tmp / "csvsrc")
    return [zip_folder(table.parent, tmp / "table_zip.zip")], {}


SOURCES: dict[str, Callable[[Path], tuple[list[Path], dict]]] = {
    "folder": _src_folder, "manifest_csv": _src_manifest_csv,
    "manifest_jsonl": _src_manifest_jsonl, "csv": _src_csv, "jsonl": _src_jsonl,
    "crisismmd": _src_crisismmd, "crisismmd_images": _src_crisismmd_images,
    "zip_folder": _src_zip_folder, "zip_csv": _src_zip_csv,
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_importing_twice_adds_nothing(proj, tmp_path, kind):
    paths, options = SOURCES[kind](tmp_path / "src")
    first = run_import(proj, paths, **options)
    assert first.report.posts_added > 0
    with proj.open_store() as store:
        counts, journal = store.counts(), journal_rows(store)
        media = store.conn.execute(
            "SELECT id, post, n, path, sha256, status FROM media ORDER BY id").fetchall()
        splits = store.conn.execute("SELECT COUNT(*) FROM splits").fetchone()[0]

    second = run_import(proj, paths, **options)
    report = second.report
    assert (report.posts_added, report.items_added, report.labels_added,
            report.splits_added, report.media_attached) == (0, 0, 0, 0, 0)
    assert report.media_added == {}
    assert report.records == first.report.records
    assert not any("differs" in p.message for p in report.problems)
    with proj.open_store() as store:
        assert store.counts() == counts
        assert journal_rows(store) == journal
        assert store.conn.execute(
            "SELECT id, post, n, path, sha256, status FROM media ORDER BY id"
        ).fetchall() == media
        assert store.conn.execute("SELECT COUNT(*) FROM splits").fetchone()[0] == splits


# --------------------------------------------------------------------------- cancelling


def test_cancelling_keeps_committed_batches_and_a_rerun_completes(proj, tmp_path):
    total = 2 * BATCH + 88
    table = write_csv(tmp_path / "many.csv", ["id", "text", "damage"],
                      [[str(i), f"post number {i}", "mild_damage"] for i in range(total)])
    job = ImportJob(proj, [table], ImportOptions())
    run = job.run()
    progress = next(run)
    assert isinstance(progress, Progress)
    assert (progress.done, progress.total) == (BATCH, total)
    run.close()

    assert job.report.cancelled is True
    assert job.report.posts_added == BATCH
    assert job.report_path is not None and job.report_path.is_file()
    assert json.loads(job.report_path.read_text("utf-8"))["cancelled"] is True
    with proj.open_store() as store:
        assert store.counts()["posts"] == BATCH
        # The first batch, complete with its items and labels.
        for i in (0, BATCH - 1):
            (item,) = items(store, "many", str(i))
            assert label_of(store, item.id, "damage") == "mild_damage"
        assert store.find_post("many", str(BATCH)) is None
        (state, done, job_total) = store.conn.execute(
            "SELECT state, done, total FROM jobs ORDER BY id").fetchone()
        assert (state, done, job_total) == ("cancelled", BATCH, total)

    rerun = run_import(proj, [table])
    assert rerun.report.cancelled is False
    assert rerun.report.posts_added == total - BATCH
    assert rerun.report.labels_added == total - BATCH
    with proj.open_store() as store:
        assert store.counts()["posts"] == total
        assert store.counts()["items"] == total
        assert journal_rows(store) == total
        states = [r[0] for r in store.conn.execute("SELECT state FROM jobs ORDER BY id")]
        assert states == ["cancelled", "done"]


def test_progress_reports_each_batch(proj, tmp_path):
    total = BATCH + 10
    table = write_csv(tmp_path / "some.csv", ["id", "text"],
                      [[str(i), f"post {i}"] for i in range(total)])
    job = ImportJob(proj, [table], ImportOptions())
    steps = [(p.done, p.total) for p in job.run()]
    assert steps == [(BATCH, total), (total, total)]
    with proj.open_store() as store:
        assert store.conn.execute("SELECT state FROM jobs").fetchone()[0] == "done"

