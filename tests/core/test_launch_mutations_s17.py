"""Behaviours of the launch, the project folder and the settings that no test held
(found by planting bugs in a copy): a folder gone said apart from a folder that is no
project; the write check leaving the store as it was; a store another crisisdesk is
recovering, or a table locked, opened as in use; a migration's disk I/O error called a
full drive only on a full drive; a -shm file another user left named; the demo of a
fallback built where asked; a "~" path opened; an unknown project subfolder refused; a
project folder moved while open not made again; a store deleted under an open project not
made anew, one that will not open not said to be gone, a zero-byte one refused by a
command; a project made only in a new or empty folder, one that could not be made leaving
nothing and keeping the parent that was there; empty XDG variables, the config and data
homes apart, Windows without APPDATA; an app.json spoilt by hand, a relative project
remembered as absolute. (Schemes, upgrades' words, the demo: test_schemes_demo_mutations_s17.)"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils
from test_upgrade_fails_s13 import (
    OLD,
    fail_at,
    old_project,
    read_only_sqlite,
    refused_at_launch,
)

from crisisdesk.core import launch
from crisisdesk.core import project as project_module
from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.settings import (
    SettingsError,
    config_dir,
    last_project,
    read_settings_strict,
    remember_project,
    user_data_dir,
)
from crisisdesk.core.store import schema


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Settings and data in the test's own folders; the demo faked (its real build:
    test_demo.py), recording the data folder each build was asked for."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    built: list[Path | None] = []

    def fake_demo(data_dir: Path | None = None) -> Path:
        built.append(data_dir)
        return (data_dir or tmp_path / "data") / "demo"

    monkeypatch.setattr(launch, "demo_project", fake_demo)
    return built


def why_refused(path: Path) -> str:
    """The reason the launch gives for refusing the project at ``path``."""
    with pytest.raises(launch.ProjectNotOpened) as caught:
        launch.check_project(path)
    return caught.value.reason


def test_a_folder_gone_is_said_apart_from_a_folder_that_is_no_project(
        tmp_path: Path) -> None:
    # The analyst whose last project "is not a crisisdesk project" looks for a broken
    # file; one that was moved or deleted is looked for elsewhere.
    (tmp_path / "plain").mkdir()
    assert "no such folder" in why_refused(tmp_path / "gone")
    assert "not a crisisdesk project" not in why_refused(tmp_path / "gone")
    assert "not a crisisdesk project" in why_refused(tmp_path / "plain")
    assert "no such folder" not in why_refused(tmp_path / "plain")


def test_the_write_check_leaves_the_store_as_it_was(project: Project) -> None:
    # The check's write is undone: launching the app writes nothing into the project
    # (a shared or backed-up folder) until the analyst does something.
    def meta() -> list[tuple]:
        with closing(sqlite3.connect(project.db_path)) as conn:
            return conn.execute("SELECT * FROM meta ORDER BY key").fetchall()

    before = meta()
    assert launch.check_project(project.root).root == project.root
    assert meta() == before


@pytest.mark.parametrize("code", [sqlite3.SQLITE_BUSY_RECOVERY, sqlite3.SQLITE_LOCKED])
def test_a_store_another_crisisdesk_is_recovering_opens_as_in_use(
        project: Project, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    # SQLite's extended code: busy while another connection recovers the WAL (after a
    # crash); or a table locked. In use, not broken: the project opens, not the demo in
    # its place.
    def recovering(*args: object, **kwargs: object) -> None:
        exc = sqlite3.OperationalError("database is locked")
        exc.sqlite_errorcode = code
        raise exc

    monkeypatch.setattr(launch, "Store", recovering)
    assert launch.check_project(project.root).root == project.root


@pytest.mark.parametrize(("free", "full"), [(100 << 30, False), (8192, True)])
def test_a_migrations_disk_error_is_called_a_full_drive_only_on_a_full_drive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int, full: bool) -> None:
    # "Free some space" on a drive with room sends the analyst the wrong way (a disk
    # I/O error there is reported to the developers); on a full drive it is the answer
    # (SQLite often says "disk I/O error" when a write finds no room).
    project = old_project(tmp_path, monkeypatch)

    def io_error(db: sqlite_utils.Database) -> None:
        db.execute("ROLLBACK")
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = sqlite3.SQLITE_IOERR
        raise exc

    fail_at(monkeypatch, OLD + 1, io_error)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        200 << 30, (200 << 30) - free, free))
    said = refused_at_launch(project)
    assert f"upgrading it from schema {OLD} to {schema.SCHEMA_VERSION} failed" in said
    assert ("is full" in said) is full
    assert ("please report this" in said) is not full


def test_a_shm_file_another_user_left_is_named_as_the_file_that_cannot_be_written(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the -wal file (test_readonly_project_s11): only the -shm is another user's.
    (project.root / "project.sqlite-shm").write_bytes(b"")
    real_access = os.access

    def access(path, mode, **kwargs):  # noqa: ANN001, ANN202 - os.access's own
        if Path(path).name == "project.sqlite-shm" and mode == os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    read_only_sqlite(monkeypatch, project)
    monkeypatch.setattr(os, "access", access)
    said = why_refused(project.root)
    assert f"{project.root / 'project.sqlite-shm'} cannot be written" in said
    assert "copy the project folder" in said


def test_the_demo_opened_for_a_last_project_gone_is_built_where_asked(
        tmp_path: Path, folders: list[Path | None]) -> None:
    remember_project(tmp_path / "gone")
    chosen = launch.choose(None, data_dir=tmp_path / "elsewhere")
    assert chosen.not_opened is not None
    assert folders == [tmp_path / "elsewhere"]
    assert chosen.root == tmp_path / "elsewhere" / "demo"


def test_a_project_given_under_the_home_folder_as_tilde_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "crisisdesk open '~/harvey'" (quoted, or from a script or a shortcut's line).
    monkeypatch.setenv("HOME", str(tmp_path))
    project = Project.open(tmp_path / "harvey", create=True)
    assert launch.check_project("~/harvey").root == project.root


def test_an_unknown_project_subfolder_is_refused(project: Project) -> None:
    # A misspelt folder name in a job would make a stray folder beside models/,
    # exports/..., and its files never be found again.
    with pytest.raises(ValueError, match="unknown project folder 'model'"):
        project.folder("model")
    assert not (project.root / "model").exists()


def test_a_project_folder_moved_while_open_is_not_made_again_for_a_jobs_files(
        project: Project, tmp_path: Path) -> None:
    # The drive unplugged or the folder renamed under an open window: an export must
    # fail saying so, not rebuild an empty project folder where the old one was.
    project.root.rename(tmp_path / "moved")
    with pytest.raises(ProjectError, match="moved, renamed or deleted while open"):
        project.folder("exports")
    assert not project.root.exists()


def test_a_store_deleted_under_an_open_project_is_not_made_anew_empty(
        project: Project) -> None:
    # A command or window on a project whose project.sqlite was deleted (or restored
    # away) meanwhile: said, never an empty store carried on under the old name.
    project.db_path.unlink()
    with pytest.raises(ProjectError, match="has no project.sqlite any more"):
        project.open_store()
    assert not project.db_path.exists()


def test_a_store_that_is_there_but_will_not_open_is_not_said_to_be_gone(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Moved or deleted" sends the analyst looking for a folder that is right there.
    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(project_module, "Store", locked)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        project.open_store()


def test_a_command_on_a_zero_byte_store_is_refused_and_leaves_it_as_it_was(
        project: Project) -> None:
    # A store cut to nothing (a full disk, a failed copy): a command would write a new,
    # empty schema into it and carry on as an empty project, unsaid.
    project.db_path.write_bytes(b"")
    with pytest.raises(ProjectError, match=r"empty \(0 bytes\).*backup"):
        Project.open(project.root)
    assert project.db_path.stat().st_size == 0


def test_a_project_is_made_only_in_a_new_or_empty_folder(tmp_path: Path) -> None:
    # Documents/ given by mistake: its files would share a folder with models/,
    # exports/... and a project.sqlite.
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "report.docx").write_bytes(b"x")
    with pytest.raises(ProjectError, match="other files in it"):
        Project.open(tmp_path / "documents", create=True)
    assert [p.name for p in (tmp_path / "documents").iterdir()] == ["report.docx"]


def test_a_project_that_could_not_be_made_leaves_nothing_and_keeps_what_was_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store could not be made (a path too long for SQLite, a drive gone): the
    # folders made for it go, with the store's -wal and -shm files, so that the next
    # try is not refused as "a folder with other files in it"; an empty folder that
    # was there already (the analyst's "projects") stays.
    (tmp_path / "projects").mkdir()
    root = tmp_path / "projects" / "2024" / "harvey"

    def fails(path: Path, *args: object, **kwargs: object) -> None:
        for end in ("", "-wal", "-shm"):
            Path(f"{path}{end}").write_bytes(b"")
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(project_module, "Store", fails)
    with pytest.raises(ProjectError, match="cannot make the project folder"):
        Project.open(root, create=True)
    assert not (tmp_path / "projects" / "2024").exists()
    assert (tmp_path / "projects").is_dir()


@pytest.mark.parametrize(("variable", "place", "made"), [
    ("XDG_DATA_HOME", user_data_dir, Path.home() / ".local" / "share" / "crisisdesk"),
    ("XDG_CONFIG_HOME", config_dir, Path.home() / ".config" / "crisisdesk"),
])
def test_an_empty_xdg_variable_is_taken_as_unset(
        monkeypatch: pytest.MonkeyPatch, variable: str,
        place: Callable[[], Path], made: Path) -> None:
    # As the XDG spec says: an empty value is not "here" (settings and the demo would
    # land in whatever folder the app was started from).
    monkeypatch.delenv("CRISISDESK_DATA_DIR")
    monkeypatch.delenv("CRISISDESK_CONFIG_DIR")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv(variable, "")
    assert place() == made


def test_settings_follow_the_platform_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings under the config home, never under the data home (where a "clear my
    # data" wipes them), nor data under the config home.
    monkeypatch.delenv("CRISISDESK_CONFIG_DIR")
    monkeypatch.delenv("CRISISDESK_DATA_DIR")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/config")
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert config_dir() == Path("/config/crisisdesk")
    assert user_data_dir() == Path("/data/crisisdesk")
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("APPDATA", "C:/Users/a/AppData/Roaming")
    monkeypatch.setenv("LOCALAPPDATA", "C:/Users/a/AppData/Local")
    assert config_dir() == Path("C:/Users/a/AppData/Roaming/crisisdesk")
    assert user_data_dir() == Path("C:/Users/a/AppData/Local/crisisdesk")
    # A Windows service or sandbox without them: a folder still, not a TypeError at
    # launch.
    monkeypatch.delenv("APPDATA")
    monkeypatch.delenv("LOCALAPPDATA")
    assert config_dir().name == user_data_dir().name == "crisisdesk"


@pytest.mark.parametrize("text", ['["/home/ana/harvey"]', '{"last_project": ""}',
                                  '{"last_project": 5}'])
def test_an_app_settings_file_spoilt_by_hand_gives_no_last_project(text: str) -> None:
    # The app then opens the demo (and the doctor names the file), rather than failing
    # at launch or taking the folder it was started from for the last project.
    config_dir().mkdir(parents=True)
    (config_dir() / "app.json").write_text(text, "utf-8")
    assert last_project() is None


def test_an_app_settings_file_not_holding_an_object_is_named_as_such() -> None:
    # Read strictly (the doctor; a writer that must not replace it with one entry).
    config_dir().mkdir(parents=True)
    (config_dir() / "app.json").write_text("[]", "utf-8")
    with pytest.raises(SettingsError, match=r"app\.json should hold a JSON object, not list"):
        read_settings_strict("app.json")


def test_a_project_remembered_by_a_relative_name_is_reopened_from_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "crisisdesk open harvey" in the projects folder; the next launch is from the
    # desktop menu, in the home folder.
    project = Project.open(tmp_path / "harvey", create=True)
    monkeypatch.chdir(tmp_path)
    remember_project("harvey")
    monkeypatch.chdir(tmp_path / "harvey" / "models")
    assert last_project() == project.root
