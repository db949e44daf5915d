"""A retrain's report opened again where Switch leaves a task as it is (session 18: its
new version's files damaged): the text above the tabs said so and Switch was off, but
the task's own tab still said, in green, "Recommended: switch", the one thing the analyst
could not do. The tab's headline now says that Switch leaves it, and why."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument
from test_switch_damaged_reopen_s18 import _damaged_candidate

from crisisdesk.core.retrain_saved import last_retrain
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


def _shown(html_text: str) -> str:
    document = QTextDocument()
    document.setHtml(html_text)
    return document.toPlainText()


def test_the_tab_of_a_task_switch_leaves_does_not_recommend_switching(
        qtbot, tmp_path) -> None:
    project, job, named = _damaged_candidate(tmp_path)
    assert job.report.tasks["damage"].recommend_switch  # as the retrain found it
    saved = last_retrain(project)
    dialog = RetrainDialog(project, saved.report, saved=saved)
    qtbot.addWidget(dialog)
    said = _shown(dialog.pages["damage"].headline.text())
    assert "Recommended: switch" not in said, said
    assert "Switch leaves it as it is" in said, said
    assert str(named) in said + dialog.made.text()  # why: in the tab or above the tabs
    assert not dialog.switch.isEnabled()
    # Made switchable again (the version compared with made active again elsewhere):
    # the recommendation is back.
    dialog.pages["damage"].leave_as_is(None)
    assert "Recommended: switch" in _shown(dialog.pages["damage"].headline.text())
    dialog.reject()
