"""File names that are not UTF-8 (a zip or a disk written under another encoding, a
Latin-1 ``caf\\xe9.txt``): Python keeps their bytes as lone surrogates, which SQLite
refuses, and the whole import ended in a traceback with nothing imported. Each such
file is reported, named with its bytes escaped, and the rest of the work goes on."""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.importers import watch
from crisisdesk.core.importers.watch import WatchJob, WatchOptions
from crisisdesk.core.project import Project

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                reason="these file systems refuse names that are not UTF-8")


def _latin1(folder: Path, name: bytes, text: str) -> None:
    with open(os.path.join(os.fsencode(folder), name), "w", encoding="utf-8") as handle:
        handle.write(text)


def test_a_folder_with_a_latin1_name_imports_the_rest_and_reports_it(tmp_path: Path,
                                                                      capsys) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    _latin1(folder, b"caf\xe9.txt", "flood at the cafe")
    (folder / "ok.txt").write_text("fine", encoding="utf-8")
    assert main(["import", str(tmp_path / "p"), str(folder)]) == 1
    out = capsys.readouterr().out
    assert "caf\\xe9.txt: file name is not valid UTF-8" in out and "rename it" in out
    with Project.open(tmp_path / "p").open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 1
    (report,) = (tmp_path / "p" / "reports").glob("import-*.json")
    assert "caf\\\\xe9" in report.read_text(encoding="utf-8")  # saved, escaped


def test_a_source_named_in_latin1_is_unusable_not_a_traceback(tmp_path: Path,
                                                              capsys) -> None:
    _latin1(tmp_path, b"caf\xe9.csv", "id,text\n1,a\n")
    source = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.csv"))
    assert main(["import", str(tmp_path / "p"), source]) == 2
    assert "file name is not valid UTF-8" in capsys.readouterr().out


def test_a_watch_reports_a_latin1_name_once_and_goes_on(tmp_path: Path,
                                                        monkeypatch) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    _latin1(folder, b"caf\xe9.jsonl", json.dumps({"id": "1", "text": "a"}) + "\n")
    (folder / "ok.jsonl").write_text(json.dumps({"id": "2", "text": "b"}) + "\n", "utf-8")
    polls = []
    clock = types.ModuleType("time")  # the watch's own clock: time.sleep stays as it is
    clock.__dict__.update(time.__dict__)
    clock.sleep = lambda _s: polls.append(1)
    monkeypatch.setattr(watch, "time", clock)
    project = Project.open(tmp_path / "p", create=True)
    job = WatchJob(project, folder, None, WatchOptions(interval=0.01))
    run = job.run()
    for _ in run:
        if len(polls) >= 2:
            break
    run.close()
    problems = [p for p in job.report.problems if "not valid UTF-8" in str(p)]
    assert len(problems) == 1
    assert job.report.posts_added == 1

