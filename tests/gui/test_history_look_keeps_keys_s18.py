"""Jobs > History… while another program's job ends (session 18): the look every few
seconds reads the lines again, and the keys an analyst had Tabbed to Report… on a
retrain's line were moved to Refresh (Report… went off while the lines were read again),
so the next Space refreshed instead of opening the report."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from test_history_keys_s17 import _down_to, _jobs, _opened

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history


def test_a_look_that_reads_the_lines_again_leaves_the_keys_on_report(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", 50, raising=False)
    retrain, _export = _jobs(demo_like_project)  # with the fixture's import: 3 jobs
    dialog = _opened(qtbot, demo_like_project, 3)
    _down_to(qtbot, dialog, retrain)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.report
    with demo_like_project.open_store() as store:  # the CLI's job, on the same project
        other = store.start_job("predict", {"tasks": ["damage"]})
        store.finish_job(other, "done")
    qtbot.waitUntil(lambda: any(line.job == other for line in dialog.lines),
                    timeout=20_000)
    assert dialog.selected().job == retrain
    assert QApplication.focusWidget() is dialog.report
    asked: list[int] = []
    dialog.report_wanted.connect(asked.append)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert asked == [retrain]
    dialog.reject()
