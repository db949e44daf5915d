"""A project whose store cannot be opened (damaged, foreign, newer, read-only, locked:
the reasons themselves are tested in tests/core/test_launch.py): as the last project,
the demo opens in its place and the window says which project and why; given to
``crisisdesk open``, the app says so in a message box and on stderr and exits with 2,
with no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from crisisdesk.core.project import Project

DAMAGED = "could not be opened: its project.sqlite is damaged or is not a SQLite database"


@pytest.fixture()
def damaged_project(tmp_path: Path) -> Project:
    """A project whose project.sqlite is some other kind of file."""
    project = Project.open(tmp_path / "my-harvey-project", create=True)
    project.db_path.write_bytes(b"not a database, " * 400)
    return project


def demo_window(qtbot, monkeypatch, demo_like_project: Project):
    """Launch the app with no project named: the demo (a stand-in) must open in the
    last project's place; its main window."""
    from crisisdesk.core import launch
    from crisisdesk.gui import app

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
    opener.shutdown()
    return window


def demo_window_message(qtbot, monkeypatch, demo_like_project: Project) -> str:
    """:func:`demo_window`'s note at the top (which says why the last project did not
    open)."""
    from crisisdesk.gui.launch_notice import LaunchNotice

    notes = demo_window(qtbot, monkeypatch, demo_like_project).findChildren(LaunchNotice)
    return notes[0].label.text() if notes else ""


def test_a_damaged_last_project_is_said_with_why_in_the_demo_window(
        qtbot, user_folders, demo_like_project, damaged_project, monkeypatch) -> None:
    from crisisdesk.core.settings import remember_project

    remember_project(damaged_project.root)
    message = demo_window_message(qtbot, monkeypatch, demo_like_project)
    assert f"The last project, {damaged_project.root}, {DAMAGED}" in message
    assert "crisisdesk open FOLDER" in message


def test_crisisdesk_open_on_a_damaged_project_says_why_and_exits_2(
        qtbot, user_folders, damaged_project, monkeypatch, capfd) -> None:
    from crisisdesk.cli import main
    from crisisdesk.gui import app

    boxes: list[str] = []
    monkeypatch.setattr(app.QMessageBox, "critical",
                        lambda parent, title, text: boxes.append(text))
    app.make_application()
    hang = QTimer()  # a hang fails the test, not the whole run
    hang.setSingleShot(True)
    hang.timeout.connect(QApplication.quit)
    hang.start(60_000)
    code = main(["open", str(damaged_project.root)])
    hang.stop()
    assert code == 2
    out, err = capfd.readouterr()
    assert f"crisisdesk: error: {damaged_project.root} {DAMAGED}" in err
    assert len(boxes) == 1 and f"{damaged_project.root} {DAMAGED}" in boxes[0]
    assert "Traceback" not in out + err
