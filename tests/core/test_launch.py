"""Launch: the given project, else the last one if it still exists, else the demo; the
last project is remembered in app.json; clear errors for a folder that is no project."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from spoiled_stores import spoil_newer_schema, spoil_random, spoil_truncated, spoil_zero_bytes

from crisisdesk.core import launch
from crisisdesk.core.launch import ProjectError, project_to_open
from crisisdesk.core.project import Project
from crisisdesk.core.settings import (
    config_dir,
    last_project,
    read_settings,
    remember_project,
    user_data_dir,
)
from crisisdesk.core.store import db as db_module


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    built: list[Path | None] = []

    def fake_demo(data_dir: Path | None = None) -> Path:  # the real build: test_demo.py
        built.append(data_dir)
        return user_data_dir() / "demo"

    monkeypatch.setattr(launch, "demo_project", fake_demo)
    monkeypatch.setattr(launch, "BUILT", built, raising=False)
    return tmp_path


def test_the_given_project_is_opened(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    assert project_to_open(str(project.root)) == project.root


def test_a_folder_that_is_not_a_project_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ProjectError, match=str(tmp_path / "plain")):
        project_to_open(str(tmp_path / "plain"))
    with pytest.raises(ProjectError, match="nowhere"):
        project_to_open(str(tmp_path / "nowhere"))


def test_the_last_project_is_remembered_and_reopened(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    assert last_project() is None
    remember_project(project.root)
    assert read_settings("app.json")["last_project"] == str(project.root)
    assert (config_dir() / "app.json").is_file()
    assert last_project() == project.root
    assert project_to_open(None) == project.root
    assert launch.BUILT == []  # the demo was not built


def test_first_run_and_a_vanished_last_project_open_the_demo(tmp_path: Path) -> None:
    assert project_to_open(None) == tmp_path / "data" / "demo"
    project = Project.open(tmp_path / "gone", create=True)
    remember_project(project.root)
    shutil.rmtree(project.root)
    assert project_to_open(None) == tmp_path / "data" / "demo"
    assert len(launch.BUILT) == 2


def test_user_data_dir_follows_the_platform_conventions(monkeypatch) -> None:
    monkeypatch.delenv("CRISISDESK_DATA_DIR")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", "/xdg")
    assert user_data_dir() == Path("/xdg/crisisdesk")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert user_data_dir() == Path.home() / ".local" / "share" / "crisisdesk"
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", "C:/Users/a/AppData/Local")
    assert user_data_dir() == Path("C:/Users/a/AppData/Local") / "crisisdesk"


# ---------------------------------------------------------------- projects that cannot open

@pytest.mark.parametrize(("spoil", "reason"), [
    (spoil_zero_bytes, "its project.sqlite is empty (0 bytes)"),
    (spoil_random, "its project.sqlite is damaged or is not a SQLite database"),
    (spoil_truncated, "its project.sqlite is damaged"),
    (spoil_newer_schema, "written by a newer crisisdesk (schema 999"),
])
def test_a_last_project_whose_store_cannot_be_opened_gives_the_demo_and_why(
        tmp_path: Path, spoil, reason: str) -> None:
    project = Project.open(tmp_path / "harvey", create=True)
    spoil(project.db_path)
    remember_project(project.root)
    opened, not_opened = launch.choose_project(None)
    assert opened == tmp_path / "data" / "demo"
    assert not_opened is not None and not_opened.root == project.root
    assert reason in not_opened.reason
    # `crisisdesk open` on it: refused, naming the project and why.
    with pytest.raises(ProjectError) as caught:
        project_to_open(str(project.root))
    assert str(caught.value).startswith(f"{project.root} could not be opened: ")
    assert reason in str(caught.value)


def test_a_zero_byte_store_is_left_as_it_was(tmp_path: Path) -> None:
    """Opening it would have written an empty schema in it: the project, gone empty."""
    project = Project.open(tmp_path / "harvey", create=True)
    spoil_zero_bytes(project.db_path)
    with pytest.raises(ProjectError):
        project_to_open(str(project.root))
    assert project.db_path.stat().st_size == 0


def test_a_store_that_cannot_be_written_is_refused(tmp_path: Path, monkeypatch) -> None:
    """As on a read-only file, folder or drive. Faked by opening SQLite read-only: tests
    may run as root, whom chmod does not stop."""
    project = Project.open(tmp_path / "harvey", create=True)
    real_connect = sqlite3.connect

    def read_only(path, **kwargs):
        return real_connect(f"file:{path}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr(db_module.sqlite3, "connect", read_only)
    with pytest.raises(ProjectError, match="its project.sqlite cannot be written"):
        project_to_open(str(project.root))


def test_a_store_another_program_is_writing_opens_without_waiting(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """A CLI import holds the write lock for minutes: the project is in use, not broken,
    so it opens (not the demo), and the check does not wait out the lock."""
    project = Project.open(tmp_path / "harvey", create=True)
    other = sqlite3.connect(project.db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program writing
    timeouts = []
    real_connect = sqlite3.connect

    def connect(path, **kw):
        timeouts.append(kw.get("timeout"))
        return real_connect(path, **kw)

    monkeypatch.setattr(db_module.sqlite3, "connect", connect)
    try:
        remember_project(project.root)
        opened, not_opened = launch.choose_project(None)
        assert (opened, not_opened) == (project.root, None)
        assert timeouts == [0]  # the check waited for no lock
    finally:
        other.close()


def test_a_project_folder_that_cannot_be_read_is_refused(tmp_path: Path, monkeypatch) -> None:
    """Faked (tests may run as root, whom chmod does not stop): looking into the folder
    is denied, as Python 3.11 reports it."""
    project = Project.open(tmp_path / "harvey", create=True)
    real_is_file = Path.is_file

    def denied(path: Path) -> bool:
        if path.parent == project.root:
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", denied)
    remember_project(project.root)
    opened, not_opened = launch.choose_project(None)
    assert opened == tmp_path / "data" / "demo"
    assert not_opened is not None and "Permission denied" in not_opened.reason
    with pytest.raises(ProjectError, match="could not be opened: .*Permission denied"):
        project_to_open(str(project.root))
