"""A project on a drive that fills up: a label, an undo or an import whose commit SQLite
refuses ("database or disk is full"), and a project that cannot even be opened because
SQLite has no room for its WAL index ("disk I/O error"). The analyst is told which
project, that the drive is full and what to do; nothing is shown as saved.

Faked (tests may run as root, on any file system): SQLite's own errors are raised where
a full drive raises them, and the drive's free space is what ``shutil.disk_usage`` says.
Checked for real on a 3 MiB tmpfs filled with ``dd``."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core import launch
from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.store import Store
from crisisdesk.core.store import db as db_module
from crisisdesk.core.store.db import StoreBase

#: SQLite's extended code when it cannot grow the WAL index (project.sqlite-shm).
SQLITE_IOERR_SHMSIZE = 4874


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    """An OperationalError as SQLite's module raises it, with its result code."""
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = "SQLITE_FULL" if code == sqlite3.SQLITE_FULL else "SQLITE_IOERR"
    return exc


def _few_bytes_free(monkeypatch: pytest.MonkeyPatch, free: int = 8192) -> None:
    """Every drive reports ``free`` bytes left."""
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(10 << 20, (10 << 20) - free,
                                                              free))


def _commits_fail_for_want_of_room(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write transaction fails at its end as on a full drive (SQLite then rolls
    it back): what the command wrote in it is not kept."""
    real = StoreBase.transaction

    @contextmanager
    def full(self: StoreBase) -> Iterator[None]:
        with real(self):
            yield
            if self._depth == 1:  # the outermost transaction, about to commit
                raise _sqlite_error("database or disk is full", sqlite3.SQLITE_FULL)

    monkeypatch.setattr(StoreBase, "transaction", full)


@pytest.fixture()
def harvey(tmp_path: Path) -> Project:
    """A project with one post, labelled on import and by the analyst ana."""
    source = tmp_path / "posts.csv"
    source.write_text("id,text,informative\n1,water rising on main street,informative\n",
                      encoding="utf-8")
    root = tmp_path / "harvey"
    assert main(["import", str(root), str(source)]) == 0
    assert main(["label", str(root), "posts:1:0", "--task", "damage", "--label",
                 "severe_damage", "--annotator", "ana"]) == 0
    return Project.open(root)


@pytest.mark.parametrize("command", [
    ["label", "posts:1:0", "--task", "informative", "--label", "not_informative",
     "--annotator", "ana"],
    ["undo", "--annotator", "ana"],
    ["import", "MORE"],
])
def test_a_command_whose_commit_finds_the_drive_full_says_so_without_a_traceback(
        harvey: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """The commit of a label (an undo, an import's batch) failed with SQLite's "database
    or disk is full": the command ended in a traceback (exit 1), as if crisisdesk had a
    bug. It says which project, that its drive is full, that the change was not saved
    and what to do, and exits with 2; the journal is as it was."""
    more = tmp_path / "more.csv"
    more.write_text("id,text\n2,bridge closed\n", encoding="utf-8")
    def kept(store: Store) -> tuple[object, ...]:
        counts = store.counts()  # an import names its source before its first batch
        return counts["posts"], counts["items"], counts["labels"], store.stack_sizes("ana")

    with harvey.open_store() as store:
        before = kept(store)
    capsys.readouterr()
    _commits_fail_for_want_of_room(monkeypatch)
    _few_bytes_free(monkeypatch)
    args = [command[0], str(harvey.root),
            *[str(more) if a == "MORE" else a for a in command[1:]]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(harvey.root) in err
    assert "full" in err and "not saved" in err and "free some space" in err
    monkeypatch.undo()
    with harvey.open_store() as store:
        assert kept(store) == before


def test_a_project_whose_drive_has_no_room_for_the_wal_index_is_said_full(
        harvey: Project, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """On a full drive SQLite cannot make project.sqlite-shm and says only "disk I/O
    error": the analyst was sent to look for a failing drive. The app's start (and
    `crisisdesk open`, and every command) now says the drive is full and what to do."""
    def no_room(conn: sqlite3.Connection) -> list[str]:
        raise _sqlite_error("disk I/O error", SQLITE_IOERR_SHMSIZE)

    monkeypatch.setattr(db_module, "_foreign_tables", no_room)
    _few_bytes_free(monkeypatch)
    with pytest.raises(ProjectError, match=r"harvey could not be opened: the drive "
                                           r"holding .* is full .*free some space"):
        launch.open_checked(harvey.root)
    capsys.readouterr()
    assert main(["info", str(harvey.root)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "is full" in err


def test_a_disk_io_error_with_room_on_the_drive_is_not_called_a_full_drive(
        harvey: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a drive that has next to no room left is said to be full: an I/O error with
    room to spare (a failing USB stick) keeps SQLite's own words."""
    def failing(conn: sqlite3.Connection) -> list[str]:
        raise _sqlite_error("disk I/O error", sqlite3.SQLITE_IOERR)

    monkeypatch.setattr(db_module, "_foreign_tables", failing)
    with pytest.raises(ProjectError, match="disk I/O error") as caught:
        launch.open_checked(harvey.root)
    assert "full" not in str(caught.value)


def test_a_new_project_on_a_full_drive_is_said_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Making a project where there is no room said "cannot make the project folder:
    disk I/O error"; it says the drive is full, and takes back what it made."""
    def no_room(conn: sqlite3.Connection) -> list[str]:
        raise _sqlite_error("disk I/O error", SQLITE_IOERR_SHMSIZE)

    monkeypatch.setattr(db_module, "_foreign_tables", no_room)
    _few_bytes_free(monkeypatch)
    with pytest.raises(ProjectError, match="cannot make the project folder .* is full"):
        Project.open(tmp_path / "new", create=True)
    assert not (tmp_path / "new").exists()


def test_a_wal_file_another_user_left_is_named_as_the_file_that_cannot_be_written(
        harvey: Project, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A colleague's crisisdesk crashed on a shared folder and left project.sqlite-wal
    and -shm that only they may write: SQLite says "attempt to write a readonly
    database", which was said as "its project.sqlite cannot be written", though that
    file is writable. The file that cannot be written is named, with what to do.
    Faked (tests may run as root): SQLite opened read-only, and the WAL file not
    writable for this user."""
    for end in ("-wal", "-shm"):  # as a crashed process leaves them
        (harvey.root / f"project.sqlite{end}").write_bytes(b"")
    real_connect, real_access = sqlite3.connect, os.access

    def read_only(path, **kwargs):  # noqa: ANN001, ANN202 - sqlite3.connect's own
        return real_connect(f"{db_module.rw_uri(harvey.db_path)[:-2]}ro", uri=True,
                            **{k: v for k, v in kwargs.items() if k != "uri"})

    def access(path, mode, **kwargs):  # noqa: ANN001, ANN202 - os.access's own
        if Path(path).name == "project.sqlite-wal" and mode == os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(db_module.sqlite3, "connect", read_only)
    monkeypatch.setattr(os, "access", access)
    assert main(["label", str(harvey.root), "posts:1:0", "--task", "informative",
                 "--label", "not_informative"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{harvey.root / 'project.sqlite-wal'} cannot be written" in err
    assert "copy the project folder" in err


def test_a_migration_that_finds_the_drive_full_says_so_not_cannot_rollback(tmp_path, monkeypatch):
    """SQLite rolls a transaction back by itself on SQLITE_FULL: the migration's own
    ROLLBACK then failed with "no transaction is active", hiding the full drive."""
    import sqlite_utils

    from crisisdesk.core.store import schema

    def full(db: sqlite_utils.Database) -> None:
        db.execute("ROLLBACK")  # what SQLite did on its own
        raise sqlite3.OperationalError("database or disk is full")

    db = sqlite_utils.Database(tmp_path / "p.sqlite")
    monkeypatch.setattr(schema, "MIGRATIONS", [full] + list(schema.MIGRATIONS[1:]))
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        schema.migrate(db)
