"""A version made active in the Model versions window, the window closed before the
activation ended: the window still predicts what that version has not scored. Freed on
close, the dialog dropped the activation's end, and with it the predict it starts."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from PySide6.QtCore import QCoreApplication, QEvent
from window_helpers import open_window, settle

from crisisdesk.core.project import Project


def _deleted() -> None:
    """Let the widgets handed to deleteLater (a dialog closed) go."""
    for _ in range(2):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_a_version_activated_then_its_window_closed_is_still_predicted(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    import crisisdesk.core.retrain as retrain

    started, gate = threading.Event(), threading.Event()

    def slow_activation(_store, _version: int) -> None:
        started.set()
        gate.wait(10)  # the head checked and loaded: a second or two on a real project

    monkeypatch.setattr(retrain, "reactivate_version", slow_activation)
    window = open_window(qtbot, demo_like_project)
    predicted: list[list[str]] = []
    monkeypatch.setattr(window.actions_, "run_predict", predicted.append)
    dialog = window.actions_.open_versions()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    older = SimpleNamespace(id=1, name="damage-old", task="damage", active=False,
                            missing=None)
    monkeypatch.setattr(dialog, "selected", lambda: older)
    dialog.make_active()
    assert started.wait(10)
    dialog.reject()  # Close (or Esc) at once
    gate.set()
    _deleted()
    qtbot.waitUntil(lambda: predicted == [["damage"]], timeout=10_000)
    settle(qtbot, window)
    _deleted()
    assert window.actions_._open_versions_dialog() is None
