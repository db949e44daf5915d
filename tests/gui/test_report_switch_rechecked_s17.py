"""What a retrain report's Switch would do is asked again whenever a task's active version
changes under the report, so that a click is not refused for a reason the report could
have said first:

- after a Switch refused because another version became active meanwhile (ActiveChanged):
  the report lit Switch again, unchanged, and a second click was refused the same way;
- after a version made active from the separate Model versions window while the report
  is open: the report went on offering a Switch that would be refused (or withholding one
  that would now work).

Both are asked off the UI thread (switch_leaves reads the store); the tab's mark, its
reason and the Switch button follow.
"""

from __future__ import annotations

import threading
from pathlib import Path

from test_report_switch_after_activation_s17 import _another_version, _asked_from
from test_retrain_saved_s16 import _retrained
from window_helpers import open_window

from crisisdesk.core.retrain import reactivate_version
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.dialogs.versions_dialog import VERSION_ROLE


def _says_switch_leaves(dialog: RetrainDialog, task: str, name: str) -> None:
    """``dialog`` says Switch leaves ``task`` as it is because ``name`` is active now,
    and Switch is off."""
    index = list(dialog.pages).index(task)
    assert dialog.tasks_to_switch() == [] and not dialog.switch.isEnabled()
    assert name in dialog.pages[task].left
    assert name in dialog.tabs.tabToolTip(index) and "leaves" in dialog.tabs.tabToolTip(index)
    assert dialog.tabs.tabText(index).endswith("–")
    assert name in dialog.switch.toolTip()


def test_a_switch_refused_for_a_changed_active_version_is_not_offered_again(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    project, job = _retrained(tmp_path)
    other, name = _another_version(project)
    dialog = RetrainDialog(project, job.report)  # the report as the retrain ended
    qtbot.addWidget(dialog)
    dialog.pages["damage"].override.setChecked(True)
    assert dialog.tasks_to_switch() == ["damage"] and dialog.switch.isEnabled()
    # Another window (or `crisisdesk versions`) makes another version active meanwhile.
    with project.open_store() as store:
        reactivate_version(store, other)
    asked = _asked_from(monkeypatch)
    runner = dialog.apply()
    assert runner is not None
    qtbot.waitUntil(lambda: runner.state == "failed", timeout=60_000)
    assert "not switched" in dialog.status.text()  # the refusal, as before
    qtbot.waitUntil(lambda: dialog.pages["damage"].left is not None, timeout=20_000)
    _says_switch_leaves(dialog, "damage", name)
    assert "not switched" in dialog.status.text()  # the refusal's words stay
    assert asked and threading.main_thread() not in asked
    dialog.reject()


def test_a_version_made_active_in_the_versions_window_updates_an_open_report(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    project, job = _retrained(tmp_path)
    other, name = _another_version(project)
    window = open_window(qtbot, project)
    monkeypatch.setattr(window.actions_, "run_predict", lambda _tasks: None)
    window.actions_._show_retrain_report(job.report)
    report = next(d for d in window.findChildren(RetrainDialog) if d.isVisible())
    report.pages["damage"].override.setChecked(True)
    assert report.tasks_to_switch() == ["damage"] and report.switch.isEnabled()
    versions = window.actions_.open_versions()
    qtbot.waitUntil(lambda: versions.loaded, timeout=20_000)
    rows = [versions.tree.topLevelItem(t).child(r)
            for t in range(versions.tree.topLevelItemCount())
            for r in range(versions.tree.topLevelItem(t).childCount())]
    versions.tree.setCurrentItem(next(row for row in rows
                                      if row.data(0, VERSION_ROLE).id == other))
    asked = _asked_from(monkeypatch)
    versions.make_active()
    qtbot.waitUntil(lambda: report.pages["damage"].left is not None, timeout=20_000)
    _says_switch_leaves(report, "damage", name)
    assert asked and threading.main_thread() not in asked
    report.reject()
    versions.reject()


def test_a_version_made_active_in_one_report_updates_another_open_one(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    """Two reports open (the last retrain's, and one opened from the job history): a
    version made active from one's versions list changes what the other's Switch does."""
    project, job = _retrained(tmp_path)
    other, name = _another_version(project)
    window = open_window(qtbot, project)
    monkeypatch.setattr(window.actions_, "run_predict", lambda _tasks: None)
    window.actions_._show_retrain_report(job.report)
    window.actions_._show_retrain_report(job.report)
    first, second = [d for d in window.findChildren(RetrainDialog) if d.isVisible()]
    for report in (first, second):
        report.pages["damage"].override.setChecked(True)
    first.reactivate("damage", other)
    qtbot.waitUntil(lambda: second.pages["damage"].left is not None, timeout=20_000)
    _says_switch_leaves(second, "damage", name)
    qtbot.waitUntil(lambda: first.pages["damage"].left is not None, timeout=20_000)
    # Asked once: the report that made the change asked for itself, and said it once.
    assert first.status.text().count("Switch now leaves damage") == 1
    first.reject()
    second.reject()
