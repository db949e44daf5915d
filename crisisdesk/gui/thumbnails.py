"""Thumbnails of item images: decoded off the UI thread, kept in a small LRU cache.

The item list asks :meth:`ThumbnailCache.get` while it paints. A miss returns None at once
and queues the path; queued paths are decoded in the window's :class:`Background` a few at
a time (``QImageReader`` with ``setScaledSize``, so a 4000 px photo is never decoded at full
size), and ``ready(path)`` tells the list to repaint that row. Only the paths asked for in
the latest paints are decoded: when the user flings the scrollbar across 100,000 items,
the rows flown past are never decoded.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from crisisdesk.gui.worker import Background

#: A decoded image is a few tens of KB at 64 px: 2,000 of them stay well under 100 MB.
CACHE_SIZE = 2000
#: Decodes started per flush; the rest wait for the next paint to ask again.
BATCH = 48
FLUSH_MS = 25


def decode_scaled(path: str, box: int) -> QImage | None:
    """Decode ``path`` scaled to fit a ``box`` x ``box`` square (None when unreadable).

    Runs in a pool thread: QImage (unlike QPixmap) may be made off the GUI thread.
    """
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # phone photos carry their rotation in EXIF
    size = reader.size()
    if size.isValid() and (size.width() > box or size.height() > box):
        reader.setScaledSize(size.scaled(QSize(box, box), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


class ThumbnailCache(QObject):
    """Thumbnails by image path; decoding happens in the background."""

    ready = Signal(str)  # the path whose thumbnail (or failure) just arrived

    def __init__(self, background: Background, box: int, parent: QObject | None = None,
                 *, capacity: int = CACHE_SIZE) -> None:
        super().__init__(parent)
        self._background = background
        self._box = box
        self._capacity = capacity
        self._cache: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._wanted: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self.decoded = 0  # how many decodes ran (the benchmark reports it)

    def get(self, path: str) -> QPixmap | None:
        """The thumbnail if decoded (None: not yet, or unreadable; see :meth:`failed`)."""
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        if path not in self._in_flight:
            self._wanted[path] = None
            self._wanted.move_to_end(path)
            if not self._timer.isActive():
                self._timer.start()
        return None

    def failed(self, path: str) -> bool:
        """Whether ``path`` was tried and could not be decoded."""
        return path in self._cache and self._cache[path] is None

    def _flush(self) -> None:
        # The newest wishes are the rows on screen now; older ones were scrolled past.
        paths = list(self._wanted)[-BATCH:]
        self._wanted.clear()
        box = self._box
        for path in paths:
            self._in_flight.add(path)
            self._background.call(
                lambda p=path: decode_scaled(p, box),
                lambda image, p=path: self._arrived(p, image),
                lambda _message, p=path: self._arrived(p, None))

    def _arrived(self, path: str, image: QImage | None) -> None:
        self._in_flight.discard(path)
        self.decoded += 1
        self._cache[path] = QPixmap.fromImage(image) if image is not None else None
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        self.ready.emit(path)
