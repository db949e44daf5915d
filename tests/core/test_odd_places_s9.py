"""Projects in odd places: a folder that may not be looked into, a name too long for the
system or for SQLite, another program's ``project.sqlite``, a read-only drive, ``~``.
Each command says what is wrong with the folder, exits with 2 and leaves the folder as
it was; nothing ends in a traceback."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core import launch
from crisisdesk.core.project import DB_NAME, Project, ProjectError
from crisisdesk.core.store import db as db_module

#: A folder name longer than any Linux, macOS or Windows file system allows (255).
TOO_LONG_NAME = "x" * 300


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch) -> None:
    """The test's own settings and data folders (never the real user's)."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))


def deny_looking_into(monkeypatch, folder: Path) -> None:
    """Make looking into ``folder`` fail as Python 3.11 reports a folder the user may
    not enter (a colleague's share). Faked: tests may run as root, whom chmod does not
    stop."""
    real_stat = Path.stat

    def stat(path: Path, *args, **kwargs):
        if folder in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)


@pytest.mark.parametrize("command", [["info"], ["export", "OUT"], ["undo"],
                                     ["label", "1_0", "--task", "damage",
                                      "--label", "severe_damage"],
                                     ["import", "SOURCE"]])
def test_a_name_too_long_for_the_file_system_is_said_not_a_traceback(
        tmp_path: Path, capsys, command: list[str]) -> None:
    folder = tmp_path / TOO_LONG_NAME
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n1,hello\n", encoding="utf-8")
    args = [command[0], str(folder)] + [
        {"OUT": str(tmp_path / "out.csv"), "SOURCE": str(source)}.get(a, a)
        for a in command[1:]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"crisisdesk: error: {folder}" in err
    assert "name too long" in err
    assert not (tmp_path / "out.csv").exists()


def test_a_project_in_a_folder_that_may_not_be_entered_is_said(
        tmp_path: Path, monkeypatch, capsys) -> None:
    project = Project.open(tmp_path / "share" / "harvey", create=True)
    deny_looking_into(monkeypatch, tmp_path / "share")
    with pytest.raises(ProjectError, match=r"harvey cannot be read \(Permission denied\)"):
        Project.open(project.root)
    assert main(["info", str(project.root)]) == 2
    assert main(["export", str(project.root), str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"crisisdesk: error: {project.root} cannot be read") == 2


def test_a_home_folder_of_no_such_user_is_said(capsys) -> None:
    assert main(["info", "~no-such-user-here/harvey"]) == 2
    assert "~no-such-user-here/harvey" in capsys.readouterr().err


def test_info_names_the_project_folder_with_the_home_folder_written_out(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """As PowerShell and cmd.exe pass ``~`` on unexpanded, and so does a quoted one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    Project.open(tmp_path / "harvey", create=True)
    assert main(["info", "~/harvey"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Project {tmp_path / 'harvey'}"


def foreign_database(folder: Path) -> bytes:
    """Another program's SQLite database, named project.sqlite; its bytes."""
    folder.mkdir()
    conn = sqlite3.connect(folder / DB_NAME)
    with conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('the field team''s notes')")
    conn.close()
    return (folder / DB_NAME).read_bytes()


@pytest.mark.parametrize("command", [["info"], ["export", "OUT"], ["undo"],
                                     ["import", "SOURCE"], ["schemes", "list"]])
def test_another_programs_project_sqlite_is_refused_and_left_as_it_was(
        tmp_path: Path, capsys, command: list[str]) -> None:
    """It was taken for an empty project: the whole crisisdesk schema written into it,
    switched to WAL mode, and `info` said 0 posts."""
    folder = tmp_path / "field-notes"
    before = foreign_database(folder)
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n1,hello\n", encoding="utf-8")
    name = command[:2] if command[0] == "schemes" else command[:1]
    rest = [] if command[0] == "schemes" else command[1:]
    args = name + [str(folder)] + [
        {"OUT": str(tmp_path / "out.csv"), "SOURCE": str(source)}.get(a, a) for a in rest]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"crisisdesk: error: {folder} could not be opened: " in err
    assert "not a crisisdesk store" in err
    assert (folder / DB_NAME).read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [DB_NAME]
    assert not (tmp_path / "out.csv").exists()


def test_another_programs_project_sqlite_is_not_opened_by_the_app(tmp_path: Path) -> None:
    folder = tmp_path / "field-notes"
    before = foreign_database(folder)
    with pytest.raises(launch.ProjectNotOpened, match="not a crisisdesk store"):
        launch.project_to_open(str(folder))
    assert (folder / DB_NAME).read_bytes() == before


def test_a_new_project_still_gets_its_schema(tmp_path: Path) -> None:
    """The refusal above is for a database holding tables, not a new, empty one."""
    project = Project.open(tmp_path / "new", create=True)
    with project.open_store() as store:
        assert store.counts()["posts"] == 0


def too_long_for_sqlite(tmp_path: Path) -> Path:
    """A project folder whose project.sqlite SQLite will not open: its path is longer
    than SQLite's unix VFS takes (512 bytes), in names the file system allows."""
    return tmp_path / ("a" * 200) / ("b" * 200) / ("c" * 200) / "harvey"


def test_a_path_too_long_for_sqlite_is_said_and_no_half_project_is_left(
        tmp_path: Path, capsys) -> None:
    """It said "no project.sqlite in it", left the folder with its subfolders and no
    store, and the same command then said "a folder with other files in it"."""
    folder = too_long_for_sqlite(tmp_path)
    source = tmp_path / "posts.csv"
    source.write_text("id,text\n1,hello\n", encoding="utf-8")
    for _ in range(2):
        assert main(["import", str(folder), str(source)]) == 2
        err = capsys.readouterr().err
        assert f"crisisdesk: error: cannot make the project folder {folder}: " in err
        assert "too long" in err
        assert not folder.exists()


def test_a_project_copied_to_a_path_too_long_for_sqlite_says_so(
        tmp_path: Path, capsys) -> None:
    """It said "perhaps for want of permission on it or its folder"."""
    project = Project.open(tmp_path / "harvey", create=True)
    folder = too_long_for_sqlite(tmp_path)
    folder.parent.mkdir(parents=True)
    project.root.rename(folder)
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"crisisdesk: error: {folder} could not be opened: " in err
    assert "too long" in err and "permission" not in err


def test_a_project_on_a_read_only_drive_says_so(tmp_path: Path, monkeypatch,
                                                capsys) -> None:
    """A write-protected USB stick: SQLite cannot make the WAL index beside the store,
    so even reading fails with "unable to open database file", which was said as
    "perhaps for want of permission on it or its folder". Faked (tests may run as root,
    and cannot mount): SQLite's error, and the folder not writable."""
    project = Project.open(tmp_path / "harvey", create=True)
    real_connect, real_access = sqlite3.connect, os.access

    def cannot_open(path, **kwargs):
        # SQLite's own error with its code: a store in a folder that is not there.
        return real_connect(f"file:{tmp_path / 'nowhere' / DB_NAME}?mode=rw", uri=True)

    def access(path, mode, **kwargs):
        if Path(path) == project.root and mode == os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(db_module.sqlite3, "connect", cannot_open)
    monkeypatch.setattr(db_module.os, "access", access)
    assert main(["info", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert f"crisisdesk: error: {project.root} could not be opened: its folder " in err
    assert "is read-only" in err and "copy the project folder" in err
