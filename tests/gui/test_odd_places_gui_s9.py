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
