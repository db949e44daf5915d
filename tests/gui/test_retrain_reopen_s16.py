"""Jobs > Last retrain report: a retrain's report closed by accident (Esc, Keep) opens
again from the window with the same figures, says when it was made, and its Switch still
works; a report that cannot be read, or none yet, says why in a message."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox
from test_retrain import FAST, _project
from test_retrain_saved_s16 import _retrained, _set_result
from window_helpers import open_window, settle

from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.main_window import MainWindow


def _visible_report(qtbot, window: MainWindow) -> RetrainDialog:
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(RetrainDialog)),
                    timeout=20_000)
    return next(d for d in window.findChildren(RetrainDialog) if d.isVisible())


def _figures(dialog: RetrainDialog) -> dict[str, tuple]:
    """What each tab shows: its headline, its confusion grids' counts, Switch's tasks."""
    return {task: (page.headline.text(),
                   page.new_grid.accessibleDescription() if page.new_grid else None,
                   page.active_grid.accessibleDescription() if page.active_grid else None)
            for task, page in dialog.pages.items()}


def _message(qtbot, window: MainWindow) -> QMessageBox:
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)),
                    timeout=20_000)
    return next(b for b in window.findChildren(QMessageBox) if b.isVisible())


def test_a_closed_report_opens_again_with_its_figures_and_switches(
        qtbot, tmp_path: Path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    window = open_window(qtbot, project)
    window.actions_._retrained("done", job)  # the retrain's end opens its report
    first = _visible_report(qtbot, window)
    shown = _figures(first)
    assert shown["damage"][2] is not None  # both versions' grids
    first.reject()  # Esc, or Keep by accident
    qtbot.waitUntil(lambda: not first.isVisible())
    jobs = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Jobs")
    assert window.actions_.last_retrain in jobs.actions()
    window.actions_.last_retrain.trigger()
    again = _visible_report(qtbot, window)
    assert again is not first
    assert _figures(again) == shown
    assert "report of the last retrain, made" in again.made.text()
    page = again.pages["damage"]
    if not entry.recommend_switch:
        page.override.setChecked(True)
    assert again.tasks_to_switch() == ["damage"] and again.switch.isEnabled()
    runner = again.apply()
    assert runner is not None
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=60_000)
    assert runner.state == "done", runner.exception
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == entry.candidate
    settle(qtbot, window)
    again.reject()
    # Opened a third time: the new version is active already, Switch leaves the task.
    window.actions_.last_retrain.trigger()
    third = _visible_report(qtbot, window)
    assert "active version already" in third.made.text()
    assert third.tasks_to_switch() == [] and not third.switch.isEnabled()
    third.reject()
    settle(qtbot, window)


def test_the_action_raises_the_report_still_open(qtbot, tmp_path: Path) -> None:
    project, job = _retrained(tmp_path)
    window = open_window(qtbot, project)
    window.actions_._retrained("done", job)
    first = _visible_report(qtbot, window)
    window.actions_.last_retrain.trigger()
    assert [d for d in window.findChildren(RetrainDialog) if d.isVisible()] == [first]
    first.reject()
    settle(qtbot, window)


def test_a_report_whose_new_version_was_deleted_opens_and_says_so(
        qtbot, tmp_path: Path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    with project.open_store() as store:
        weights, _ = checkpoint_paths(store.model_version(entry.candidate)["path"])
    weights.unlink()
    window = open_window(qtbot, project)
    window.actions_.last_retrain.trigger()
    dialog = _visible_report(qtbot, window)
    assert "was deleted" in dialog.made.text() and weights.name in dialog.made.text()
    assert not dialog.switch.isEnabled() and dialog.tasks_to_switch() == []
    assert not dialog.pages["damage"].override.isVisible()
    assert dialog.pages["damage"].new_grid is not None  # its figures are still shown
    dialog.reject()
    settle(qtbot, window)


def test_a_damaged_saved_report_gives_a_message_naming_its_row(
        qtbot, tmp_path: Path) -> None:
    project = _project(tmp_path, n=30)
    list(RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                    recipe=FAST).run())
    row = _set_result(project, "{not json")
    window = open_window(qtbot, project)
    window.actions_.last_retrain.trigger()
    box = _message(qtbot, window)
    assert f"jobs row {row}" in box.text() and "cannot be read" in box.text()
    assert "Run Retrain again" in box.text()
    assert not any(d.isVisible() for d in window.findChildren(RetrainDialog))
    box.button(QMessageBox.StandardButton.Close).click()
    settle(qtbot, window)


def test_no_retrain_yet_gives_a_message(qtbot, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    window.actions_.last_retrain.trigger()
    box = _message(qtbot, window)
    assert "No retrain has finished in this project yet" in box.text()
    box.button(QMessageBox.StandardButton.Close).click()
    settle(qtbot, window)
