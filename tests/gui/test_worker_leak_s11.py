"""Background calls are freed once they have reported back: a day of moving through items
with J/K made thousands of calls, and about one in nine stayed alive with its closure
(the thumbnails, pages and items it captured), held by the thread pool's Python wrapper.

Counted in live objects after the pool is idle, never timed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.gui.background import _Call
from crisisdesk.gui.worker import Background


def _live_calls() -> int:
    """``_Call`` objects still alive once every call ended and the garbage is collected."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is _Call)


def test_calls_made_moving_through_items_are_freed(qtbot, demo_like_project: Project) -> None:
    """J and K through a small project's items, 120 times: each move reads the item, its
    thumbnails and its neighbours in the background. A call whose runnable ended before
    ``QThreadPool.start`` returned to Python was made a child of the pool's wrapper after
    its C++ object was deleted, so nothing ever removed it."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    window.background.wait()
    before = _live_calls()
    made = 0
    real_init = _Call.__init__

    def counting_init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        nonlocal made
        made += 1
        real_init(self, *args, **kwargs)

    _Call.__init__ = counting_init  # type: ignore[method-assign]
    try:
        for n in range(120):
            qtbot.keyClick(window.items, Qt.Key.Key_J if (n // 5) % 2 == 0 else Qt.Key.Key_K)
            settle(qtbot, window)
    finally:
        _Call.__init__ = real_init  # type: ignore[method-assign]
    window.background.wait()
    settle(qtbot, window)
    assert made > 100  # the moves did go through the background
    assert _live_calls() - before == 0


def test_many_quick_calls_are_all_freed(qtbot) -> None:
    """Calls that return at once, the kind a cached thumbnail makes, while the GUI thread
    keeps busy: every one reports back and none stays alive."""
    before = _live_calls()
    background = Background()
    results: list[int] = []
    for n in range(400):
        background.call(lambda n=n: n, results.append)
        sum(range(2000))  # the GUI thread holds the GIL a moment, as painting does
    qtbot.waitUntil(lambda: len(results) == 400 and not background.busy())
    background.wait()
    assert sorted(results) == list(range(400))
    assert _live_calls() - before == 0
    background.shutdown()
