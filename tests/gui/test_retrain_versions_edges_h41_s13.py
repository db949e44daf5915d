"""The last edges of the retrain report and the Model versions window: an activation
that fails once its dialog is closed is said in the main window; a second activation
cannot start while one runs; Esc closes a term's note before the report."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolTip
from test_day_long_session_s13 import _open_retrain_report
from test_retrain_report_keep_alive_h34_s13 import _gated_activation, _reports
from test_retrain_terms_s13 import _dialog
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.figure_notes import show_note

WHY = "its checkpoint is gone"


def _says(text: str, *words: str) -> None:
    for word in words:
        assert word.lower() in text.lower(), (word, text)


def _older(task: str = "damage", version: int = 1) -> SimpleNamespace:
    """A version row of the Model versions window (what ``selected`` returns)."""
    return SimpleNamespace(id=version, name=f"{task}-old", task=task, active=False,
                           missing=None)


def test_a_failure_after_the_report_was_closed_is_said_in_the_window(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Closed at once, the report took the failure to its hidden status line: the
    analyst believed the older version was active."""
    started, gate = _gated_activation(monkeypatch, WHY)
    window = open_window(qtbot, demo_like_project)
    dialog = _open_retrain_report(window)
    dialog.reactivate("damage", 3)
    assert started.wait(10)
    dialog.reject()
    gate.set()
    qtbot.waitUntil(lambda: not _reports(window), timeout=10_000)
    _says(window.statusBar().currentMessage(), "damage", "version 3", "not", WHY)


def test_a_failure_after_the_versions_window_was_closed_is_said_in_the_window(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    started, gate = _gated_activation(monkeypatch, WHY)
    window = open_window(qtbot, demo_like_project)
    dialog = window.actions_.open_versions()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    monkeypatch.setattr(dialog, "selected", _older)
    dialog.make_active()
    assert started.wait(10)
    dialog.reject()
    gate.set()
    qtbot.waitUntil(lambda: WHY in window.statusBar().currentMessage(), timeout=10_000)
    _says(window.statusBar().currentMessage(), "damage", "version 1", "damage-old", "not")


def test_a_failure_in_an_open_report_names_the_version(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    started, gate = _gated_activation(monkeypatch, WHY)
    dialog = _dialog(qtbot, demo_like_project)
    dialog.reactivate("damage", 3)
    gate.set()
    qtbot.waitUntil(lambda: WHY in dialog.status.text(), timeout=10_000)
    _says(dialog.status.text(), "damage", "version 3")


def test_make_active_is_greyed_in_the_report_while_an_activation_runs(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Two clicks made two activations (and two predictions of the task)."""
    started, gate = _gated_activation(monkeypatch)
    dialog = _dialog(qtbot, demo_like_project)
    button = dialog.pages["damage"].reactivate
    assert button.isEnabled()
    dialog.reactivate("damage", 3)
    assert started.wait(10)
    assert not button.isEnabled()
    _says(button.toolTip(), "being made active")
    with qtbot.waitSignal(dialog.reactivated, timeout=10_000):
        gate.set()
    assert button.isEnabled()


def test_make_active_stays_greyed_in_the_versions_window_while_an_activation_runs(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Picking another row while the activation ran lit Make active again."""
    from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

    started, gate = _gated_activation(monkeypatch)
    dialog = VersionsDialog(demo_like_project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    monkeypatch.setattr(dialog, "selected", _older)
    dialog.make_active()
    assert started.wait(10)
    dialog._update_button()  # what picking another row does
    assert not dialog.activate.isEnabled()
    _says(dialog.activate.toolTip(), "being made active")
    with qtbot.waitSignal(dialog.reactivated, timeout=10_000):
        gate.set()


def test_esc_closes_a_note_first_then_the_report(qtbot, demo_like_project: Project) -> None:
    """Esc with a "?" note open closed the whole report, as Keep does."""
    dialog = _dialog(qtbot, demo_like_project)
    dialog.show()
    qtbot.waitExposed(dialog)
    headline = dialog.pages["damage"].headline
    show_note(headline, "term:holdout")
    assert QToolTip.isVisible()
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=5_000)  # it fades out
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_esc_with_no_note_closes_the_report(qtbot, demo_like_project: Project) -> None:
    dialog = _dialog(qtbot, demo_like_project)
    dialog.show()
    qtbot.waitExposed(dialog)
    QToolTip.hideText()
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()



def test_two_quick_escs_close_the_note_and_the_report(qtbot,
                                                      demo_like_project: Project) -> None:
    """The note fades out for a moment after the first Esc: the second still closes."""
    dialog = _dialog(qtbot, demo_like_project)
    dialog.show()
    qtbot.waitExposed(dialog)
    show_note(dialog.pages["damage"].headline, "term:macro_f1")
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible()
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)  # still fading
    assert not dialog.isVisible()
