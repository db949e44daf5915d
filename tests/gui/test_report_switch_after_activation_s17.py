"""A retrain report whose task gets another active version from the report's own
versions list says at once what Switch now does for that task: the reasons were worked
out once, when the report opened, so Switch was refused after the click (another version
made active from the list), or stayed off though it would now work (the version it was
compared with made active again). Asked again off the UI thread once the activation ends:
the tab's mark, the reason and the Switch button follow.
"""

from __future__ import annotations

import threading
from pathlib import Path

from test_retrain import FAST
from test_retrain_saved_s16 import _retrained

import crisisdesk.core.retrain_saved as retrain_saved
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.retrain import apply_retrain
from crisisdesk.core.retrain_saved import last_retrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


def _another_version(project) -> tuple[int, str]:
    """Another trained version of damage, not active: its id and name."""
    other = TrainJob(project, "damage", image_encoder="img-enc", text_encoder=None,
                     recipe=FAST, activate=False)
    list(other.run())
    with project.open_store() as store:
        return other.report.model_version, store.model_version(
            other.report.model_version)["name"]


def _asked_from(monkeypatch) -> list[threading.Thread]:
    """The threads that asked what Switch would leave (switch_leaves)."""
    threads: list[threading.Thread] = []
    asked = retrain_saved.switch_leaves
    monkeypatch.setattr(retrain_saved, "switch_leaves", lambda *args: threads.append(
        threading.current_thread()) or asked(*args))
    return threads


def test_another_version_made_active_from_the_report_turns_its_switch_off(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    project, job = _retrained(tmp_path)
    other, name = _another_version(project)
    asked = _asked_from(monkeypatch)
    dialog = RetrainDialog(project, job.report)  # the report as the retrain ended
    qtbot.addWidget(dialog)
    page = dialog.pages["damage"]
    page.override.setChecked(True)
    assert dialog.tasks_to_switch() == ["damage"] and dialog.switch.isEnabled()
    dialog.reactivate("damage", other)
    qtbot.waitUntil(lambda: "active again" in dialog.status.text(), timeout=20_000)
    qtbot.waitUntil(lambda: "leaves" in dialog.tabs.tabToolTip(0), timeout=20_000)
    # What Switch now does, said before the click that apply_retrain would refuse.
    assert dialog.tasks_to_switch() == [] and not dialog.switch.isEnabled()
    assert name in dialog.switch.toolTip() and "damage" in dialog.switch.toolTip()
    assert name in dialog.tabs.tabToolTip(0)
    assert name in dialog.status.text()  # the reason, where a fresh report says things
    assert dialog.tabs.tabText(0).endswith("–")
    assert asked and threading.main_thread() not in asked
    dialog.reject()


def test_the_version_compared_with_made_active_again_lets_switch_switch(
        qtbot, tmp_path: Path) -> None:
    project, job = _retrained(tmp_path)
    entry = job.report.tasks["damage"]
    list(apply_retrain(project, job.report, override_tasks=["damage"]))  # switched
    saved = last_retrain(project)
    dialog = RetrainDialog(project, saved.report, saved=saved)  # opened again
    qtbot.addWidget(dialog)
    page = dialog.pages["damage"]
    assert page.left and not dialog.switch.isEnabled()
    assert entry.candidate_name in dialog.made.text()
    dialog.reactivate("damage", entry.active)  # back to the one it was compared with
    qtbot.waitUntil(lambda: "active again" in dialog.status.text(), timeout=20_000)
    qtbot.waitUntil(lambda: page.left is None, timeout=20_000)
    assert "leaves" not in dialog.tabs.tabToolTip(0)
    assert "active version already" not in dialog.made.text()
    # As the report first said of it: recommended, or worse with its override offered.
    if not entry.recommend_switch:
        assert not page.override.isHidden()
        page.override.setChecked(True)
    assert dialog.tasks_to_switch() == ["damage"] and dialog.switch.isEnabled()
    assert "damage" in dialog.switch.text()
    dialog.reject()
