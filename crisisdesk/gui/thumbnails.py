"""Thumbnails of item images: decoded off the UI thread, kept in a small LRU cache.

The item list asks :meth:`ThumbnailCache.get` while it paints. A miss returns None at once
and queues the path; queued paths are decoded in the window's :class:`Background` a few at
a time (``QImageReader`` with ``setScaledSize``, so a 4000 px photo is never decoded at full
size), and ``ready(path)`` tells the list to repaint that row. Only the paths asked for in
the latest paints are decoded, and only MAX_IN_FLIGHT at once, newest first: when the user
flings the list across 100,000 items, the rows flown past are never decoded. A blurred
thumbnail (a sensitive post's, see ``sensitive.py``) is blurred in the same pool call and
cached apart from the sharp one.
Pictures are shown upright by their EXIF orientation, as the models see them (Pillow):
Qt applies it for JPEG and TIFF only, so PNG and WebP files are turned here. What Qt's
readers refuse (past their 256 MB allocation limit, 32-bit TIFF) Pillow decodes.
"""

from __future__ import annotations

from collections import OrderedDict

from PIL import Image
from PySide6.QtCore import QObject, QSize, QTimer, Signal
from PySide6.QtGui import QImage, QImageIOHandler, QImageReader, QPixmap, QTransform

from crisisdesk.core.imaging import open_image, upright_rgb
from crisisdesk.gui.sensitive import blur_image
from crisisdesk.gui.worker import Background

#: A decoded image is a few tens of KB at 64 px: 2,000 of them stay well under 100 MB.
CACHE_SIZE = 2000
#: The newest wishes kept for decoding; older ones were rows scrolled past (a row still on
#: screen is among the newest: the list paints its rows together).
BATCH = 48
#: Decodes handed to the pool at a time: two per pool thread, so it never idles between
#: an arrival and the next flush. Unbounded, a fling over 2,000 loaded rows handed the
#: pool every row flown past (1,700 decodes of 50 ms): the rows the list stopped on got
#: their thumbnails 20 s later, and the store's page queries (same pool) waited too.
MAX_IN_FLIGHT = 8
FLUSH_MS = 25
#: EXIF orientation -> the map that turns the stored pixels upright (x' = m11 x + m21 y,
#: y' = m12 x + m22 y in Qt's y-down frame; QImage.transformed moves the result back
#: into view). 6 is a quarter turn clockwise, 8 one counter-clockwise.
ORIENTATION_MAPS = {2: (-1, 0, 0, 1), 3: (-1, 0, 0, -1), 4: (1, 0, 0, -1),
                    5: (0, 1, 1, 0), 6: (0, 1, -1, 0), 7: (0, -1, -1, 0), 8: (0, -1, 1, 0)}


def decode_scaled(path: str, box: int) -> QImage | None:
    """Decode ``path`` scaled to fit a ``box`` x ``box`` square (None when unreadable);
    a very long and thin picture keeps a short side of at least a quarter of the box
    (the list draws its middle as a strip: fitted whole, a 10000 x 200 panorama was
    64 x 1 pixels).

    Runs in a pool thread: QImage (unlike QPixmap) may be made off the GUI thread.
    """
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # phone photos carry their rotation in EXIF
    size = reader.size()
    if size.isValid() and (size.width() > box or size.height() > box):
        reader.setScaledSize(QSize(*scaled_size(size.width(), size.height(), box)))
    # Pillow (and so the encoders, the captioner and the heat map) turns a picture by its
    # EXIF orientation, or its XMP one when there is no EXIF tag. Qt turns only JPEG and
    # TIFF, and only by EXIF: where Qt finds nothing to apply, the picture is turned here
    # as Pillow turns it (PNG and WebP phone photos, JPEGs rotated in XMP alone).
    qt_turns = reader.transformation() != QImageIOHandler.Transformation.TransformationNone
    image = reader.read()
    if image.isNull():
        # Qt refuses to allocate more than QImageReader.allocationLimit() (256 MB), and
        # decodes PNG, GIF, BMP and TIFF at full size before scaling: a 9000 x 9000 PNG
        # (81 MP, 4 bytes a pixel; a 16-bit one past 34 MP) that the import accepted
        # showed "could not be decoded" and no thumbnail. Pillow, which the import and
        # the models decode with, has no such limit (the import's own limits apply).
        return decode_with_pillow(path, box)
    return image if qt_turns else upright(image, exif_orientation(path))


