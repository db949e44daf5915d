"""Closing a dialog never freezes the window: a dialog closed while its background read
still runs (the import dialog's column read on a hung network share, the retrain report's
or the Model versions window's versions load) returns at once and the window's event loop
goes on; the read's result, when it comes, is dropped, and its thread then ends.

Closing waited on the UI thread for the read (up to 5 s in ``Background.shutdown``, then
without limit while the freed dialog's thread pool was destroyed). Checked by what runs
while the read is held, never timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from import_helpers import write_csv
from PySide6.QtCore import QTimer
from test_day_long_session_s13 import OPENERS, _deleted
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui import pool_drain

HELD_S = 8  # how long the held read waits for its gate at most (the old close outlasted it)


class _HeldRead:
    """A read held until ``gate`` is set: it notes its thread and whether it ended."""

    def __init__(self) -> None:
        self.started, self.gate, self.ended = (threading.Event(), threading.Event(),
                                               threading.Event())
        self.thread: int | None = None

    def hold(self) -> None:
        self.thread = threading.get_native_id()
        self.started.set()
        self.gate.wait(HELD_S)
        self.ended.set()


def _thread_alive(native_id: int) -> bool:
    return str(native_id) in os.listdir("/proc/self/task")


def _hold_the_dialogs_read(kind: str, monkeypatch, held: _HeldRead) -> list[object]:
    """Make ``kind``'s background read wait on ``held``; the list gets what its result
    handler is handed (nothing, once the dialog is closed)."""
    delivered: list[object] = []
    if kind == "ImportDialog":
        from crisisdesk.gui.dialogs import import_dialog

        def read(_table: Path, _fmt: str) -> list[str]:
            held.hold()
            return ["id", "text"]

        # The dialog's background read of a table's columns (it tells a table first).
        monkeypatch.setattr(import_dialog, "mappable_columns", read)
        monkeypatch.setattr(import_dialog.ImportDialog, "set_columns",
                            lambda _self, value: delivered.append(value))
        return delivered
    import crisisdesk.core.fusion.versions as versions

    def summarise(_store, _task: str) -> list:
        held.hold()
        return []

    monkeypatch.setattr(versions, "summarise_versions", summarise)
    if kind == "RetrainDialog":
        from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

        monkeypatch.setattr(RetrainDialog, "_show_versions",
                            lambda _self, value: delivered.append(value))
    else:
        from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

        monkeypatch.setattr(VersionsDialog, "_show", lambda _self, value: delivered.append(value))
    return delivered


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads listed in /proc")
@pytest.mark.parametrize("kind", ["ImportDialog", "RetrainDialog", "VersionsDialog"])
def test_closing_a_dialog_while_its_read_hangs_does_not_freeze_the_window(
        qtbot, demo_like_project: Project, monkeypatch, tmp_path: Path, kind: str) -> None:
    held = _HeldRead()
    delivered = _hold_the_dialogs_read(kind, monkeypatch, held)
    window = open_window(qtbot, demo_like_project)
    dialog = OPENERS[kind](window)
    if kind == "ImportDialog":
        dialog.add_source(write_csv(tmp_path / "posts.csv", ["id", "text"], [["1", "Flood"]]))
    assert held.started.wait(10)
    ticked: list[bool] = []
    QTimer.singleShot(0, lambda: ticked.append(True))
    try:
        dialog.reject()  # Close / Esc while the read hangs on the share
        _deleted()  # the closed dialog is freed, with its thread pool
        assert not held.ended.is_set()  # closing did not wait for the read
        qtbot.waitUntil(lambda: bool(ticked))  # the window's event loop goes on
        assert not held.ended.is_set()
    finally:
        held.gate.set()  # the share answers
    assert held.ended.wait(10)
    assert held.thread is not None
    qtbot.waitUntil(lambda: not _thread_alive(held.thread), timeout=10_000)  # not kept
    qtbot.waitUntil(lambda: not pool_drain.pools_draining(), timeout=10_000)
    assert delivered == []  # the freed dialog was told nothing
    assert window.findChildren(type(dialog)) == []


QUIT_SCRIPT = """
import threading, sys
from crisisdesk.gui import app, main_window

hung = threading.Event()  # never set: a read on a share that never answers
opened = main_window.MainWindow.__init__

def with_a_hung_read(self, *args, **kwargs):
    opened(self, *args, **kwargs)
    self.background.call(hung.wait, lambda _value: None)

main_window.MainWindow.__init__ = with_a_hung_read
app.make_application()
sys.exit(app.main(sys.argv[1]))
"""


def test_quitting_with_a_read_hung_on_a_share_ends_the_app(demo_like_project: Project,
                                                            tmp_path: Path) -> None:
    """Closing no longer waits for the window's reads; quitting waits a while, then ends
    (the pool Python's exit destroyed waited for the hung read for ever)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CRISISDESK_SMOKE_TEST="1",
               HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", QUIT_SCRIPT, str(demo_like_project.root)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "painted" in done.stdout
