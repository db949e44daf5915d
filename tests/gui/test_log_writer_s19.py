"""The app's log written off the UI thread (session 19), and nothing lost at the end.

Before: each line was written to the file by the thread that logged it, the UI thread
included (a job's start and end, a slot's exception): a log folder on a network drive
that stopped answering, or a disk that had filled, froze the window with it. Now one
writer thread writes the file; whatever is logged right before the app ends is still
written, on a normal exit and on the quick exit the app takes past a stuck job.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisisdesk.core import app_log
from crisisdesk.core.progress import Progress
from crisisdesk.gui.worker import JobRunner

#: Lines logged right before the end: many, so that a writer left behind shows.
LAST_LINES = 3000


@pytest.fixture
def written_on(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, threading.Thread]]:
    """Each line written to the log file with the thread that wrote it."""
    lines: list[tuple[str, threading.Thread]] = []
    emit = app_log._LogFile.emit

    def recording(self: app_log._LogFile, record: logging.LogRecord) -> None:
        lines.append((record.getMessage(), threading.current_thread()))
        emit(self, record)

    monkeypatch.setattr(app_log._LogFile, "emit", recording)
    return lines


def test_a_jobs_start_and_end_are_written_off_the_ui_thread(
        qtbot, written_on: list[tuple[str, threading.Thread]]) -> None:
    def works() -> Iterator[Progress]:
        yield Progress(1, 1, "one", "cpu")

    def fails() -> Iterator[Progress]:
        yield Progress(0, 1, "reading", "cpu")
        raise ValueError("row 7 of posts.csv has no id")

    path = app_log.start_log()
    assert path is not None
    assert threading.current_thread() is threading.main_thread()  # the UI thread
    for title, job in (("Import posts.csv", works), ("Embed images (clip)", fails)):
        runner = JobRunner(title, job)
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            runner.start()  # "job started" logged here, "job ... after" on its end
    qtbot.waitUntil(lambda: any("job failed: Embed" in line for line, _ in written_on),
                    timeout=10_000)
    lines = [line for line, _ in written_on]
    assert any(line.startswith("job started: Import posts.csv") for line in lines)
    assert any(line.startswith("job done: Import posts.csv") for line in lines)
    on_the_ui_thread = [line for line, thread in written_on
                        if thread is threading.main_thread()]
    assert on_the_ui_thread == []
    assert "ValueError: row 7 of posts.csv has no id" in path.read_text("utf-8")


def _run(script: str, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CRISISDESK_SMOKE_TEST="1",
               HF_HUB_OFFLINE="1", CRISISDESK_DATA_DIR=str(data))
    return subprocess.run([sys.executable, "-c", script, *args], env=env,
                          capture_output=True, text=True, timeout=120)


ENDS_SCRIPT = f"""
import logging
from crisisdesk.core import app_log

app_log.start_log()
for i in range({LAST_LINES}):
    logging.getLogger("crisisdesk.test").info("closing line %d", i)
"""


def test_lines_logged_right_before_the_process_ends_are_in_the_file(tmp_path: Path) -> None:
    done = _run(ENDS_SCRIPT, data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "data" / app_log.LOG_FOLDER / app_log.LOG_NAME).read_text("utf-8")
    assert text.count("closing line") == LAST_LINES
    assert f"closing line {LAST_LINES - 1}\n" in text


QUICK_EXIT_SCRIPT = f"""
import logging, threading, sys
from crisisdesk.core.progress import Progress
from crisisdesk.gui import app
from crisisdesk.core.app_log import start_log
from crisisdesk.gui.worker import JobRunner

start_log()  # main() starts it too (once per process): before the job, to log its start
stuck = threading.Event()

def loading_a_model():
    stuck.wait()  # never set: the job never reaches its next yield
    yield Progress(1, 1, "loaded")

still_running = app.jobs_still_running

def closing_lines():
    # Logged as the app decides to end past the stuck job (os._exit: no atexit).
    for i in range({LAST_LINES}):
        logging.getLogger("crisisdesk.test").info("closing line %d", i)
    return still_running()

app.jobs_still_running = closing_lines
app.make_application()
runner = JobRunner("Caption images", loading_a_model)
runner.start()
sys.exit(app.main(sys.argv[1]))
"""


def test_lines_logged_as_the_app_quits_past_a_stuck_job_are_in_the_file(
        demo_like_project, tmp_path: Path) -> None:
    done = _run(QUICK_EXIT_SCRIPT, str(demo_like_project.root), data=tmp_path / "logdata")
    assert done.returncode == 0, done.stderr
    assert "painted" in done.stdout
    text = (tmp_path / "logdata" / app_log.LOG_FOLDER / app_log.LOG_NAME).read_text("utf-8")
    assert "job started: Caption images" in text
    assert text.count("closing line") == LAST_LINES
    assert f"closing line {LAST_LINES - 1}\n" in text


def test_a_log_folder_that_stops_answering_holds_no_thread_that_logs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A network drive that stops answering: the lines wait for it (up to MAX_WAITING,
    the ones past it dropped and that said once), and the threads that log go on."""
    monkeypatch.setattr(app_log, "MAX_WAITING", 20)
    answering = threading.Event()
    waited_on_main: list[str] = []
    emit = app_log._LogFile.emit

    def hung(self: app_log._LogFile, record: logging.LogRecord) -> None:
        if threading.current_thread() is threading.main_thread():
            waited_on_main.append(record.getMessage())  # would have frozen the window
        else:
            answering.wait(30)
        emit(self, record)

    monkeypatch.setattr(app_log._LogFile, "emit", hung)
    path = app_log.start_log()
    assert path is not None
    for i in range(60):
        logging.getLogger("crisisdesk.test").info("line %d", i)
    assert waited_on_main == []
    answering.set()  # the drive answers again
    assert app_log.flush_log()
    logging.getLogger("crisisdesk.test").info("after it answered")
    app_log.stop_log()
    err = capsys.readouterr().err
    assert err.count("is not being written") == 1 and str(path) in err
    text = path.read_text("utf-8")
    assert "line 0\n" in text and "line 59\n" not in text  # the first kept, later dropped
    assert "after it answered" in text
