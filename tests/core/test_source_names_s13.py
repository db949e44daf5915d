"""Source names from file and folder names in any script.

The name a source's posts are filed under came from the file name with every character
outside ASCII letters, digits, ``_.-`` made ``_``: ``زلزال.csv`` and ``فيضان.csv`` were
both source ``source``, ``Türkiye.csv`` and ``Tärkiye.csv`` both ``T_rkiye``, and a post
of the second file was taken for the first's post with its id (skipped as a duplicate).
Names now keep letters of any script, a suffix tells apart two names that still fold
alike, and a file a project imported under its old name keeps that name.
"""

from __future__ import annotations

import json
import time
import types
from pathlib import Path

import pytest

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.importers import watch
from crisisdesk.core.importers.watch import WatchJob, WatchOptions
from crisisdesk.core.project import Project
from tests.core.import_helpers import run_import


def _table(path: Path, post_id: str, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"id,text\n{post_id},{text}\n", encoding="utf-8")
    return path


def _posts(project: Project) -> dict[str, tuple[str, str]]:
    """Each post's text -> (source, post id)."""
    with project.open_store() as store:
        return {r["text"]: (r["source"], r["post_id"]) for r in store.conn.execute(
            "SELECT source, post_id, text FROM posts")}


@pytest.mark.parametrize("names", [("زلزال", "فيضان"), ("Türkiye", "Tärkiye"),
                                   ("flood report", "flood;report")])
def test_two_files_whose_names_fold_alike_keep_their_posts_apart(
        proj: Project, tmp_path: Path, names: tuple[str, str]) -> None:
    first = _table(tmp_path / "in" / f"{names[0]}.csv", "1", "bridge down")
    second = _table(tmp_path / "in" / f"{names[1]}.csv", "1", "road flooded")
    job = run_import(proj, [first, second])
    posts = _posts(proj)
    assert set(posts) == {"bridge down", "road flooded"}, job.report.summary()
    assert posts["bridge down"][0] != posts["road flooded"][0]
    assert not [p for p in job.report.problems if "was first used" in str(p)]


def test_a_name_in_another_script_stays_readable(proj: Project, tmp_path: Path) -> None:
    run_import(proj, [_table(tmp_path / "زلزال.csv", "1", "a"),
                      _table(tmp_path / "Türkiye.csv", "1", "b"),
                      _table(tmp_path / "बाढ़ हिन्दी.csv", "1", "c")])  # vowel signs kept
    posts = _posts(proj)
    assert posts["a"][0] == "زلزال" and posts["b"][0] == "Türkiye"
    assert posts["c"][0] == "बाढ़_हिन्दी"


def test_a_file_imported_under_its_old_name_keeps_it(proj: Project, tmp_path: Path) -> None:
    """A project from before: its source was recorded under the ASCII-folded name for
    this very file. A re-import files the posts there again, adding none."""
    path = _table(tmp_path / "Türkiye.csv", "1", "bridge down")
    run_import(proj, [path], source="T_rkiye")  # what older versions named it
    path.write_text("id,text\n1,bridge down\n2,road flooded\n", encoding="utf-8")
    job = run_import(proj, [path])
    assert _posts(proj) == {"bridge down": ("T_rkiye", "1"), "road flooded": ("T_rkiye", "2")}
    assert job.report.posts_added == 1
    assert not [p for p in job.report.problems if "was first used" in str(p)]


def test_a_moved_file_imported_under_its_old_name_keeps_it(proj: Project,
                                                            tmp_path: Path) -> None:
    run_import(proj, [_table(tmp_path / "a" / "زلزال.csv", "1", "x")], source="source")
    job = run_import(proj, [_table(tmp_path / "b" / "زلزال.csv", "1", "x")])
    assert _posts(proj) == {"x": ("source", "1")} and job.report.posts_added == 0


def test_an_ascii_name_is_named_as_before(proj: Project, tmp_path: Path) -> None:
    run_import(proj, [_table(tmp_path / "my tweets (2).csv", "1", "a"),
                      _table(tmp_path / "posts.csv", "1", "b")])
    assert _posts(proj) == {"a": ("my_tweets_2", "1"), "b": ("posts", "1")}


def test_the_same_name_from_another_folder_is_still_one_source(proj: Project,
                                                                tmp_path: Path) -> None:
    """Not a fold collision: the same name, as before (merged, with the warning)."""
    run_import(proj, [_table(tmp_path / "a" / "flood report.csv", "1", "x")])
    job = run_import(proj, [_table(tmp_path / "b" / "flood report.csv", "1", "x")])
    assert _posts(proj) == {"x": ("flood_report", "1")} and job.report.posts_added == 0


def test_an_export_of_sources_named_in_any_script_imports_back(proj: Project,
                                                               tmp_path: Path) -> None:
    run_import(proj, [_table(tmp_path / "زلزال.csv", "1", "a"),
                      _table(tmp_path / "فيضان.csv", "1", "b")])
    with proj.open_store() as store:
        (out,) = Exporter(store).write(tmp_path / "out.csv", "csv")
    other = Project.open(tmp_path / "other", create=True)
    run_import(other, [out])
    assert _posts(other) == _posts(proj)


def _watch_once(project: Project, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = types.ModuleType("time")  # the watch's own clock: time.sleep stays as it is
    clock.__dict__.update(time.__dict__)
    polls: list[int] = []
    clock.sleep = lambda _s: polls.append(1)
    monkeypatch.setattr(watch, "time", clock)
    run = WatchJob(project, folder, None, WatchOptions(interval=0.01)).run()
    for _ in run:
        if polls:
            break
    run.close()


def test_watches_of_folders_whose_names_fold_alike_keep_posts_apart(
        proj: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in (("زلزال", "bridge down"), ("فيضان", "road flooded")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "feed.jsonl").write_text(json.dumps({"id": "1", "text": text}) + "\n",
                                           encoding="utf-8")
        _watch_once(proj, folder, monkeypatch)
    posts = _posts(proj)
    assert posts["bridge down"] == ("زلزال", "1") and posts["road flooded"] == ("فيضان", "1")


def test_a_watch_keeps_the_old_name_of_its_folder(proj: Project, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch started again after the update goes on under the name its posts have."""
    folder = tmp_path / "Türkiye"
    folder.mkdir()
    feed = folder / "feed.jsonl"
    feed.write_text(json.dumps({"id": "1", "text": "a"}) + "\n", encoding="utf-8")
    with proj.open_store() as store, store.transaction():
        store.ensure_source("T_rkiye", "watch", str(folder.absolute()))
    _watch_once(proj, folder, monkeypatch)
    assert _posts(proj) == {"a": ("T_rkiye", "1")}
