"""Jobs > History… while a long job of another program runs (session 19): the look every
few seconds read the lines again only when a job was added or ended, so a running job's
counts ("10 of 1,000 done so far") stayed as first read until Refresh. Now a look that
finds only a running job's counts (or its time so far) changed updates those cells in
place (the model's dataChanged): no reset, no rows removed or inserted, so the keyboard's
cursor, the selection and a screen reader's place in the list stay where they were."""

from __future__ import annotations

from test_history_keys_s17 import _down_to
from test_job_history_live_s18 import _opened

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history
from crisisdesk.gui.dialogs.job_history import COLUMNS, JobHistoryDialog


def _cells(dialog: JobHistoryDialog, job: int) -> list[str]:
    """The texts the list shows on the line of jobs row ``job``."""
    row = next(row for row, line in enumerate(dialog.lines) if line.job == job)
    return [dialog.table.item(row, column).text() for column in range(len(COLUMNS))]


def test_a_running_jobs_counts_change_in_place_on_the_periodic_look(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", 50, raising=False)
    with demo_like_project.open_store() as store:  # the CLI's embed, under way
        running = store.start_job("embed", {"encoder": "tiny"})
        store.update_job(running, done=10, total=1000)
    dialog = _opened(qtbot, demo_like_project)
    assert "10 of 1,000" in _cells(dialog, running)[-1]
    _down_to(qtbot, dialog, running)  # the keys on its line (and a screen reader's)
    current = dialog.table.currentIndex()
    model = dialog.table.model()
    moved: list[str] = []
    for name in ("modelReset", "rowsRemoved", "rowsInserted", "layoutChanged"):
        getattr(model, name).connect(lambda *_args, name=name: moved.append(name))
    changed: list[int] = []
    model.dataChanged.connect(lambda top, bottom, *_: changed.extend(
        range(top.row(), bottom.row() + 1)))
    with demo_like_project.open_store() as store:
        store.update_job(running, done=500, total=1000, problems=2)
    qtbot.waitUntil(lambda: "500 of 1,000" in _cells(dialog, running)[-1], timeout=20_000)
    assert "2 problems" in _cells(dialog, running)[-1]
    line = next(line for line in dialog.lines if line.job == running)
    assert "500 of 1,000" in line.message  # the line's record, not the cell alone
    assert moved == []  # updated in place: nothing that sends a screen reader back
    assert current.row() in changed
    assert dialog.table.currentIndex() == current
    assert dialog.selected().job == running
    dialog.reject()


def test_lines_whose_counts_did_not_change_are_left_alone(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Only what changed is sent on: a finished job's line is never rewritten by a look
    (each rewrite is a change a screen reader may say again)."""
    monkeypatch.setattr(job_history, "POLL_MS", 50, raising=False)
    with demo_like_project.open_store() as store:
        running = store.start_job("embed", {"encoder": "tiny"})
        store.update_job(running, done=1, total=9)
    dialog = _opened(qtbot, demo_like_project)
    finished = [row for row, line in enumerate(dialog.lines) if line.outcome == "done"]
    assert finished  # the fixture's import
    changed: list[int] = []
    dialog.table.model().dataChanged.connect(lambda top, bottom, *_: changed.extend(
        range(top.row(), bottom.row() + 1)))
    with demo_like_project.open_store() as store:
        store.update_job(running, done=5, total=9)
    qtbot.waitUntil(lambda: "5 of 9" in _cells(dialog, running)[-1], timeout=20_000)
    assert not set(changed) & set(finished), changed
    dialog.reject()
