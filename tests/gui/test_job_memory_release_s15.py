"""What a job's thread gives back when the job ends: the memory the job freed is handed
back to the system from the job's own thread (glibc keeps freed heap in its arenas, so
the next job's peak stacked on the last one's leftovers), once the job's objects are
gone; a failed job's error keeps its message and type, not the job's data.

Checked on what is alive and on which thread the release runs, never on memory sizes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

import pytest

from crisisdesk.core.progress import Progress
from crisisdesk.gui import worker
from crisisdesk.gui.worker import JobRunner


class _Data:
    """Stands for what a job holds while it runs (a model, training tensors)."""


def _run(qtbot, make) -> JobRunner:  # type: ignore[no-untyped-def]
    runner = JobRunner("job", make)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()
    return runner


@pytest.mark.parametrize("ending", ["done", "failed", "cancelled"])
def test_the_job_thread_gives_freed_memory_back_when_the_job_ends(
        qtbot, monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    """Once per job, however it ended, on the job's thread: the UI thread never waits
    for it."""
    calls: list[int] = []
    monkeypatch.setattr(worker, "give_back_freed_memory",
                        lambda: calls.append(threading.get_ident()), raising=False)
    gate = threading.Event()

    def job() -> Iterator[Progress]:
        yield Progress(1, 2, "step 1")
        if ending == "failed":
            raise RuntimeError("disk full")
        gate.wait(10)
        yield Progress(2, 2, "step 2")

    runner = JobRunner("job", job)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start()
        if ending == "cancelled":
            qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
            runner.cancel()
        gate.set()
    runner.wait()
    assert runner.state == ending
    assert calls == [runner.thread_ident]
    assert calls[0] != threading.get_ident()


def test_the_release_comes_after_the_job_and_its_data_are_freed(
        qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job made its data in its own thread: it is gone before the release runs, or
    the release would have nothing to give back."""
    made: list[weakref.ref] = []
    seen: list[bool] = []

    def release() -> None:
        seen.append(all(ref() is None for ref in made))

    monkeypatch.setattr(worker, "give_back_freed_memory", release, raising=False)

    def job() -> Iterator[Progress]:
        data = _Data()
        made.append(weakref.ref(data))
        yield Progress(1, 1, "done")

    _run(qtbot, job)
    assert seen == [True]


def test_a_failed_job_keeps_its_error_but_not_its_data(qtbot) -> None:
    """A failed embed's row kept the exception (for its message, and to offer a missing
    model's download), and through its traceback every local of the job: its model or
    its training data, until the row went."""
    made: list[weakref.ref] = []

    def job() -> Iterator[Progress]:
        data = _Data()
        made.append(weakref.ref(data))
        yield Progress(1, 2, "step 1")
        raise OSError("disk full")

    runner = _run(qtbot, job)
    assert runner.state == "failed"
    assert isinstance(runner.exception, OSError) and "disk full" in (runner.error or "")
    assert "disk full" in runner.details  # the traceback text stays for its popup
    assert made and made[0]() is None
