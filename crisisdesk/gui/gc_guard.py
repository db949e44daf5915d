"""Python's cyclic garbage collector, run on the GUI thread only.

Why: the collector runs in whichever thread happens to allocate when a generation's
threshold is crossed. With jobs and background calls allocating in worker threads, a
collection there may free the last reference to a Qt wrapper kept alive only by a
reference cycle (a closed window and its ``actions_``, a job row and the lambdas of its
buttons, a pixmap), so the C++ widget, pixmap or QObject is destroyed in a worker
thread: Qt forbids that, and the process died with "Fatal Python error: Segmentation
fault" while "Garbage-collecting" in a job thread that was importing transformers (seen
once in a few runs of tests/gui; faulthandler's trace showed it).

:func:`install` turns the automatic collector off and collects from a timer on the GUI
thread instead, the young generation every tick and the older ones as the thresholds say
(as pyqtgraph's GarbageCollector does), so garbage is still collected, a little later, and always
where Qt objects may die. :func:`uninstall` gives the automatic collector back (tests).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 1000  # garbage waits at most this long; a young-generation pass is ~1 ms


class GuiThreadCollector(QObject):
    """Runs a collector pass every ``INTERVAL_MS`` on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.was_enabled = gc.isenabled()
        self.collections = 0  # passes made (for checks)
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        gc.disable()
        self._timer.start()

    def collect_due(self) -> None:
        """One pass: the youngest generation, or an older one when its threshold says
        so (each young pass counts towards the next one up, as in automatic mode). The
        young one is collected every tick rather than by its allocation count: garbage
        made and counted in a worker may be freed by reference counting before a tick,
        leaving the count low and a cycle uncollected."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = 2 if counts[2] > thresholds[2] else 1 if counts[1] > thresholds[1] else 0
        gc.collect(generation)
        self.collections += 1

    def stop(self) -> None:
        self._timer.stop()
        if self.was_enabled:
            gc.enable()


_GUARD: GuiThreadCollector | None = None


def install() -> GuiThreadCollector | None:
    """Collect garbage on the GUI thread only, from now on (idempotent). None when there
    is no application yet or when called off the GUI thread (nothing changes then)."""
    global _GUARD
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    if _GUARD is None:
        _GUARD = GuiThreadCollector(app)
    return _GUARD


def uninstall() -> None:
    """Stop the timer and give the automatic collector back (after a last pass here)."""
    global _GUARD
    guard, _GUARD = _GUARD, None
    if guard is not None:
        guard.stop()
        guard.deleteLater()
    gc.collect()
