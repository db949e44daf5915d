"""Launch: the given project, else the last one if it still exists, else the demo; the
last project is remembered in app.json; clear errors for a folder that is no project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
