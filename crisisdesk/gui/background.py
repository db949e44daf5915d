"""Short background calls for a window: the thread pool behind every query off the UI thread.

* :class:`Background` runs short calls (a store query, a page of items, a thumbnail) in a
  thread pool and hands the result back on the GUI thread. A newer call with the same
  ``key`` makes an older one's result be dropped, so search-as-you-type never paints a
  stale page. Shut down (its window or dialog closed), it never waits for the calls still
  running: their pool ends them in :mod:`~crisisdesk.gui.pool_drain`.
* :class:`Lane` puts one kind of call (the detail panel's read of the item landed on) on a
  Background at most one at a time, plus the newest wanted: rows passed with J held are
  never read at all.

Long jobs run in :mod:`~crisisdesk.gui.worker` (``JobRunner``), which re-exports these
names: the app imports them from there.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from itertools import count
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from crisisdesk.gui.advice import plain_error
from crisisdesk.gui.pool_drain import let_go

T = TypeVar("T")
logger = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """An error in one line as an engineer reads it: ``Type: message``. What the analyst
    reads is :func:`~crisisdesk.gui.advice.plain_error` (no class name)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
            # The analyst's words for on_error; the class stays in the traceback.
            self._owner._deliver(self._id, False, (plain_error(exc),
                                                   traceback.format_exc()))
            return
        self._owner._deliver(self._id, True, value)


class _Relay(QObject):
    """Carries the pool threads' results to the GUI thread, for every Background; made
    once and never deleted.

    A Background is deleted with its window or dialog, on the GUI thread, at any moment;
    a pool thread that emitted a signal of the Background itself while that ran used a
    half-destroyed object and killed the process (a segmentation fault in CI: a test's
    window deleted as one of its calls ended). Emitting on this object, which outlives
    them all, is always safe; the Background is looked at on the GUI thread only, where
    it cannot be deleted meanwhile.
    """

    result = Signal(object, int, bool, object)  # Background, call id, ok, value

    def __init__(self) -> None:
        super().__init__()
        self.result.connect(self._hand_over)  # queued: this object lives in the GUI thread

    @Slot(object, int, bool, object)
    def _hand_over(self, owner: Background, call_id: int, ok: bool, value: Any) -> None:
        if owner._closed.is_set() or not shiboken6.isValid(owner):
            return  # shut down, or deleted with its window, since the call ended
        owner._on_result(call_id, ok, value)


_relay: _Relay | None = None


def _the_relay() -> _Relay:
    """The one :class:`_Relay`, made on first use (a Background's, on the GUI thread)."""
    global _relay
    if _relay is None or not shiboken6.isValid(_relay):
        _relay = _Relay()
        app = QCoreApplication.instance()
        if app is not None and _relay.thread() is not app.thread():
            _relay.moveToThread(app.thread())
    return _relay


class Background(QObject):
    """Short background calls for one window, results delivered on the GUI thread."""

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = count(1)
        self._pending: dict[int, tuple[Callable[[Any], None],
                                       Callable[[str], None] | None, str | None]] = {}
        self._latest: dict[str, int] = {}
        self._closed = threading.Event()
        self._relay = _the_relay()  # pool threads hand their results to it, not to self
        # Deleted with its window or dialog without shutdown(): calls still running must
        # not emit on the deleted object, and the pool, destroyed with it, would wait for
        # them on the UI thread: it is let go first (Qt destroys children only after this
        # signal). The event and pool are captured, not self: the wrapper is dying.
        closed, pool = self._closed, self._pool
        self.destroyed.connect(lambda *_args: (closed.set(), let_go(pool)))

    def call(self, fn: Callable[[], T], on_done: Callable[[T], None],
             on_error: Callable[[str], None] | None = None, *, key: str | None = None) -> None:
        """Run ``fn()`` in a pool thread; then ``on_done(result)`` or ``on_error(message)``
        (the analyst's words: :func:`~crisisdesk.gui.advice.plain_error`).

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
        """Hand a call's result to the GUI thread (in the pool thread): through the relay,
        never a signal of this object, which its window may be deleting right now."""
        if self._closed.is_set():
            return
        self._relay.result.emit(self, call_id, ok, value)

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
            # Shown without Python's class name: the log keeps it for an engineer.
            logger.info("background call failed: %s", value[1])
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
