"""Background work for the GUI: the only gui module that touches threads.

Three tools, all owned by a window:

* :class:`Background` runs short calls (a store query, a page of items, a thumbnail) in a
  thread pool and hands the result back on the GUI thread. A newer call with the same
  ``key`` makes an older one's result be dropped, so search-as-you-type never paints a
  stale page. Shut down (its window or dialog closed), it never waits for the calls still
  running: their pool ends them in :mod:`~crisisdesk.gui.pool_drain`.
* :class:`Lane` puts one kind of call (the detail panel's read of the item landed on) on a
  Background at most one at a time, plus the newest wanted: rows passed with J held are
  never read at all.
* :class:`JobRunner` runs one long job (a core generator yielding
  :class:`~crisisdesk.core.progress.Progress`) in its own ``QThread``, turns the yields into
  throttled ``progress`` signals with a rate and an ETA, and ends with exactly one
  ``finished`` signal: ``("done", result)``, ``("cancelled", None)`` or
  ``("failed", message)``. Cancel closes the generator *in its own thread* at its next
  yield (a generator cannot be closed from another thread while it runs), so the job's
  ``finally`` clauses and its job record run where its store connection lives.

The job factory ``make_job()`` is called in the worker thread: a job opens its SQLite
connections there (one connection per thread, as the store requires).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from crisisdesk.core.progress import Progress
from crisisdesk.gui.job_libraries import wait_for_preload
from crisisdesk.gui.pool_drain import let_go

T = TypeVar("T")

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second: painting is not free
RATE_WINDOW_S = 10.0  # the rate is measured over the last seconds, so it follows changes


def describe_error(exc: BaseException) -> str:
    """The one-line message shown for a failed call or job: ``Type: message``."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- Background


class _Call(QRunnable):
    """One ``Background.call``: runs ``fn`` in a pool thread and reports to the owner.

    ``handed`` is set once ``QThreadPool.start`` has returned to Python, and ``run``
    waits for it: PySide releases the GIL inside ``start`` and makes the runnable a child
    of the pool's wrapper only after it returns. A call that ended (and whose C++ object
    the pool deleted) before that was made a child once already dead, never removed: it
    stayed alive with its closure, held by the pool (about one call in nine, all day).
    """

    def __init__(self, owner: Background, call_id: int, fn: Callable[[], Any],
                 handed: threading.Event) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._owner, self._id, self._fn, self._handed = owner, call_id, fn, handed

    def run(self) -> None:  # runs in a pool thread
        self._handed.wait()  # set right after start() returns: a moment, never longer
        if self._owner._closed.is_set():
            return
        try:
            value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - every error goes back to the window
            self._owner._deliver(self._id, False, (describe_error(exc),
                                                   traceback.format_exc()))
            return
        self._owner._deliver(self._id, True, value)


