"""An upgrade that fails says so: a project of an older schema whose migration fails (a
bug of ours, a SQLite error) or cannot be written (a read-only file) is one message
naming the project, the schema it was going from and to, the step that failed, what is
left of it and what to do; never a traceback, never "cannot be opened". And the demo's
copies of its files left by a killed or racing first start are cleaned up or kept.

Faked where tests cannot do it for real (tests may run as root): a failing migration is
patched into MIGRATIONS; a read-only store is SQLite opened read-only."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils
from old_schema import as_schema

from crisisdesk.cli import main
from crisisdesk.core import demo, launch
from crisisdesk.core.project import Project
from crisisdesk.core.resources import resource
from crisisdesk.core.store import Store, schema
from crisisdesk.core.store import db as db_module

#: The schema the "older" project of these tests was written at.
OLD = 10


def old_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with a post, written by the release of schema :data:`OLD`."""
    with monkeypatch.context() as patch:
        as_schema(patch, OLD)
        project = Project.open(tmp_path / "harvey", create=True)
        with project.open_store() as store:
            store.ensure_source("src", "csv", "/src")
            store.insert_post("src", "1", text="water rising")
    return project


def fail_at(monkeypatch: pytest.MonkeyPatch, step: int,
            failure: Callable[[sqlite_utils.Database], None]) -> None:
    """Migration ``step`` (to schema ``step``) does its work, then ``failure``."""
    real = schema.MIGRATIONS[step - 1]

    def failing(db: sqlite_utils.Database) -> None:
        real(db)
        failure(db)

    failing.__name__ = real.__name__
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:step - 1], failing,
                                               *schema.MIGRATIONS[step:]])


def boom(db: sqlite_utils.Database) -> None:
    raise ValueError("boom")


def no_such_table(db: sqlite_utils.Database) -> None:
    db.execute("SELECT * FROM no_such_table")


def version_of(path: Path) -> int:
    """The schema version stored at ``path``, read without migrating."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def schema_dump(path: Path) -> list[tuple]:
    """Everything a migration may change: the schema and the meta table."""
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        meta = conn.execute("SELECT * FROM meta ORDER BY key").fetchall() \
            if "meta" in tables else []
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"
                            ).fetchall() + meta


def refused_at_launch(project: Project) -> str:
    """What the app's launch says of ``project``, which it must refuse."""
    with pytest.raises(launch.ProjectNotOpened) as caught:
        launch.open_checked(project.root)
    return str(caught.value)


def test_a_migration_failing_with_our_own_error_is_one_message_at_launch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = old_project(tmp_path, monkeypatch)
    fail_at(monkeypatch, 12, boom)
    said = refused_at_launch(project)
    assert said.startswith(f"{project.root} could not be opened: ")
    assert (f"upgrading it from schema {OLD} to {schema.SCHEMA_VERSION} failed at "
            "step 12") in said
    assert "ValueError: boom" in said
    assert "left at schema 11" in said  # the last step that finished
    assert "report" in said
    # Step 11 was kept; step 12's index, made before it failed, was rolled back.
    assert version_of(project.db_path) == 11
    with sqlite3.connect(project.db_path) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items_media'"
                            ).fetchone() is None


