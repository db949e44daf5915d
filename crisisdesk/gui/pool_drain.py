"""Thread pools let go by their closed owner, kept until their running calls end.

A dialog's :class:`~crisisdesk.gui.worker.Background` owns a ``QThreadPool``; destroying a
pool waits for its running calls on the thread that destroys it, the UI thread. Closing the
import dialog while its column read hung on a network share froze the whole window (and
the retrain report and the Model versions window while a versions load ran). A pool let go
here is taken from its owner (so freeing the dialog does not destroy it) and held until its
calls have ended, checked by a timer on the UI thread that never waits; it is then
destroyed, idle, which is quick. Their results are dropped by the Background itself.
"""

from __future__ import annotations

import time

import shiboken6
from PySide6.QtCore import QThreadPool, QTimer

CHECK_MS = 200  # how often the pools let go are looked at: nobody waits for them

# Pools whose calls still run, away from their freed owners (never waited on here).
_DRAINING: set[QThreadPool] = set()
_check_due = False


def let_go(pool: QThreadPool) -> None:
    """Drop ``pool``'s queued calls; when some still run, take it from its owner and keep
    it until they end. Never waits. Call on the UI thread (the pool's owner's)."""
    if pool in _DRAINING or not shiboken6.isValid(pool):
        return  # let go already (shutdown, then the owner freed)
    pool.clear()
    if pool.waitForDone(0):  # idle (0: never waits): it goes with its owner, quickly
        return
    pool.setParent(None)  # its owner's end must not destroy it: that waits for the calls
    _DRAINING.add(pool)
    _check_later()


def pools_draining() -> int:
    """How many pools let go still run calls (for checks)."""
    return len(_DRAINING)


def wait_for_dropped_calls(timeout_ms: int) -> bool:
    """Block up to ``timeout_ms`` for the calls of the pools let go; True once none runs.

    For the app quitting only, after its windows closed: a pool destroyed by Python's
    exit while a call runs would wait for it without limit.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    for pool in list(_DRAINING):
        left = max(0, int((deadline - time.monotonic()) * 1000))
        if pool.waitForDone(left):
            _DRAINING.discard(pool)
    return not _DRAINING


def _check_later() -> None:
    global _check_due
    if not _check_due:
        _check_due = True
        QTimer.singleShot(CHECK_MS, _check)


def _check() -> None:
    """Free the pools whose calls have ended; look again later while some still run."""
    global _check_due
    _check_due = False
    for pool in list(_DRAINING):
        if pool.waitForDone(0):  # also ends its idle threads: nothing of it is left
            _DRAINING.discard(pool)  # its last reference, mostly: destroyed here, idle
    if _DRAINING:
        _check_later()
