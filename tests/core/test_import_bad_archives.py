"""Bad archives: entries that leave the archive, symlinks, zip bombs, unreadable zips
and zips with too many entries are reported, and the other sources still import."""


from __future__ import annotations

import os
import random
import stat
import zipfile
from pathlib import Path

from bad_input_helpers import (
    assert_good_post,
    files_outside,
    make_image,
    post_row,
    problems_for,
    run_import,
    write_csv,
)

from crisisdesk.core.job_locks import LOCKS

# --------------------------------------------------------------------------- archives


def good_zip_entries(zf: zipfile.ZipFile, tmp_path: Path) -> None:
    """A good post inside an archive under test."""
    image = make_image(tmp_path / "zipped_good.jpg", 4)
    zf.write(image, "good.jpg")
    zf.writestr("good.txt", "A good post from the archive")


def test_zip_entries_leaving_the_archive_are_skipped(proj, tmp_path):
    archive = tmp_path / "evil.zip"
    absolute = tmp_path / "abs_evil.txt"
    names = ["../evil.txt", "../../evil2.txt", "../../../../../evil3.txt",
             "sub/../../evil4.txt", str(absolute), "..\\evil5.txt", "C:\\evil6.txt",
             "C:/evil7.txt"]
    with zipfile.ZipFile(archive, "w") as zf:
        good_zip_entries(zf, tmp_path)
        for name in names:
            zf.writestr(zipfile.ZipInfo(name), b"owned")
    with zipfile.ZipFile(archive) as zf:  # zipfile kept the hostile names as written
        assert set(names) <= set(zf.namelist())
    before = files_outside(tmp_path, proj.root)
    dest = proj.root / "media" / "evil"
    project_before = {p for p in proj.root.rglob("*") if dest not in p.parents}

    job = run_import(proj, [archive])
    for name in names:
        (problem,) = problems_for(job, f"{archive}!{name}")
        assert problem.severity == "error"
        assert "leaves the archive" in problem.message and "skipped" in problem.message
    # Nothing was written outside the extraction folder (the project writes its own
    # database and report files, which hold no entry's bytes).
    assert files_outside(tmp_path, proj.root) == before
    assert not absolute.exists()
    for name in names:  # where each relative entry would have landed
        if ".." in name:
            assert not Path(os.path.normpath(dest / name.replace("\\", "/"))).exists()
    new_in_project = {p for p in proj.root.rglob("*")
                      if dest not in p.parents and p != dest} - project_before
    # The import job's lock folder (core/job_locks.py) holds no file once the job ended.
    locks = {proj.root / part for part in (LOCKS.parent, LOCKS)}
    assert all(p.name.startswith(("import-", "project.sqlite")) or p in locks
               for p in new_in_project), new_in_project
    assert not any(b"owned" == p.read_bytes() for p in proj.root.rglob("*") if p.is_file())
    with proj.open_store() as store:
        assert_good_post(store, "evil")
        assert store.counts()["posts"] == 1


def test_zip_symlink_entry_is_skipped(proj, tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        good_zip_entries(zf, tmp_path)
        info = zipfile.ZipInfo("link.jpg")
        info.create_system = 3  # Unix, where the mode bits come from
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    job = run_import(proj, [archive])
    (problem,) = problems_for(job, f"{archive}!link.jpg")
    assert "symlink entry skipped" in problem.message
    dest = proj.root / "media" / "links"
    assert not (dest / "link.jpg").exists() and not (dest / "link.jpg").is_symlink()
    assert (dest / "good.jpg").is_file()
    with proj.open_store() as store:
        assert_good_post(store, "links")
        assert post_row(store, "links", "link") is None


def test_zip_entry_compressed_like_a_bomb_is_skipped(proj, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        good_zip_entries(zf, tmp_path)
        zf.writestr("zeros.jpg", b"\x00" * (4 * 1024 * 1024))
    job = run_import(proj, [archive])
    (problem,) = problems_for(job, f"{archive}!zeros.jpg")
    assert "zip bomb" in problem.message
    assert not (proj.root / "media" / "bomb" / "zeros.jpg").exists()
    with proj.open_store() as store:
        assert_good_post(store, "bomb")


def test_unreadable_zip_is_refused_and_other_sources_import(proj, tmp_path):
    archive = tmp_path / "garbage.zip"
    archive.write_bytes(random.Random(5).randbytes(1000))
    good = write_csv(tmp_path / "fine.csv", ["id", "text"], [["1", "hello"]])
    job = run_import(proj, [archive, good])
    messages = [p.message for p in problems_for(job, archive)]
    assert any("not a readable zip archive" in m for m in messages)
    assert job.report.unusable_sources == 1
    with proj.open_store() as store:
        assert post_row(store, "fine", "1")["text"] == "hello"


def test_zip_with_too_many_entries_is_refused_and_other_sources_import(proj, tmp_path):
    archive = tmp_path / "huge.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for i in range(100_000):
            zf.writestr(zipfile.ZipInfo(f"{i}.txt"), b"")
    good = write_csv(tmp_path / "fine.csv", ["id", "text"], [["1", "hello"], ["2", "hi"]])
    job = run_import(proj, [archive, good])
    messages = [p.message for p in problems_for(job, archive)]
    assert any("100,000 entries" in m and "50,000" in m for m in messages)
    assert job.report.unusable_sources == 1
    assert not (proj.root / "media" / "huge").exists()  # nothing was extracted
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert post_row(store, "fine", "2")["text"] == "hi"
        assert set(store.counts()["sources"]) == {"fine"}




def test_zip_entry_under_a_file_entry_of_the_same_name_is_skipped(proj, tmp_path):
    # "notes" is a file, then "notes/x.txt" and the folder entry "notes/" want it to be a
    # folder: each is a report line naming the entry, and the rest still imports
    # (the import used to stop with FileExistsError).
    archive = tmp_path / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes", "a file")
        zf.writestr("notes/x.txt", "a post under the file")
        zf.writestr(zipfile.ZipInfo("notes/"), b"")
        good_zip_entries(zf, tmp_path)
    job = run_import(proj, [archive])
    for name in ("notes/x.txt", "notes/"):
        (problem,) = problems_for(job, f"{archive}!{name}")
        assert problem.severity == "error"
        assert "cannot extract" in problem.message and "skipped" in problem.message
    with proj.open_store() as store:
        assert_good_post(store, "clash")
