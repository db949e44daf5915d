"""The app opening an old project: its opening window says that the project is being
upgraded and which step of how many (the upgrade running off the UI thread), and the
store is opened once before the main window, not once more to take the upgrade's note."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from test_cli_upgrade_note_s17 import OLD, old_project, schema_of
from upgrade_clock import steps_said_at_once  # noqa: F401 - the fixture
from window_helpers import open_in_app

from crisisdesk.core import launch
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import schema
from crisisdesk.core.store.db import StoreBase
from crisisdesk.core.store.schema import SCHEMA_VERSION
from crisisdesk.gui import app
from crisisdesk.gui.main_window import MainWindow


def opened(qtbot, root: Path) -> app.Opener:
    """``root`` opened in the app, its window's first queries done."""
    opener = open_in_app(qtbot, root, annotator="ana")
    qtbot.waitUntil(lambda: opener.window.actions_.preloaded is not None, timeout=60_000)
    return opener


def close(opener: app.Opener) -> None:
    opener.shutdown()
    opener.window.close()


def test_the_opening_window_says_the_project_is_being_upgraded(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        steps_said_at_once: None) -> None:
    root = old_project(tmp_path)
    assert schema_of(root) == OLD
    shown: list[tuple[Progress, bool]] = []
    show = app.OpeningWindow.show_progress

    def recording(self, progress: Progress) -> None:
        shown.append((progress, threading.current_thread() is threading.main_thread()))
        show(self, progress)

    monkeypatch.setattr(app.OpeningWindow, "show_progress", recording)
    steps_on_ui: list[bool] = []

    def noted(step):
        def run(db) -> None:
            steps_on_ui.append(threading.current_thread() is threading.main_thread())
            step(db)
        return run

    monkeypatch.setattr(schema, "MIGRATIONS", [noted(step) for step in schema.MIGRATIONS])
    opener = opened(qtbot, root)
    close(opener)
    steps = SCHEMA_VERSION - OLD
    assert [p.done for p, _ in shown] == list(range(steps + 1))
    assert {p.total for p, _ in shown} == {steps}
    first = shown[0][0].message
    assert first.startswith("Upgrading") and f"step 1 of {steps}" in first
    assert len(first) <= 80  # the opening window's label shows 80 characters
    assert all(on_ui for _, on_ui in shown)  # painted on the UI thread
    assert len(steps_on_ui) == steps and not any(steps_on_ui)  # the upgrade: never


@pytest.mark.parametrize("current", [False, True], ids=["old", "current"])
def test_the_app_opens_the_store_once_before_its_window(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, current: bool) -> None:
    root = old_project(tmp_path)
    if current:
        Project.open(root).open_store().close()
        assert launch.take_upgrade(Project(root)) == OLD  # said already
    opens: list[Path] = []
    before_window: list[int] = []
    made, window_made = StoreBase.__init__, MainWindow.__init__

    def counted(self, path, *args, **kwargs) -> None:
        opens.append(Path(path))
        made(self, path, *args, **kwargs)

    def window(self, *args, **kwargs) -> None:
        before_window.append(len(opens))
        window_made(self, *args, **kwargs)

    monkeypatch.setattr(StoreBase, "__init__", counted)
    monkeypatch.setattr(MainWindow, "__init__", window)
    opener = opened(qtbot, root)
    notes = [n for n in opener.window.findChildren(QLabel) if "upgraded" in n.text()]
    close(opener)
    # The check that the store opens for reading and writing (which upgrades an old
    # one) is the only open before the window: its note is taken without another.
    assert before_window == [1]
    assert schema_of(root) == SCHEMA_VERSION
    assert bool(notes) is not current