def test_a_migration_failing_with_our_own_error_is_one_line_from_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = old_project(tmp_path, monkeypatch)
    fail_at(monkeypatch, OLD + 1, boom)
    assert main(["info", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{project.root} could not be opened: upgrading it from schema {OLD}" in err
    # The first step failed: nothing was changed, and the release that wrote it opens it.
    assert "nothing in it was changed" in err
    assert version_of(project.db_path) == OLD


@pytest.mark.parametrize("step", range(1, len(schema.MIGRATIONS) + 1))
def test_each_migration_is_undone_whole_when_it_fails(
        step: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each migration runs in its own transaction: one that fails after doing its work
    leaves the store exactly as the step before left it (no sqlite_utils call in it
    commits half of it)."""
    path = tmp_path / "p.sqlite"
    if step > 1:  # else a new, empty database
        with monkeypatch.context() as patch:
            as_schema(patch, step - 1)
            Store(path).close()
    before = schema_dump(path)
    fail_at(monkeypatch, step, boom)
    with pytest.raises(Exception, match="boom"):
        Store(path)
    assert schema_dump(path) == before


def test_a_migration_failing_with_a_sqlite_error_says_the_upgrade_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = old_project(tmp_path, monkeypatch)
    fail_at(monkeypatch, 12, no_such_table)
    said = refused_at_launch(project)
    assert "cannot be opened" not in said
    assert (f"upgrading it from schema {OLD} to {schema.SCHEMA_VERSION} failed at "
            "step 12") in said
    assert "no such table: no_such_table" in said and "left at schema 11" in said


def test_a_migration_that_finds_the_drive_full_says_the_upgrade_failed_and_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Not "what this command was writing was not saved": the command wrote nothing,
    the upgrade before it could not be saved."""
    project = old_project(tmp_path, monkeypatch)

    def full(db: sqlite_utils.Database) -> None:
        db.execute("ROLLBACK")  # what SQLite does on its own
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise exc

    fail_at(monkeypatch, OLD + 1, full)
    free = 8192
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10 << 20, (10 << 20) - free, free))
    assert main(["info", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert f"upgrading it from schema {OLD} to {schema.SCHEMA_VERSION} failed" in err
    assert "is full" in err and "nothing in it was changed" in err
    assert "not saved" not in err


def read_only_sqlite(monkeypatch: pytest.MonkeyPatch, project: Project) -> None:
    """SQLite opens the project's store read-only, as for a file not writable."""
    real_connect = sqlite3.connect

    def read_only(path, **kwargs):  # noqa: ANN001, ANN202 - sqlite3.connect's own
        return real_connect(f"{db_module.rw_uri(project.db_path)[:-2]}ro", uri=True,
                            **{k: v for k, v in kwargs.items() if k != "uri"})

    monkeypatch.setattr(db_module.sqlite3, "connect", read_only)


def test_a_read_only_project_of_an_older_schema_says_it_needs_an_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = old_project(tmp_path, monkeypatch)
    read_only_sqlite(monkeypatch, project)
    said = refused_at_launch(project)
    assert "read-only" in said
    assert f"needs an upgrade from schema {OLD} to {schema.SCHEMA_VERSION}" in said
    assert "copy the project folder" in said
    assert f"schema {OLD}" in said  # the older release that still reads it
    assert version_of(project.db_path) == OLD


def test_a_read_only_project_of_this_schema_says_nothing_of_an_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.open(tmp_path / "harvey", create=True)
    read_only_sqlite(monkeypatch, project)
    said = refused_at_launch(project)
    assert "read-only" in said and "upgrade" not in said


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def partial_copy(media: Path, pid: int) -> Path:
    """A half-made copy of the demo's files, as a start with id ``pid`` leaves one."""
    partial = media / f".{demo.DEMO_FOLDER}.partial-{pid}"
    partial.mkdir(parents=True)
    (partial / "README.md").write_text("half", encoding="utf-8")
    return partial


def test_a_partial_copy_left_by_a_killed_build_is_removed_at_the_next(
        tmp_path: Path) -> None:
    job = demo.DemoJob(tmp_path / "data")
    project = Project.open(job.root, create=True)
    killed = partial_copy(project.folder("media"), dead_pid())
    running = partial_copy(project.folder("media"), os.getppid())  # a start copying now
    job._copy_sources(project)
    assert not killed.exists()
    assert running.exists()


def test_a_partial_copy_older_than_an_hour_is_removed_whatever_its_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its process id may have been given to another process since."""
    job = demo.DemoJob(tmp_path / "data")
    project = Project.open(job.root, create=True)
    old = partial_copy(project.folder("media"), os.getppid())
    now = demo.time.time()
    monkeypatch.setattr(demo.time, "time", lambda: now + 2 * 3600)
    job._copy_sources(project)
    assert not old.exists()


def test_a_copy_the_other_first_start_put_in_place_meanwhile_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two first starts at once: the other puts its copy in place between this one's
    last look and its own rename, which then fails ("directory not empty")."""
    job = demo.DemoJob(tmp_path / "data")
    project = Project.open(job.root, create=True)
    dest = project.folder("media") / demo.DEMO_FOLDER
    real_replace = os.replace
    held: list[int] = []

    def replace(source, target) -> None:  # noqa: ANN001 - os.replace's own
        if Path(target) == dest and not held:
            with demo.importlib_resources.as_file(resource("demo")) as files:
                shutil.copytree(files, dest)  # the other start's copy, in place
            held.append((dest / "README.md").stat().st_ino)
        real_replace(source, target)

    monkeypatch.setattr(demo.os, "replace", replace)
    assert job._copy_sources(project) == dest
    assert (dest / "README.md").stat().st_ino == held[0]  # the other's, kept
    assert sorted(p.name for p in dest.parent.iterdir()) == ["demo"]  # no copy left over