class Background(QObject):
    """Short background calls for one window, results delivered on the GUI thread."""

    _result = Signal(int, bool, object)  # call id, ok, value or (message, traceback)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = count(1)
        self._pending: dict[int, tuple[Callable[[Any], None],
                                       Callable[[str], None] | None, str | None]] = {}
        self._latest: dict[str, int] = {}
        self._closed = threading.Event()
        # Emitted from pool threads; Qt queues it to this object's (the GUI) thread.
        self._result.connect(self._on_result)
        # Deleted with its window or dialog without shutdown(): calls still running must
        # not emit on the deleted object, and the pool, destroyed with it, would wait for
        # them on the UI thread: it is let go first (Qt destroys children only after this
        # signal). The event and pool are captured, not self: the wrapper is dying.
        closed, pool = self._closed, self._pool
        self.destroyed.connect(lambda *_args: (closed.set(), let_go(pool)))

    def call(self, fn: Callable[[], T], on_done: Callable[[T], None],
             on_error: Callable[[str], None] | None = None, *, key: str | None = None) -> None:
        """Run ``fn()`` in a pool thread; then ``on_done(result)`` or ``on_error(message)``.

        ``fn`` must open its own store connection (``with project.open_store() as s:``).
        With ``key``, only the newest call of that key reports back.
        """
        if self._closed.is_set():
            return
        call_id = next(self._ids)
        self._pending[call_id] = (on_done, on_error, key)
        if key is not None:
            self._latest[key] = call_id
        handed = threading.Event()
        try:
            self._pool.start(_Call(self, call_id, fn, handed))
        finally:
            handed.set()  # whatever happens here, a call started must not wait for ever

    def _deliver(self, call_id: int, ok: bool, value: Any) -> None:
        if self._closed.is_set():
            return
        try:
            self._result.emit(call_id, ok, value)
        except RuntimeError:
            pass  # deleted between the check and the emit: nobody is left to tell

    def _on_result(self, call_id: int, ok: bool, value: Any) -> None:
        entry = self._pending.pop(call_id, None)
        if entry is None or self._closed.is_set():
            return
        on_done, on_error, key = entry
        if key is not None:
            if self._latest.get(key) != call_id:
                return  # a newer call of the same key superseded this one
            del self._latest[key]
        if ok:
            on_done(value)
        elif on_error is not None:
            on_error(value[0])
        else:
            # No handler: never lose an error silently; it goes to stderr with its trace.
            print(f"crisisdesk: background call failed: {value[1]}", flush=True)

    def busy(self) -> bool:
        """Whether calls are still queued or running."""
        return self._pool.activeThreadCount() > 0 or bool(self._pending)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the pool is idle (for shutdown and tests); True when it is."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self) -> None:
        """Drop queued calls and the results still to come; never waits for running
        ones (a read hung on a network share froze the window that closed a dialog):
        they end in a pool let go (see :mod:`~crisisdesk.gui.pool_drain`)."""
        self._closed.set()
        let_go(self._pool)
        self._pending.clear()
        self._latest.clear()


class Lane:
    """At most one call of a kind in flight on a :class:`Background`, plus the newest one
    wanted; only the newest call reports back.

    A keyed call drops an older one's result but still runs it: holding J queued a read
    per row passed (66 for 66 moves) in the window's shared pool, and the row the analyst
    stopped on, and the list's page queries, waited behind them on a slow disk. A call
    made while one runs replaces the one waiting; it starts when the running one ends.
    """

    def __init__(self, background: Background) -> None:
        self._background = background
        self._running = False
        self._waiting: tuple[Callable[[], Any], Callable[[Any], None],
                             Callable[[str], None]] | None = None

    def call(self, fn: Callable[[], T], on_done: Callable[[T], None],
             on_error: Callable[[str], None]) -> None:
        """Run ``fn()`` as :meth:`Background.call` does, once the call in flight ended."""
        if self._running:
            self._waiting = (fn, on_done, on_error)
        else:
            self._start(fn, on_done, on_error)

    def _start(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None]) -> None:
        self._running = True
        # No key: a keyed call superseded elsewhere would never report, and stall the lane.
        self._background.call(fn, lambda value: self._ended(on_done, value),
                              lambda message: self._ended(on_error, message))

    def _ended(self, handler: Callable[[Any], None], value: Any) -> None:
        self._running = False
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._start(*waiting)  # superseded: its result (or error) is stale
        else:
            handler(value)


# --------------------------------------------------------------------------- JobRunner


