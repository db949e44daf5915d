"""Defects found reviewing session 18's commits, in the app: the job history's look for
jobs of other windows (every few seconds) queued a new read of the project behind the
one still running on a slow or stalled drive, one more every tick: when the drive came
back they all ran, one after another, with a Refresh waiting behind them."""

from __future__ import annotations

import threading

from test_history_keys_s17 import _opened as opened_history

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history

#: Never within a test: the looks are asked for by the test.
NEVER_MS = 3_600_000


def test_a_look_waits_for_the_one_still_reading(qtbot, demo_like_project: Project,
                                                monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", NEVER_MS)
    with demo_like_project.open_store() as store:
        rows = len(store.jobs_page())
    dialog = opened_history(qtbot, demo_like_project, rows)
    stalled, reads = threading.Event(), []
    real = job_history.read_page

    def slow_read(*args, **kwargs):
        reads.append(args)
        stalled.wait(30)  # a network share that stopped answering
        return real(*args, **kwargs)

    monkeypatch.setattr(job_history, "read_page", slow_read)
    try:
        for _tick in range(3):  # three ticks of the poll while the drive hangs
            dialog._look()
        qtbot.waitUntil(lambda: len(reads) == 1, timeout=20_000)
    finally:
        stalled.set()
    qtbot.waitUntil(lambda: not dialog.background.busy(), timeout=20_000)
    assert len(reads) == 1, f"{len(reads)} reads of the jobs for one stalled look"
    dialog._look()  # the drive answers again: the next tick looks again
    qtbot.waitUntil(lambda: len(reads) == 2 and not dialog.background.busy(),
                    timeout=20_000)
    dialog.reject()
