"""The detail panel when the analyst holds J (or K) in the item list.

Each row passed asked the panel for its item; each ask queued an ``item_detail`` read in
the window's shared pool (66 reads for 66 moves), and each read that landed queued an
image decode: on a slow disk or a network share the row the analyst stopped on, and the
list's own page queries in the same pool, waited behind rows long passed. Now at most one
read (and one decode) is in flight, plus the newest wanted. Counted with a gate that holds
the first one, never timed.
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtGui import QImage

from crisisdesk.core import review
from crisisdesk.core.review_types import Queue
from crisisdesk.gui import detail_panel
from crisisdesk.gui.detail_panel import DetailPanel
from crisisdesk.gui.worker import Background

MOVES = 50


@pytest.fixture
def gate() -> threading.Event:
    """Holds the first read or decode until the test opens it (or ends)."""
    return threading.Event()


@pytest.fixture
def panel(qtbot, demo_like_project, gate):
    background = Background()
    shown = DetailPanel(demo_like_project, background)
    qtbot.addWidget(shown)
    yield shown
    gate.set()  # a test that failed early must not leave a pool thread held
    background.shutdown()


def image_items(project) -> list[int]:
    with project.open_store() as store:
        rows = review.queue_page(store, Queue("all"), offset=0, limit=100)
    return [row.id for row in rows if row.image_path is not None]


def test_holding_j_reads_the_first_and_the_last_item_not_every_row_passed(
        qtbot, panel, gate, demo_like_project, monkeypatch) -> None:
    ids = image_items(demo_like_project)
    moves = [ids[n % len(ids)] for n in range(MOVES)]
    started: list[int] = []
    lock = threading.Lock()
    real = review.item_detail

    def slow_detail(store, item_id):
        with lock:
            started.append(item_id)
            first = len(started) == 1
        if first:
            gate.wait(10)  # a slow disk: the first read lasts while J is held
        return real(store, item_id)

    monkeypatch.setattr(review, "item_detail", slow_detail)
    for item in moves:
        panel.show_item(item)
        qtbot.wait(2)  # the event loop runs between key repeats
    assert started == [moves[0]]  # nothing else was queued behind the held read
    gate.set()
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.row.id == moves[-1])
    qtbot.waitUntil(lambda: not panel._background.busy())
    assert started == [moves[0], moves[-1]]
    assert panel.detail.row.id == moves[-1]


def test_a_failed_read_of_a_row_passed_is_not_shown_for_the_row_landed_on(
        qtbot, panel, gate, demo_like_project, monkeypatch) -> None:
    ids = image_items(demo_like_project)
    real = review.item_detail

    def failing_first(store, item_id):
        if item_id == ids[0]:
            gate.wait(10)
            raise OSError("disk went away")
        return real(store, item_id)

    monkeypatch.setattr(review, "item_detail", failing_first)
    errors: list[str] = []
    panel.failed.connect(errors.append)
    panel.show_item(ids[0])
    panel.show_item(ids[1])
    gate.set()
    qtbot.waitUntil(lambda: panel.detail is not None and panel.detail.row.id == ids[1])
    qtbot.waitUntil(lambda: not panel._background.busy())
    assert errors == []


def test_rows_passed_while_their_images_decode_slowly_are_not_all_decoded(
        qtbot, panel, gate, demo_like_project, monkeypatch) -> None:
    ids = image_items(demo_like_project)
    moves = [ids[n % len(ids)] for n in range(20)]
    decoded: list[str] = []
    lock = threading.Lock()

    def slow_decode(path: str, *, blur: bool):
        with lock:
            decoded.append(path)
            first = len(decoded) == 1
        if first:
            gate.wait(10)  # a photo on a network share
        image = QImage(8, 8, QImage.Format.Format_RGB32)
        image.fill(0)
        return image, None, False

    monkeypatch.setattr(detail_panel, "decode_for_panel", slow_decode)
    for item in moves:  # each row's detail arrives, its image does not yet
        panel.show_item(item)
        qtbot.waitUntil(lambda item=item: panel.detail is not None
                        and panel.detail.row.id == item)
    gate.set()
    qtbot.waitUntil(lambda: panel.image.has_image())
    qtbot.waitUntil(lambda: not panel._background.busy())
    assert panel.detail.row.id == moves[-1]
    assert decoded == [decoded[0], panel.detail.row.image_path]
