"""The Model versions window: an older version made active again at any time, not only
from a retrain's report; a version whose checkpoint is gone cannot be picked."""

from __future__ import annotations

from pathlib import Path

from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

TRAIN = ["--task", "damage", "--text-encoder", "txt-enc", "--head", "mlp", "--epochs", "2"]


def _rows(dialog: VersionsDialog, task: str) -> list:
    tree = dialog.tree
    (top,) = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
              if tree.topLevelItem(i).text(0).startswith(task)]
    return [top.child(i) for i in range(top.childCount())]


def test_an_older_version_is_made_active_from_the_window(qtbot, tmp_path: Path) -> None:
    project = _project(tmp_path, n=90)
    for _ in range(2):
        assert main(["train", str(project.root), *TRAIN]) == 0
    dialog = VersionsDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    newest, oldest = _rows(dialog, "damage")
    assert newest.text(0).endswith("(active)") and newest.font(0).bold()
    assert "text_only: text txt-enc" == newest.text(2)
    assert newest.text(3).replace("\u00a0", " ").startswith("dev: acc ")  # kept together
    dialog.tree.setCurrentItem(newest)
    assert not dialog.activate.isEnabled()  # already active
    dialog.tree.setCurrentItem(oldest)
    assert dialog.activate.isEnabled()
    old_id = dialog.selected().id
    with qtbot.waitSignal(dialog.reactivated, timeout=20_000) as signal:
        dialog.activate.click()
    assert signal.args == ["damage"]
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == old_id
    qtbot.waitUntil(lambda: _rows(dialog, "damage")[1].text(0).endswith("(active)"),
                    timeout=10_000)
    assert "is active" in dialog.status.text()
    assert dialog.selected().id == old_id  # the selection stayed on the version


def test_a_version_whose_checkpoint_is_gone_cannot_be_picked(qtbot, tmp_path: Path) -> None:
    project = _project(tmp_path, n=90)
    for _ in range(2):
        assert main(["train", str(project.root), *TRAIN]) == 0
    with project.open_store() as store:
        oldest = store.model_versions("damage")[-1]
    checkpoint_paths(oldest["path"])[0].unlink()
    dialog = VersionsDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    gone = _rows(dialog, "damage")[1]
    assert "is gone" in gone.toolTip(0)
    dialog.tree.setCurrentItem(gone)
    assert not dialog.activate.isEnabled()
    assert "Cannot be made active" in dialog.activate.toolTip()
    # Tasks without versions say so instead of showing an empty group.
    assert _rows(dialog, "informative") == []
    assert any(dialog.tree.topLevelItem(i).text(0) == "informative — no version yet"
               for i in range(dialog.tree.topLevelItemCount()))
    dialog.grab().save(str(tmp_path / "versions.png"))


def test_the_window_opens_it_from_the_jobs_menu_and_predicts_after_a_switch(
        qtbot, tmp_path: Path) -> None:
    from window_helpers import open_window

    project = _project(tmp_path, n=90)
    for _ in range(2):
        assert main(["train", str(project.root), *TRAIN]) == 0
    window = open_window(qtbot, project)
    jobs_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Jobs")
    assert window.actions_.versions in jobs_menu.actions()
    window.actions_.versions.trigger()
    dialog = window.actions_.versions_dialog
    assert dialog is not None and dialog.isVisible()
    window.actions_.versions.trigger()  # a second time: the same window, raised
    assert window.actions_.versions_dialog is dialog
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    dialog.tree.setCurrentItem(_rows(dialog, "damage")[1])
    titles = []
    window.actions_.jobs.job_finished.connect(lambda title, state: titles.append(
        (title, state)))
    dialog.activate.click()
    # The old version had predicted nothing: a Predict job of its task fills it in.
    qtbot.waitUntil(lambda: ("Predict (damage)", "done") in titles, timeout=30_000)
    with project.open_store() as store:
        active = store.active_model_version("damage")
        assert not store.items_without_prediction("damage", active["id"])
    # The window follows the job: the old version's rows removed, the new one's counted,
    # with no Refresh pressed.
    qtbot.waitUntil(lambda: [r.text(4) for r in _rows(dialog, "damage")] == ["0", "90"],
                    timeout=10_000)
