"""The queue panel at the size of a real disaster project: counting the queues of
300,000 items takes seconds, and the analyst labels an item a second or faster. Each
label asks for new counts; they must not pile up in the window's thread pool (where they
starve the pages and the detail panel of the next item) but run one at a time, the last
one after the last label."""

from __future__ import annotations

import threading

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.gui.queue_panel import QueuePanel
from crisisdesk.gui.worker import Background


def test_counts_asked_for_while_counting_run_once_after_it(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    real = review.queue_counts
    gate = threading.Event()
    started: list[int] = []

    def slow_counts(store, tasks=None):
        """A count that takes as long as the test says (seconds at 300,000 items)."""
        started.append(len(started))
        assert gate.wait(30)
        return real(store, tasks)

    monkeypatch.setattr(review, "queue_counts", slow_counts)
    background = Background()
    panel = QueuePanel(demo_like_project, background, None)
    qtbot.addWidget(panel)
    arrived: list[int] = []
    panel.counts_arrived.connect(lambda: arrived.append(len(started)))
    # Twice: the first counts build the panel, later ones only change its numbers.
    for burst in (1, 2):
        gate.clear()
        panel.refresh()
        qtbot.waitUntil(lambda burst=burst: len(started) == 2 * burst - 1)
        for _label in range(10):  # ten labels given while that count runs
            panel.refresh()
        gate.set()
        qtbot.waitUntil(lambda burst=burst: len(arrived) == burst and not background.busy())
        # that count, then one more for all ten labels; not eleven counts
        assert len(started) == 2 * burst
        # only the counts read after the last label are said to be current
        assert arrived[-1] == 2 * burst
    assert len(arrived) == 2
    background.shutdown()
