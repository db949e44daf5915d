"""The last project in a place the app can no longer look into (a colleague's share
whose permissions changed, a network drive gone stale): the app opens the demo and says
which project and why; it crashed with a traceback before any window showed."""

from __future__ import annotations

from pathlib import Path

from test_odd_places_s9 import deny_looking_into  # tests/core is on sys.path

from crisisdesk.core.project import Project


def test_a_last_project_in_a_folder_that_may_not_be_entered_opens_the_demo(
        qtbot, user_folders, demo_like_project, tmp_path: Path, monkeypatch) -> None:
    from crisisdesk.core import launch
    from crisisdesk.core.settings import remember_project
    from crisisdesk.gui import app

    share = tmp_path / "share"
    project = Project.open(share / "harvey", create=True)
    remember_project(project.root)
    deny_looking_into(monkeypatch, share)
    # The demo's stand-in (building the real one is the first-run test's work).
    monkeypatch.setattr(launch, "demo_project", lambda data_dir=None: demo_like_project.root)
    monkeypatch.setattr(app, "_demo_job", lambda: iter(()))
    app.make_application()
    opener = app.open_project_window(None, annotator="tester")
    qtbot.waitUntil(lambda: opener.window is not None or opener.failure is not None)
    assert opener.failure is None
    window = opener.window
    qtbot.addWidget(window)
    assert window.project.root == demo_like_project.root
    message = window.statusBar().currentMessage()
    assert f"The last project, {project.root}, could not be opened" in message
    assert "Permission denied" in message
    opener.shutdown()
