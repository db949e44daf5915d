"""Background work for the GUI: with :mod:`~crisisdesk.gui.background`, the only gui
modules that touch threads.

Three tools, all owned by a window:

* :class:`Background` (in :mod:`~crisisdesk.gui.background`, imported from here) runs
  short calls (a store query, a page of items, a thumbnail) in a thread pool and hands the
  result back on the GUI thread; a newer call with the same ``key`` drops an older one's
  result. Shut down, it never waits for the calls still running.
* :class:`Lane` (there too) puts one kind of call on a Background at most one at a time,
  plus the newest wanted.
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

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from crisisdesk.core.app_log import log_file, loggable
from crisisdesk.core.gpu_names import learn_gpu_name
from crisisdesk.core.jobs import give_back_freed_memory
from crisisdesk.core.progress import Progress
from crisisdesk.gui.advice import plain_error
from crisisdesk.gui.background import (  # noqa: F401 - all three: imported from here
    Background,
    Lane,
    describe_error,
)
from crisisdesk.gui.job_libraries import wait_for_preload

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second: painting is not free
RATE_WINDOW_S = 10.0  # the rate is measured over the last seconds, so it follows changes
#: Advances the rate spans at least, however long they took: over the last one alone, a
#: job whose batches differ (captions sorted by tweet length) swung its ETA up and down.
RATE_MIN_ADVANCES = 4
#: No advance for this many of the job's usual intervals (and a window): it has stalled,
#: and its rate and ETA read "–" rather than the pace it had.
STALL_INTERVALS = 3
#: Seconds a phase may wait for its first advance (longer where the job's pace so far was
#: slower) before it is said stalled: until then its row says it is working. A slow job's
#: first unit is no sign of trouble (a 7B captioner on a CPU writes a batch of four
#: captions in one to two minutes); "no progress for 0:12" at each phase's start made
#: analysts cancel good work.
FIRST_ADVANCE_S = 300.0

logger = logging.getLogger(__name__)


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
                # Here, before the row hears of the device: asking CUDA for the card's
                # name may take its time, never the UI thread's (asked once per device).
                learn_gpu_name(progress.device)
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
            # The traceback's text for Details; its frames are cleared by the runner on
            # the UI thread (see JobRunner._on_ended), not here.
            details = traceback.format_exc()
            # The analyst's words (no class name): the traceback keeps the class.
            self.ended.emit("failed", plain_error(exc), details)
        finally:
            close = getattr(job, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException:  # noqa: BLE001 - the outcome is already reported
                    pass
            job = close = None  # the job's objects go now, before what they freed is given back
            give_back_freed_memory()


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
        # (time, done) where the count advanced: a progress that moved nothing (a server
        # captioner's waits) lowered the rate until its batch landed, then it rose.
        self._samples: deque[tuple[float, int]] = deque()
        # The slowest usual interval between advances of the phases before: a new phase's
        # first advance is given at least as long as the job's pace so far.
        self._pace = 0.0
        self.state = "pending"  # pending | running | done | cancelled | failed
        self.last_progress: Progress | None = None
        self.result: Any = None
        self.error: str | None = None  # a failed job's message, as the analyst reads it
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
        logger.info("job started: %s", self.title)
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
        """Units per second from one advance to another, over the last few seconds and
        at least RATE_MIN_ADVANCES advances; None until it can be measured, and once the
        job stalled (a "0.0/s" said nothing the "–" does not)."""
        if len(self._samples) < 2 or self.stalled_for is not None:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    @property
    def stalled_for(self) -> float | None:
        """Seconds since the job's count last advanced (since its start before any
        progress), once past STALL_INTERVALS of its usual intervals and RATE_WINDOW_S;
        before the phase's first advance, once past FIRST_ADVANCE_S and STALL_INTERVALS
        of the pace of the phases before. None while it keeps its pace. Judged with the
        time now, not at its latest progress: a job silent for minutes (one long batch, a
        model loading) never yields, and its last pace stood as if it still held."""
        quiet = self._quiet()
        if quiet is None:
            return None
        seconds, usual, advanced = quiet
        limit = (max(RATE_WINDOW_S, STALL_INTERVALS * usual) if advanced
                 else max(FIRST_ADVANCE_S, STALL_INTERVALS * self._pace))
        return seconds if seconds > limit else None

    @property
    def first_advance_wait(self) -> float | None:
        """Seconds the phase under way has waited for its first advance (since the job's
        start before any progress), once past RATE_WINDOW_S and while it is not yet said
        stalled (see FIRST_ADVANCE_S); None otherwise. The row says the job is working."""
        quiet = self._quiet()
        if quiet is None or quiet[2] or quiet[0] <= RATE_WINDOW_S:
            return None
        return quiet[0] if self.stalled_for is None else None

    def _quiet(self) -> tuple[float, float, bool] | None:
        """(seconds since the count last advanced, or since the phase's first progress or
        the job's start; the usual seconds between advances in this phase; whether the
        phase advanced at all); None before the start."""
        if self._samples:
            last, usual = self._samples[-1][0], self._usual()
        elif self.started_at is not None:
            last, usual = self.started_at, 0.0
        else:
            return None
        return (self.ended_at or time.monotonic()) - last, usual, len(self._samples) > 1

    def _usual(self) -> float:
        """The mean seconds between the phase's advances measured (0 before two)."""
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        return (samples[-1][0] - samples[0][0]) / (len(samples) - 1)

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
        last = self.last_progress
        if last is not None and ((progress.total and not last.total)
                                 or progress.done < last.done):
            # A new phase: the work starts once its total is known (Predict read every
            # item before), or counts from 0 again (a switch's second task). Measured
            # with the phase before, the rate took its seconds for the work's.
            self._pace = max(self._pace, self._usual())
            self._samples.clear()
        samples = self._samples
        if not samples or progress.done > samples[-1][1]:
            samples.append((now, progress.done))
            while (len(samples) > RATE_MIN_ADVANCES + 1
                   and now - samples[0][0] > RATE_WINDOW_S):
                samples.popleft()
        self.last_progress = progress
        self.progress.emit(progress)

    def _on_ended(self, state: str, value: Any, details: str) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait()  # the thread is past its last emit; this returns at once
            self.exception = thread.error
            if self.exception is not None:
                # The row keeps the exception (its message, a missing model's download)
                # and the traceback's text; its frames held every local of the job (its
                # model, its training data) for as long as the row stayed. Cleared here,
                # on the UI thread: an exception raised before keeps the earlier raises'
                # frames too (other threads', holding this thread's Qt objects), and
                # cleared on the job thread those Qt objects were deleted there.
                traceback.clear_frames(self.exception.__traceback__)
        self.ended_at = time.monotonic()
        self.state = state
        if state == "done":
            self.result = value
        elif state == "failed":
            log = log_file()
            # Where an engineer finds it again once the row and its window are gone.
            self.error, self.details = str(value), details + (
                f"\nThis is also in the app's log: {log}" if log is not None else "")
        self._log_end(state, details)
        _RUNNING.discard(self)
        self.finished.emit(state, value if state != "cancelled" else None)

    def _log_end(self, state: str, details: str) -> None:
        """Say in the app's log how the job ended and how long it took (a failed one's
        traceback with it, which ends with its message: the core's name files, rows and
        settings; of a caption server's answer, which may echo a post, only its outline).
        No result: a done job's summary may quote posts."""
        where = f" on {self.device}" if self.device else ""
        if state == "failed":
            logger.error("job failed: %s after %.1f s%s\n%s", self.title, self.elapsed,
                         where, loggable(details, self.exception).rstrip())
        else:
            logger.info("job %s: %s after %.1f s%s", state, self.title, self.elapsed, where)