class _JobThread(QThread):
    """The thread of one job: calls ``make_job()``, iterates, closes on cancel."""

    progressed = Signal(object)
    ended = Signal(str, object, str)  # state, result or message, details (traceback)

    def __init__(self, make_job: Callable[[], Iterator[Progress]],
                 cancel: threading.Event) -> None:
        super().__init__()
        self._make_job, self._cancel = make_job, cancel
        self.thread_ident: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:  # runs in the job's thread
        self.thread_ident = threading.get_ident()
        job: Iterator[Progress] | None = None
        last_sent, pending, stopped = 0.0, None, False
        try:
            wait_for_preload()  # two threads importing transformers at once failed
            if self._cancel.is_set():
                self.ended.emit("cancelled", None, "")
                return
            job = self._make_job()
            for progress in job:
                now = time.monotonic()
                # A progress with notes is never dropped for a later one: they are
                # what the row says when the job ends.
                if now - last_sent >= PROGRESS_INTERVAL_S or progress.notes or (
                        progress.total and progress.done >= progress.total):
                    self.progressed.emit(progress)
                    last_sent, pending = now, None
                else:
                    pending = progress
                if self._cancel.is_set():
                    stopped = True  # a cancel after the last yield changes nothing
                    break
            if pending is not None:
                self.progressed.emit(pending)
            if stopped:
                close = getattr(job, "close", None)
                if close is not None:
                    close()  # here, in the job's own thread: its finally clauses run
                self.ended.emit("cancelled", None, "")
            else:
                self.ended.emit("done", getattr(job, "result", None), "")
        except (KeyboardInterrupt, GeneratorExit):
            self.ended.emit("cancelled", None, "")
        except BaseException as exc:  # noqa: BLE001 - a failed job is reported, never lost
            self.error = exc  # before the signal: the runner reads it when the signal lands
            self.ended.emit("failed", describe_error(exc), traceback.format_exc())
        finally:
            close = getattr(job, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException:  # noqa: BLE001 - the outcome is already reported
                    pass


# Runners whose thread still runs: a QThread destroyed while running aborts the process.
_RUNNING: set[JobRunner] = set()


def jobs_still_running() -> list[JobRunner]:
    """Runners whose thread has not ended (the app quitting must not let Python destroy
    them: Qt aborts the process then)."""
    return [r for r in _RUNNING if r._thread is not None and r._thread.isRunning()]


class JobRunner(QObject):
    """One long job run in a worker thread, with throttled progress, rate, ETA and cancel.

    ``make_job()`` runs in the worker thread and returns the job generator; if that
    generator object has a ``result`` attribute, it becomes the "done" result.
    """

    progress = Signal(object)  # Progress
    finished = Signal(str, object)  # ("done", result) | ("cancelled", None) | ("failed", msg)

    def __init__(self, title: str, make_job: Callable[[], Iterator[Progress]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._make_job = make_job
        self._cancel = threading.Event()
        self._thread: _JobThread | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self.state = "pending"  # pending | running | done | cancelled | failed
        self.last_progress: Progress | None = None
        self.result: Any = None
        self.error: str | None = None  # the one-line message of a failed job
        self.details: str = ""  # its traceback, for a details popup
        self.exception: BaseException | None = None  # the failed job's exception object
        self.started_at: float | None = None
        self.ended_at: float | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the job's thread (once)."""
        if self._thread is not None:
            return
        self._thread = _JobThread(self._make_job, self._cancel)
        self._thread.progressed.connect(self._on_progress)
        self._thread.ended.connect(self._on_ended)
        self.state = "running"
        self.started_at = time.monotonic()
        _RUNNING.add(self)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop: its generator is closed at its next yield."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self.state == "running"

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread ends (for shutdown); True when it has ended.

        The ``finished`` signal still arrives through the event loop afterwards.
        """
        if self._thread is None:
            return True
        return self._thread.wait(timeout_ms if timeout_ms >= 0 else 2**31 - 1)

    @property
    def thread_ident(self) -> int | None:
        """``threading.get_ident()`` of the job's thread once it started (for checks)."""
        return self._thread.thread_ident if self._thread else None

    # ------------------------------------------------------------------ figures
    @property
    def device(self) -> str:
        """The device the job reports it really runs on (from its latest progress)."""
        return self.last_progress.device if self.last_progress else ""

    @property
    def rate(self) -> float | None:
        """Units per second over the last few seconds; None until it can be measured."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0:
            return None
        return max(0.0, (d1 - d0) / (t1 - t0))

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None while the total or the rate is unknown."""
        p, rate = self.last_progress, self.rate
        if p is None or not p.total or not rate:
            return None
        return max(0.0, (p.total - p.done) / rate)

    @property
    def elapsed(self) -> float:
        """Seconds since the start (until the end once finished)."""
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at

    # ------------------------------------------------------------------ slots (GUI thread)
    def _on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        self._samples.append((now, progress.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        self.last_progress = progress
        self.progress.emit(progress)

    def _on_ended(self, state: str, value: Any, details: str) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait()  # the thread is past its last emit; this returns at once
            self.exception = thread.error
        self.ended_at = time.monotonic()
        self.state = state
        if state == "done":
            self.result = value
        elif state == "failed":
            self.error, self.details = str(value), details
        _RUNNING.discard(self)
        self.finished.emit(state, value if state != "cancelled" else None)
