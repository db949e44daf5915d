"""Jobs > Last retrain report… after an earlier retrain's report was opened from the
history (session 17 review): the last retrain's report, never the earlier one."""

from __future__ import annotations

from pathlib import Path

from test_job_history_s17 import _visible_report
from test_job_records_s17 import two_retrains
from window_helpers import open_window, settle

from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


def test_last_retrain_report_is_not_an_earlier_one_opened_from_the_history(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    project, first, second = two_retrains(tmp_path)
    window = open_window(qtbot, project)
    # As the job history's Report… (its report_wanted) opens each: the last, then one before.
    window.actions_.open_retrain_report(second.job)
    newest = _visible_report(qtbot, window, second.job)
    window.actions_.open_retrain_report(first.job)
    earlier = _visible_report(qtbot, window, first.job)
    assert "an earlier retrain" in earlier.made.text()
    raised: list[RetrainDialog] = []
    monkeypatch.setattr(RetrainDialog, "raise_", lambda self: raised.append(self))
    window.actions_.last_retrain.trigger()
    settle(qtbot, window)
    # The last retrain's report is the one raised; the earlier one is not taken for it.
    assert raised == [newest]
    monkeypatch.undo()
    earlier.reject()
    newest.reject()
    # Closed, it is read again: still the last retrain's, not the earlier one's.
    window.actions_.last_retrain.trigger()
    last = _visible_report(qtbot, window, second.job)
    assert "the last retrain" in last.made.text()
    assert not any(d.isVisible() and d.property("job") == first.job
                   for d in window.findChildren(RetrainDialog))
    last.reject()
    settle(qtbot, window)
