"""The import command's contract on sources that cannot be used at all.

`crisisdesk --help`: exit 2 is "bad usage or unusable input", 1 "done with item-level
problems". A source nothing could be read from (a ``--map`` naming a column the file
lacks, a table without an id column, an empty file) is unusable input; rows with
problems are item-level. A project folder the command made for nothing is taken back.
A ``--watch`` stopped by SIGTERM or SIGHUP (``kill``, a closed terminal) ends as
Ctrl-C does: its report written, its job record closed.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project


def _table(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


UNUSABLE = {
    "map names a missing column": ("id,text\n1,flood\n", ["--map", "text=body"]),
    "no id column": ("txt,where\nflood,here\n", []),
    "empty file": ("", []),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_a_single_unusable_source_exits_2_and_keeps_the_project(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    project = tmp_path / "proj"
    good = _table(tmp_path / "good.csv", "id,text\n1,water rising\n")
    assert main(["import", str(project), str(good)]) == 0
    text, extra = UNUSABLE[case]
    bad = _table(tmp_path / "bad.csv", text)
    capsys.readouterr()
    assert main(["import", str(project), str(bad), *extra]) == 2
    out = capsys.readouterr().out
    assert "bad.csv" in out and "1 error" in out
    # An existing project is never removed: its post is still there.
    with Project.open(project).open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 1


def test_one_usable_source_beside_an_unusable_one_exits_1(tmp_path: Path) -> None:
    good = _table(tmp_path / "good.csv", "id,text\n1,water rising\n")
    bad = _table(tmp_path / "bad.csv", "txt\nflood\n")
    project = tmp_path / "proj"
    assert main(["import", str(project), str(good), str(bad)]) == 1
    assert (project / "project.sqlite").is_file()


def test_a_table_whose_rows_all_have_problems_still_exits_1(tmp_path: Path) -> None:
    # Every row lacks its id: the file is readable, its rows are not (item-level).
    rows = _table(tmp_path / "rows.csv", "id,text\n,flood\n,fire\n")
    assert main(["import", str(tmp_path / "proj"), str(rows)]) == 1


def test_an_unusable_table_is_counted_as_an_unusable_source(tmp_path: Path) -> None:
    bad = _table(tmp_path / "bad.csv", "txt\nflood\n")
    inner = _table(tmp_path / "inner.csv", "txt\nflood\n")
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(inner, "inner.csv")
    folder = tmp_path / "collected"
    folder.mkdir()
    _table(folder / "posts.csv", "txt\nflood\n")  # a manifest without an id column
    project = Project.open(tmp_path / "proj", create=True)
    for source in (bad, archive, folder):
        job = ImportJob(project, [source], ImportOptions())
        for _ in job.run():
            pass
        assert job.report.unusable_sources == 1, source


@pytest.mark.parametrize("made", ["new folder", "new nested folders", "empty folder"])
def test_a_project_made_for_nothing_is_removed_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], made: str) -> None:
    project = {"new folder": tmp_path / "proj", "new nested folders": tmp_path / "a" / "b" / "proj",
               "empty folder": tmp_path / "proj"}[made]
    if made == "empty folder":
        project.mkdir()
    bad = _table(tmp_path / "bad.csv", "id,text\n1,flood\n")
    assert main(["import", str(project), str(bad), "--map", "text=body"]) == 2
    out = capsys.readouterr().out
    assert "no such column" in out  # what went wrong is still said
    if made == "empty folder":
        assert project.is_dir() and not any(project.iterdir())  # the user's folder stays
    else:
        assert not (tmp_path / project.relative_to(tmp_path).parts[0]).exists()
    # The same command with the right column then makes the project as if first run.
    assert main(["import", str(project), str(bad), "--map", "text=text"]) == 0


def test_a_watch_refused_as_bad_usage_leaves_no_project(tmp_path: Path) -> None:
    assert main(["import", str(tmp_path / "proj"), str(tmp_path / "nowhere"), "--watch"]) == 2
    assert not (tmp_path / "proj").exists()


# A child process: the watch's first poll ends by signalling the process itself (no
# timing). SIGINT gets Python's own handler whatever the parent ignores.
# The signal under test starts at its default, as in a process started from a terminal:
# the test runner itself may run under nohup (SIGHUP ignored, inherited). A second poll
# means the signal did not stop the watch: the child ends with 99 instead of spinning.
WATCH_SCRIPT = """
import os, signal, sys, time, types
from crisisdesk.core.importers import watch
from crisisdesk.cli import main
sig = int(sys.argv[1])
signal.signal(signal.SIGINT, signal.default_int_handler)
if sig != signal.SIGINT:
    signal.signal(sig, signal.SIG_DFL)
polls = []
def sleep(seconds):
    polls.append(seconds)
    if len(polls) > 1:
        os._exit(99)
    os.kill(os.getpid(), sig)
clock = types.ModuleType("time")
clock.__dict__.update(time.__dict__)
clock.sleep = sleep
watch.time = clock
sys.exit(main(["import", sys.argv[2], sys.argv[3], "--watch"]))
"""


def _watch_stopped_by(sig: int, tmp_path: Path) -> tuple[int, Path]:
    folder = tmp_path / f"collected-{sig}"
    folder.mkdir()
    (folder / "feed.jsonl").write_text('{"id": "1", "text": "flood"}\n', encoding="utf-8")
    project = tmp_path / f"proj-{sig}"
    done = subprocess.run([sys.executable, "-c", WATCH_SCRIPT, str(int(sig)), str(project),
                           str(folder)], capture_output=True, text=True, timeout=120)
    return done.returncode, project


@pytest.mark.parametrize("sig", [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)])
def test_a_watch_stopped_by_a_signal_ends_as_ctrl_c_does(tmp_path: Path, sig: str) -> None:
    ctrl_c, _ = _watch_stopped_by(signal.SIGINT, tmp_path)
    status, project = _watch_stopped_by(getattr(signal, sig), tmp_path)
    assert status == ctrl_c
    reports = list((project / "reports").glob("watch-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert report["cancelled"] is True and report["posts_added"] == 1
    with sqlite3.connect(project / "project.sqlite") as conn:
        states = conn.execute("SELECT state FROM jobs WHERE kind = 'import-watch'").fetchall()
    assert states == [("cancelled",)]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")
def test_a_watch_under_nohup_still_outlives_its_terminal() -> None:
    # `nohup crisisdesk import P DIR --watch &` ignores SIGHUP so that the watch goes on
    # after the terminal closes: the watch must not take that back.
    from crisisdesk.cli import stop_signals_as_ctrl_c

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_signals_as_ctrl_c():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)
