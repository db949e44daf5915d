"""A failed job's traceback frames are cleared on the UI thread, not the job's.

Clearing them lets go of whatever the frames held. A raise of an exception that was
raised before keeps the earlier raises' frames (other threads', holding Qt objects of the
UI thread), and clearing those on the job thread deleted those Qt objects there while the
UI thread used them: a segfault (a test raising one module-level error again and again).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator

from crisisdesk.core.progress import Progress
from crisisdesk.gui import worker
from crisisdesk.gui.worker import JobRunner


def test_a_failed_jobs_frames_are_cleared_on_the_ui_thread(qtbot, monkeypatch) -> None:
    cleared: list[int] = []
    real = traceback.clear_frames

    def spy(tb) -> None:  # type: ignore[no-untyped-def]
        cleared.append(threading.get_ident())
        real(tb)

    monkeypatch.setattr(worker.traceback, "clear_frames", spy)

    def job() -> Iterator[Progress]:
        yield Progress(1, 2)
        raise OSError("disk full")

    runner = JobRunner("fails", job)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()
    assert runner.state == "failed"
    assert cleared == [threading.main_thread().ident]
    assert "disk full" in runner.details  # the traceback's text stays for Details
