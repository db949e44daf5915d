"""Garbage is collected on the GUI thread only (crisisdesk/gui/gc_guard.py): a worker
thread that allocates a lot no longer runs the collector, so Qt objects kept alive by a
reference cycle are never destroyed in a worker thread."""

from __future__ import annotations

import gc
import threading

from crisisdesk.gui import gc_guard
from crisisdesk.gui.worker import Background


class _Cycle:
    """An object in a reference cycle that notes the thread it is finalised on."""

    def __init__(self, died_on: list[int]) -> None:
        self.me, self.died_on = self, died_on

    def __del__(self) -> None:
        self.died_on.append(threading.get_ident())


def _allocate_a_lot() -> int:
    # Container objects are what the collector counts: far past every threshold.
    junk = [[n] for n in range(200_000)]
    return len(junk)


def test_a_cycle_dropped_on_the_gui_thread_is_collected_there_not_in_a_worker(qtbot) -> None:
    guard = gc_guard.install()
    assert guard is not None and not gc.isenabled()
    gui = threading.get_ident()
    died_on: list[int] = []
    _Cycle(died_on)  # unreachable at once, but a cycle: only the collector frees it
    background = Background()
    done: list[int] = []
    background.call(_allocate_a_lot, done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=20_000)
    assert died_on == [] or died_on == [gui]  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: bool(died_on), timeout=5_000)  # the timer's pass on this thread
    assert died_on == [gui]
    background.shutdown()


def test_uninstall_gives_the_automatic_collector_back(qtbot) -> None:
    gc_guard.install()
    assert not gc.isenabled()
    gc_guard.uninstall()
    assert gc.isenabled()
    gc_guard.install()  # the fixture's teardown uninstalls it again
