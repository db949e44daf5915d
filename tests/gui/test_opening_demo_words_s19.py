"""What the opening window says when ``crisisdesk`` alone opens the demo (session 19).

Before: "Building the demo project (first run)…" whenever no last project was remembered
or its project.sqlite was missing, even when the demo had been built on an earlier run
and was only opened; the analyst whose last project was on a drive not plugged in read
"first run" and nothing of their project. And that check stat()ed the last project's
folder on the UI thread: a drive that hung froze the window before it painted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisisdesk.core import launch, settings
from crisisdesk.core.demo import BUILT_KEY, demo_root
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.settings import remember_project
from crisisdesk.core.store import utc_now
from crisisdesk.gui import app


def built_demo(data: Path) -> Path:
    """A demo project marked built in ``data`` (empty: building a real one takes a
    minute, and the words, not the posts, are checked here)."""
    project = Project.open(demo_root(data), create=True)
    with project.open_store() as store:
        store.set_meta(BUILT_KEY, utc_now())
    return project.root


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the opening window's label shows, in order."""
    texts: list[str] = []

    class Recording(app.OpeningWindow):
        def __init__(self, what: str) -> None:
            super().__init__(what)
            texts.append(self.label.text())
            set_text = self.label.setText

            def recorded(text: str) -> None:
                texts.append(text)
                set_text(text)

            self.label.setText = recorded

    monkeypatch.setattr(app, "OpeningWindow", Recording)
    return texts


def opened(qtbot) -> app.Opener:
    """``crisisdesk`` alone, opened as far as its main window."""
    opener = app.open_project_window(None, annotator="tester")
    qtbot.waitUntil(lambda: opener.window is not None or opener.failure is not None,
                    timeout=30_000)
    assert opener.failure is None, opener.failure
    qtbot.addWidget(opener.window)
    return opener


def test_a_demo_built_on_an_earlier_run_is_not_said_built_on_a_first_run(
        qtbot, user_folders, said: list[str]) -> None:
    root = built_demo(user_folders["data"])
    opener = opened(qtbot)
    opener.shutdown()
    assert opener.window.project.root == root
    assert not [text for text in said if "first run" in text], said
    assert any("demo" in text for text in said), said


def test_the_last_project_on_a_drive_not_plugged_in_is_named_while_the_demo_opens(
        qtbot, user_folders, tmp_path: Path, said: list[str]) -> None:
    built_demo(user_folders["data"])
    unplugged = tmp_path / "media" / "usb-stick" / "harvey"
    remember_project(unplugged)
    opener = opened(qtbot)
    opener.shutdown()
    assert not [text for text in said if "first run" in text], said
    assert any(str(unplugged) in text and "demo" in text for text in said), said
    from crisisdesk.gui.launch_notice import LaunchNotice

    # And once the demo is open, its window says why, as it did.
    notes = [note.label.text() for note in opener.window.findChildren(LaunchNotice)]
    assert any(f"The last project, {unplugged}, could not be opened" in note
               for note in notes), notes


def test_a_first_run_is_still_said_to_be_one(qtbot, user_folders, said: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def build() -> Iterator[Progress]:  # the demo's build, without its models
        built_demo(user_folders["data"])
        yield Progress(1, 1, "demo project ready")

    monkeypatch.setattr(app, "_demo_job", build)
    opener = opened(qtbot)
    opener.shutdown()
    assert opener.window.project.root == demo_root(user_folders["data"])
    assert [text for text in said if "first run" in text], said


def test_the_last_project_is_looked_for_off_the_ui_thread(
        qtbot, user_folders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        said: list[str]) -> None:
    """Its folder on a drive that hangs: the opening window paints, the app waits."""
    built_demo(user_folders["data"])
    hung_drive = tmp_path / "share" / "harvey"
    answering = threading.Event()
    asked_on_the_ui_thread: list[bool] = []

    def last_project() -> Path:
        asked_on_the_ui_thread.append(threading.current_thread() is threading.main_thread())
        answering.wait(5)  # bounded: the code before this fix waits here, then goes on
        return hung_drive

    monkeypatch.setattr(settings, "last_project", last_project)
    monkeypatch.setattr(launch, "last_project", last_project)
    opener = app.open_project_window(None, annotator="tester")
    qtbot.waitUntil(lambda: bool(asked_on_the_ui_thread))
    assert opener.opening.isVisible() and opener.window is None
    answering.set()  # the drive answers (it is not there)
    qtbot.waitUntil(lambda: opener.window is not None, timeout=30_000)
    qtbot.addWidget(opener.window)
    opener.shutdown()
    assert not any(asked_on_the_ui_thread)
    assert any(str(hung_drive) in text for text in said), said
