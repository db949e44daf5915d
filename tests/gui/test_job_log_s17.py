"""The app's log seen from the app (session 17): each job's start and end, a failed
job's traceback and where to find it again, the project opened, an exception in a Qt
slot; Help's "Show log folder…"; and the GPU's model name in a job's row.

Before: nothing was logged anywhere, a failed job's traceback went with its window, and
the row said "on GPU 0" with no name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from crisisdesk.core import app_log, gpu_names
from crisisdesk.core.progress import Progress
from crisisdesk.gui.worker import JobRunner


@pytest.fixture
def log(user_folders: dict[str, Path]) -> Iterator[Path]:
    """The app's log started in the test's data folder; stopped after."""
    path = app_log.start_log()
    assert path is not None and user_folders["data"] in path.parents
    yield path
    app_log.stop_log()


def _run(qtbot, runner: JobRunner) -> None:
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()


def test_a_jobs_start_and_end_are_logged_with_a_failed_ones_traceback(qtbot, log) -> None:
    def works() -> Iterator[Progress]:
        yield Progress(1, 1, "one", "cpu")

    def fails() -> Iterator[Progress]:
        yield Progress(0, 3, "reading", "cpu")
        raise ValueError("row 7 of posts.csv has no id")

    _run(qtbot, JobRunner("Import posts.csv", works))
    failed = JobRunner("Embed images (clip)", fails)
    _run(qtbot, failed)
    app_log.flush_log()  # the writer thread writes the file
    text = log.read_text("utf-8")
    assert "job started: Import posts.csv" in text
    assert "job done: Import posts.csv after" in text
    assert "job started: Embed images (clip)" in text
    assert "job failed: Embed images (clip) after" in text
    assert "ValueError: row 7 of posts.csv has no id" in text  # the full traceback
    assert "in fails" in text
    # The Details the analyst is shown say where to find it once the window is gone.
    assert str(log) in failed.details


def test_the_project_opened_and_torch_are_logged(qtbot, log, demo_like_project) -> None:
    from crisisdesk.gui import app

    app.make_application()
    opener = app.open_project_window(str(demo_like_project.root), annotator="tester")
    qtbot.waitUntil(lambda: getattr(opener, "window", None) is not None, timeout=30_000)
    qtbot.addWidget(opener.window)
    qtbot.waitUntil(lambda: "jobs can run on" in log.read_text("utf-8"), timeout=30_000)
    text = log.read_text("utf-8")
    assert f"project opened: {demo_like_project.root}" in text
    opener.shutdown()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_qt_slot_is_logged_and_still_shown(
        qtbot, user_folders, monkeypatch) -> None:
    import sys

    shown: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: shown.append(str(value)))
    path = app_log.start_log()
    assert path is not None
    try:
        def slot() -> None:
            raise KeyError("a slot broke")

        QTimer.singleShot(0, slot)
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
        assert shown == ["'a slot broke'"]
        app_log.flush_log()  # the writer thread writes the file
        assert "KeyError: 'a slot broke'" in path.read_text("utf-8")
    finally:
        app_log.stop_log()


def test_show_log_folder_opens_the_logs_folder(qtbot, log, monkeypatch) -> None:
    from crisisdesk.gui import log_folder

    opened: list[str] = []
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    assert log_folder.show_log_folder(None) is None
    qtbot.waitUntil(lambda: bool(opened))  # once the folder answered (session 19)
    assert [Path(p) for p in opened] == [log.parent]


def test_show_log_folder_says_the_path_where_no_file_manager_opens(
        qtbot, log, monkeypatch) -> None:
    from test_log_folder_answers_s19 import log_folder_box

    from crisisdesk.gui import log_folder

    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl", lambda url: False)
    log_folder.show_log_folder(None)
    box = log_folder_box(qtbot)  # once the folder answered (session 19)
    assert str(log.parent) in box.text()
    box.close()


# ------------------------------------------------------------------ the GPU's name


def test_a_jobs_row_names_its_gpu_asked_off_the_ui_thread(qtbot, monkeypatch) -> None:
    import torch

    from crisisdesk.gui.jobs_panel import JobsPanel

    asked_in: list[int] = []

    def name(device=None) -> str:
        asked_in.append(threading.get_ident())
        return "NVIDIA RTX 4090"

    monkeypatch.setattr(torch.cuda, "get_device_name", name)
    gpu_names.forget_gpu_names()
    gate = threading.Event()
    try:
        panel = JobsPanel()
        qtbot.addWidget(panel)

        def on_gpu() -> Iterator[Progress]:
            for i in range(3):
                yield Progress(i + 1, 3, "step", "cuda:0")
                gate.wait(10)

        runner = panel.run("Embed images", on_gpu)
        qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
        row = panel.row_of(runner)
        assert row.device.text() == "on GPU 0, NVIDIA RTX 4090"
        gate.set()
        qtbot.waitUntil(lambda: not runner.is_running(), timeout=10_000)
        assert len(asked_in) == 1  # once, not at each progress
        assert asked_in[0] != threading.get_ident()  # never on the UI thread
    finally:
        gate.set()
        gpu_names.forget_gpu_names()
