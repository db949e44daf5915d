"""The last project in a place the app can no longer look into (a colleague's share
whose permissions changed, a network drive gone stale): the app opens the demo and says
which project and why; it crashed with a traceback before any window showed."""

from __future__ import annotations

from pathlib import Path

from test_launch_failures import demo_window_message
from test_odd_places_s9 import deny_looking_into  # tests/core is on sys.path

from crisisdesk.core.project import Project


def test_a_last_project_in_a_folder_that_may_not_be_entered_opens_the_demo(
        qtbot, user_folders, demo_like_project, tmp_path: Path, monkeypatch) -> None:
    from crisisdesk.core.settings import remember_project

    share = tmp_path / "share"
    project = Project.open(share / "harvey", create=True)
    remember_project(project.root)
    deny_looking_into(monkeypatch, share)
    message = demo_window_message(qtbot, monkeypatch, demo_like_project)
    assert f"The last project, {project.root}, could not be opened" in message
    assert "Permission denied" in message


def test_the_demo_opened_in_a_missing_last_projects_place_is_not_remembered(
        qtbot, user_folders, demo_like_project, tmp_path: Path, monkeypatch) -> None:
    # One start with the USB stick out made the demo the last project: with the stick
    # back, the next start opened the demo again.
    from crisisdesk.core.settings import last_project, remember_project

    stick = tmp_path / "usb" / "harvey"
    remember_project(stick)  # not there now: the stick is out
    message = demo_window_message(qtbot, monkeypatch, demo_like_project)
    assert f"The last project, {stick}" in message and "tried again" in message
    assert Path(last_project()) == stick