def scaled_size(width: int, height: int, box: int) -> tuple[int, int]:
    """The size a ``width`` x ``height`` picture is shown at to fit a ``box`` square
    (never enlarged), its short side kept at a quarter of the box (see decode_scaled)."""
    if width <= box and height <= box:
        return width, height
    fit = min(box / width, box / height)
    scale = min(1.0, max(fit, (box / 4) / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_with_pillow(path: str, box: int) -> QImage | None:
    """:func:`decode_scaled` by Pillow, for what Qt's readers refuse (None when Pillow
    cannot either): upright, transparency over white, as the models see it."""
    try:
        with open_image(path) as image:
            image.draft("RGB", (box, box))  # JPEG only: decode at 1/2 to 1/8 scale
            picture = upright_rgb(image)
        picture = picture.resize(scaled_size(*picture.size, box), Image.Resampling.BILINEAR,
                                 reducing_gap=2.0)
    except Exception:  # noqa: BLE001 - an unreadable file is shown as such, never raised
        return None
    data = picture.tobytes()
    # copy(): the QImage must own its pixels, not borrow the bytes object's.
    return QImage(data, picture.width, picture.height, 3 * picture.width,
                  QImage.Format.Format_RGB888).copy()


def exif_orientation(path: str) -> int:
    """The orientation of ``path`` as Pillow reads it: EXIF's, else XMP's (1: upright,
    or unknown)."""
    try:
        with open_image(path) as image:
            value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - Qt decoded it: show it as stored rather than not
        return 1
    return value if isinstance(value, int) and value in ORIENTATION_MAPS else 1


def upright(image: QImage, orientation: int) -> QImage:
    """``image`` (stored pixels) turned as EXIF ``orientation`` says, as Pillow's
    ``exif_transpose`` turns it for the models."""
    matrix = ORIENTATION_MAPS.get(orientation)
    if matrix is None:
        return image
    return image.transformed(QTransform(*matrix, 0, 0))


def decode_thumbnail(path: str, box: int, blurred: bool) -> QImage | None:
    """:func:`decode_scaled`, blurred when asked (in the same pool thread)."""
    image = decode_scaled(path, box)
    return blur_image(image, box) if blurred and image is not None else image


# A cached thumbnail: its path, and whether it is the blurred one.
Key = tuple[str, bool]


class ThumbnailCache(QObject):
    """Thumbnails by image path (sharp or blurred); decoding happens in the background."""

    ready = Signal(str)  # the path whose thumbnail (or failure) just arrived

    def __init__(self, background: Background, box: int, parent: QObject | None = None,
                 *, capacity: int = CACHE_SIZE) -> None:
        super().__init__(parent)
        self._background = background
        self._box = box
        self._capacity = capacity
        self._cache: OrderedDict[Key, QPixmap | None] = OrderedDict()
        self._wanted: OrderedDict[Key, None] = OrderedDict()
        self._in_flight: set[Key] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self.decoded = 0  # how many decodes ran (the benchmark reports it)

    def get(self, path: str, blurred: bool = False) -> QPixmap | None:
        """The thumbnail (blurred when asked) if decoded (None: not yet, or unreadable;
        see :meth:`failed`)."""
        key = (path, blurred)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._in_flight:
            self._wanted[key] = None
            self._wanted.move_to_end(key)
            if not self._timer.isActive():
                self._timer.start()
        return None

    def failed(self, path: str, blurred: bool = False) -> bool:
        """Whether ``path`` was tried and could not be decoded."""
        key = (path, blurred)
        return key in self._cache and self._cache[key] is None

    def _flush(self) -> None:
        # The newest wishes are the rows on screen now; older ones were scrolled past.
        while len(self._wanted) > BATCH:
            self._wanted.popitem(last=False)
        box = self._box
        # The rest wait here for a free slot (see _arrived), newest first.
        while self._wanted and len(self._in_flight) < MAX_IN_FLIGHT:
            key, _ = self._wanted.popitem(last=True)
            self._in_flight.add(key)
            self._background.call(
                lambda k=key: decode_thumbnail(k[0], box, k[1]),
                lambda image, k=key: self._arrived(k, image),
                lambda _message, k=key: self._arrived(k, None))

    def _arrived(self, key: Key, image: QImage | None) -> None:
        self._in_flight.discard(key)
        self.decoded += 1
        self._cache[key] = QPixmap.fromImage(image) if image is not None else None
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        if self._wanted and not self._timer.isActive():
            self._timer.start()  # a slot is free: the next wish waiting for one
        self.ready.emit(key[0])
