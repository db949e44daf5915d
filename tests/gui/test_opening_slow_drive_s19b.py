"""What the opening window says while the last project's drive does not answer, and
while the demo is built in place of a last project that was refused (session 19).

Before: a last project on a drive that hangs left "Starting crisisdesk…" in the window
until the drive answered, nothing saying what the app waited on; and a last project whose
project.sqlite is damaged, with no demo built yet, had the demo built inside the opening
thread under "Opening the last project…" for the whole build, with no steps.
The wait is the test's to end (an event), never a clock's: the window's delay is 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_opening_demo_words_s19 import built_demo, opened, said  # noqa: F401 - fixture

from crisisdesk.core import launch
from crisisdesk.core.demo import demo_root
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import DB_NAME
from crisisdesk.core.settings import remember_project
from crisisdesk.gui import app, opening_window


def test_the_window_says_it_waits_on_the_last_projects_drive(
        qtbot, user_folders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        said: list[str]) -> None:
    built_demo(user_folders["data"])
    hung_drive = tmp_path / "share"
    last = hung_drive / "harvey"
    remember_project(last)
    answers = threading.Event()
    looked: list[Path] = []
    is_file = Path.is_file

    def slow_is_file(path: Path) -> bool:
        if hung_drive in path.parents:  # the drive hangs until the test lets it answer
            looked.append(path)
            answers.wait(30)  # bounded: before the fix the window never says it waits
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", slow_is_file)
    monkeypatch.setattr(opening_window, "DRIVE_WAIT_MS", 0)
    opener = app.open_project_window(None, annotator="tester")
    try:
        qtbot.waitUntil(lambda: bool(looked))
        qtbot.waitUntil(lambda: any("Waiting for the drive" in text for text in said),
                        timeout=10_000)
    finally:
        answers.set()  # the drive answers (the project is not there)
    qtbot.waitUntil(lambda: opener.window is not None or opener.failure is not None,
                    timeout=30_000)
    assert opener.failure is None, opener.failure
    qtbot.addWidget(opener.window)
    opener.shutdown()
    waiting = [text for text in said if "Waiting for the drive" in text]
    assert str(last) in waiting[0], waiting
    # Once the drive answered, the window moves on and says what opens.
    assert any("demo" in text for text in said[said.index(waiting[0]):]), said


def test_a_damaged_last_project_says_so_while_the_demo_is_built_with_its_steps(
        qtbot, user_folders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        said: list[str]) -> None:
    damaged = tmp_path / "harvey"
    damaged.mkdir()
    (damaged / DB_NAME).write_bytes(b"this is not a database" * 100)
    remember_project(damaged)
    steps = ["importing the demo posts", "captioning the demo images"]

    def build() -> Iterator[Progress]:  # the demo's build, without its models
        for done, words in enumerate(steps):
            yield Progress(done, len(steps), words)
        built_demo(user_folders["data"])

    def build_at_once(data_dir: Path | None = None) -> Path:  # the build before the fix
        for _progress in build():
            pass
        return demo_root(user_folders["data"])

    monkeypatch.setattr(app, "_demo_job", build)
    monkeypatch.setattr(launch, "demo_project", build_at_once)
    opener = opened(qtbot)
    opener.shutdown()
    assert opener.window.project.root == demo_root(user_folders["data"])
    refused = [text for text in said
               if f"The last project, {damaged}, could not be opened" in text]
    assert refused and "building the demo" in refused[0], said
    after = said[said.index(refused[0]):]
    assert all(any(step in text for text in after) for step in steps), said
    from crisisdesk.gui.launch_notice import LaunchNotice

    # The demo's window still says why, as it did.
    notes = [note.label.text() for note in opener.window.findChildren(LaunchNotice)]
    assert any(f"The last project, {damaged}, could not be opened" in note and "damaged"
               in note for note in notes), notes
