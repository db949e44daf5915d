"""An older version made active from the retrain report, the report closed before the
activation ended: the window still predicts what that version has not scored, and the
report is freed once the activation is told. Closing it shut its worker down: the
activation's end was dropped, with the predict and the refresh it starts."""

from __future__ import annotations

import threading

from test_day_long_session_s13 import _deleted, _gated, _open_retrain_report
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.gui.main_window import MainWindow


def _gated_activation(monkeypatch, failure: str = "") -> tuple[threading.Event,
                                                               threading.Event]:
    """``reactivate_version`` held until the returned gate is set (started says it
    began); it then raises ``failure`` when one is given."""
    import crisisdesk.core.retrain as retrain

    started, gate = threading.Event(), threading.Event()

    def activation(_store, _version: int) -> None:
        started.set()
        gate.wait(10)  # the head checked and loaded: a second or two on a real project
        if failure:
            raise ValueError(failure)

    monkeypatch.setattr(retrain, "reactivate_version", activation)
    return started, gate


def _reports(window: MainWindow) -> list:
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    return window.findChildren(RetrainDialog)


def test_a_version_made_active_in_a_closed_report_is_still_predicted(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    started, gate = _gated_activation(monkeypatch)
    window = open_window(qtbot, demo_like_project)
    predicted: list[list[str]] = []
    monkeypatch.setattr(window.actions_, "run_predict", predicted.append)
    dialog = _open_retrain_report(window)
    switched: list[list[str]] = []
    dialog.switched.connect(switched.append)
    dialog.reactivate("damage", 3)  # "Make the selected version active"
    assert started.wait(10)
    dialog.reject()  # Keep / Close / Esc at once
    gate.set()
    _deleted()
    qtbot.waitUntil(lambda: predicted == [["damage"]], timeout=10_000)
    assert switched == [["damage"]]  # the window refreshes its list
    settle(qtbot, window)
    _deleted()
    assert _reports(window) == []  # freed once told, not kept all day


def test_a_report_closed_while_its_activation_fails_is_freed(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Kept for the activation's end, the report goes once it is told, a failure too."""
    started, gate = _gated_activation(monkeypatch, "damage-v3: its checkpoint is gone")
    window = open_window(qtbot, demo_like_project)
    predicted: list[list[str]] = []
    monkeypatch.setattr(window.actions_, "run_predict", predicted.append)
    dialog = _open_retrain_report(window)
    dialog.reactivate("damage", 3)
    assert started.wait(10)
    dialog.reject()
    gate.set()
    qtbot.waitUntil(lambda: not _reports(window), timeout=10_000)  # freed once told
    assert predicted == []


def test_a_report_closed_with_nothing_running_is_freed_at_once(
        qtbot, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    dialog = _open_retrain_report(window)
    qtbot.waitUntil(lambda: getattr(dialog, "versions_loaded", False), timeout=10_000)
    dialog.reject()
    _deleted()
    assert _reports(window) == []


def test_a_switch_whose_report_was_closed_still_refreshes_the_window(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Switch, then close at once: the freed report is not told (see the day-long
    session's test), so the window's refresh comes from the switch's row ending."""
    from crisisdesk.gui.dialogs import retrain_dialog

    gate = threading.Event()
    monkeypatch.setattr(retrain_dialog, "apply_job", lambda *_args: _gated(gate))
    window = open_window(qtbot, demo_like_project)
    dialog = _open_retrain_report(window)
    runner = dialog.apply()
    qtbot.waitUntil(lambda: runner.last_progress is not None)
    dialog.reject()
    _deleted()
    refreshed: list[bool] = []
    monkeypatch.setattr(window, "refresh", lambda *_a, **_k: refreshed.append(True))
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        gate.set()
    qtbot.waitUntil(lambda: bool(refreshed), timeout=10_000)
