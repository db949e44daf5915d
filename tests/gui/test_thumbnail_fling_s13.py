"""The list's thumbnails when the analyst flings the list over rows already loaded.

Measured over 2,011 image items (/tmp/h25 scratch): once the rows were loaded, a fling to
the end with decodes of 50 ms (big PNG screenshots) queued every row flown past (1,700
decodes), and the rows on screen when the list stopped got their thumbnails 20 s later,
with the store's page queries waiting behind the decodes in the same pool.
"""

from __future__ import annotations

import threading

from PySide6.QtGui import QImage

from crisisdesk.gui import style, thumbnails
from crisisdesk.gui.thumbnails import FLUSH_MS, ThumbnailCache
from crisisdesk.gui.worker import Background

ROWS_ON_SCREEN = 10
FRAMES = 40  # screens flown past, each painted once


def test_a_fling_decodes_the_rows_it_stops_on_not_every_row_flown_past(
        qtbot, monkeypatch) -> None:
    gate = threading.Event()  # decodes are slower than the paints until the fling ends
    decoded: list[str] = []
    lock = threading.Lock()

    def slow_decode(path: str, box: int, blurred: bool) -> QImage:
        gate.wait(10)
        with lock:
            decoded.append(path)
        image = QImage(box, box, QImage.Format.Format_RGB32)
        image.fill(0)
        return image

    monkeypatch.setattr(thumbnails, "decode_thumbnail", slow_decode)
    background = Background()
    cache = ThumbnailCache(background, style.THUMB_SIZE)
    submitted: list[int] = []
    real_call = background.call

    def counting_call(*args, **kwargs):
        submitted.append(1)
        return real_call(*args, **kwargs)

    monkeypatch.setattr(background, "call", counting_call)
    screens = [[f"/photos/{frame:03d}_{row}.png" for row in range(ROWS_ON_SCREEN)]
               for frame in range(FRAMES)]
    for screen in screens:  # each frame paints the rows on screen, then the flush runs
        for path in screen:
            assert cache.get(path) is None
        qtbot.wait(FLUSH_MS * 3)
    # While the decodes are stuck, the pool was not handed a decode per row flown past.
    assert len(submitted) < FRAMES * ROWS_ON_SCREEN // 4
    gate.set()
    last = screens[-1]
    qtbot.waitUntil(lambda: all(cache.get(path) is not None for path in last), timeout=10000)
    qtbot.waitUntil(lambda: not background.busy(), timeout=10000)
    # The rows the list stopped on were decoded; most rows flown past never were.
    assert set(last) <= set(decoded)
    assert len(decoded) < FRAMES * ROWS_ON_SCREEN // 4
    background.shutdown()


def test_the_cache_holds_at_most_its_capacity_however_many_rows_were_shown(
        qtbot, monkeypatch) -> None:
    def small_decode(path: str, box: int, blurred: bool) -> QImage:
        image = QImage(box, box, QImage.Format.Format_RGB32)
        image.fill(0)
        return image

    monkeypatch.setattr(thumbnails, "decode_thumbnail", small_decode)
    background = Background()
    cache = ThumbnailCache(background, style.THUMB_SIZE, capacity=5)
    paths = [f"/photos/{n}.png" for n in range(20)]
    for start in range(0, len(paths), 4):  # screens of 4 rows, each decoded in turn
        screen = paths[start:start + 4]
        for path in screen:
            cache.get(path)
        qtbot.waitUntil(lambda screen=screen: all(cache.get(p) is not None for p in screen))
    qtbot.waitUntil(lambda: not background.busy())
    held = [path for path in paths if cache.get(path) is not None]
    assert len(held) <= 5 and set(paths[-4:]) <= set(held)  # the newest rows stay
    background.shutdown()
