"""The GUI worker: background calls and job runners off the GUI thread, cancel, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui import pool_drain
from crisisdesk.gui.worker import Background, JobRunner


def _wait_finished(qtbot, runner: JobRunner, timeout: int = 10_000) -> tuple[str, object]:
    with qtbot.waitSignal(runner.finished, timeout=timeout) as blocker:
        if runner.state == "pending":
            runner.start()
    return tuple(blocker.args)  # type: ignore[return-value]


def test_job_steps_run_off_the_gui_thread_and_result_comes_back(qtbot) -> None:
    gui = threading.get_ident()
    seen: list[int] = []

    class Job:
        result = None

        def __init__(self) -> None:
            seen.append(threading.get_ident())  # make_job runs in the worker thread

        def __iter__(self) -> Iterator[Progress]:
            for i in range(5):
                seen.append(threading.get_ident())
                yield Progress(i + 1, 5, "step", "cpu")
            self.result = {"steps": 5}

    runner = JobRunner("fake", Job)
    progresses: list[Progress] = []
    runner.progress.connect(progresses.append)
    state, result = _wait_finished(qtbot, runner)
    assert (state, result) == ("done", {"steps": 5})
    assert len(seen) == 6
    assert gui not in seen
    assert runner.thread_ident in seen
    # The last progress always arrives, even when throttled.
    assert progresses and progresses[-1].done == 5


def test_generator_result_attribute_is_the_done_result(qtbot) -> None:
    class Job:
        def __init__(self) -> None:
            self.result = None
            self._it = self._run()

        def _run(self) -> Iterator[Progress]:
            yield Progress(1, 1)
            self.result = 42

        def __iter__(self):
            return self._it

        def __next__(self):
            return next(self._it)

    state, result = _wait_finished(qtbot, JobRunner("result", Job))
    assert (state, result) == ("done", 42)


def test_cancel_closes_the_generator_in_its_thread_and_the_job_row_says_cancelled(
        qtbot, project: Project) -> None:
    started, release = threading.Event(), threading.Event()
    finally_thread: list[int] = []

    def body() -> Iterator[Progress]:
        try:
            for i in range(1000):
                started.set()
                release.wait(5)
                yield Progress(i + 1, 1000)
        finally:
            finally_thread.append(threading.get_ident())

    runner = JobRunner("cancel me", lambda: tracked(project, "fake", {}, body()))
    runner.start()
    assert started.wait(5)
    runner.cancel()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        release.set()
    assert blocker.args == ["cancelled", None]
    assert runner.state == "cancelled"
    assert finally_thread == [runner.thread_ident]
    assert finally_thread[0] != threading.get_ident()
    with project.open_store() as store:
        rows = store.conn.execute("SELECT kind, state, done FROM jobs").fetchall()
    assert [(r["kind"], r["state"]) for r in rows] == [("fake", "cancelled")]
    assert rows[0]["done"] < 1000


def test_a_failing_job_finishes_failed_with_its_message_and_trace(qtbot, project) -> None:
    def body() -> Iterator[Progress]:
        yield Progress(1, 3)
        raise RuntimeError("disk on fire")

    runner = JobRunner("fails", lambda: tracked(project, "fake", {}, body()))
    state, message = _wait_finished(qtbot, runner)
    assert state == "failed"
    assert message == "disk on fire"  # the analyst's words: the class is in the trace
    assert runner.error == message
    assert "Traceback" in runner.details and "disk on fire" in runner.details
    assert isinstance(runner.exception, RuntimeError)
    with project.open_store() as store:
        row = store.conn.execute("SELECT state, error FROM jobs").fetchone()
    assert (row["state"], row["error"]) == ("failed", "RuntimeError: disk on fire")


def test_a_failing_factory_is_reported_not_lost(qtbot) -> None:
    def make_job():
        raise FileNotFoundError("no such project")

    state, message = _wait_finished(qtbot, JobRunner("factory", make_job))
    assert (state, message) == ("failed", "no such project")


def test_keyboard_interrupt_inside_a_job_counts_as_cancelled(qtbot) -> None:
    def body() -> Iterator[Progress]:
        yield Progress(1, 2)
        raise KeyboardInterrupt

    state, _ = _wait_finished(qtbot, JobRunner("ctrl-c", body))
    assert state == "cancelled"


def test_rate_eta_and_device_come_from_progress(qtbot, monkeypatch) -> None:
    # A fake clock: the rate is computed from the times progress lands, not from sleeps.
    import crisisdesk.gui.worker as worker

    clock = iter(float(t) for t in range(100, 200))
    monkeypatch.setattr(worker.time, "monotonic", lambda: next(clock))
    runner = JobRunner("figures", lambda: iter(()))
    runner.started_at = 99.0
    for done in (10, 20, 30):
        runner._on_progress(Progress(done, 100, "embedding", "cuda:0"))
    # Samples at t=100, 101, 102 with done 10, 20, 30: 10 units/s, 70 left -> 7 s.
    assert runner.rate == pytest.approx(10.0)
    assert runner.eta == pytest.approx(7.0)
    assert runner.device == "cuda:0"


def test_background_call_runs_off_thread_and_delivers_on_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    background = Background()
    ran_in: list[int] = []
    delivered_in: list[int] = []

    def fn() -> int:
        ran_in.append(threading.get_ident())
        return 7

    with qtbot.waitCallback() as done:
        background.call(fn, lambda v: (delivered_in.append(threading.get_ident()), done(v)))
    assert done.args == [7]
    assert ran_in and ran_in[0] != gui
    assert delivered_in == [gui]
    background.shutdown()


def test_background_errors_go_to_on_error(qtbot) -> None:
    background = Background()

    def boom() -> None:
        raise ValueError("bad page")

    with qtbot.waitCallback() as errored:
        background.call(boom, lambda v: None, errored)
    assert errored.args == ["bad page"]
    background.shutdown()


def test_a_newer_call_with_the_same_key_drops_the_older_result(qtbot) -> None:
    background = Background()
    gate = threading.Event()
    got: list[str] = []

    def slow() -> str:
        gate.wait(5)
        return "old"

    background.call(slow, got.append, key="search")
    with qtbot.waitCallback() as newest:
        background.call(lambda: "new", lambda v: (got.append(v), newest(v)), key="search")
    gate.set()
    background.wait(5000)
    qtbot.wait(50)  # let a (wrongly) delivered old result land, if it were delivered
    assert got == ["new"]
    background.shutdown()


def test_a_background_deleted_with_its_window_mid_call_drops_the_result_quietly(
        qtbot) -> None:
    """A dialog closed and deleted while its Background still runs a call: the call ends,
    and nothing is emitted on the deleted object (that raised "Signal source has been
    deleted" in the pool thread, which pytest-qt reports as an error of this test)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    background = Background(owner)
    started, ended = threading.Event(), threading.Event()
    got: list[int] = []

    def slow() -> int:
        started.set()
        ended.wait(0.3)
        ended.set()
        return 1

    background.call(slow, got.append)
    assert started.wait(5)
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # never waits
    assert background._closed.is_set()
    assert ended.wait(5)
    qtbot.waitUntil(lambda: not pool_drain.pools_draining())
    assert got == []
