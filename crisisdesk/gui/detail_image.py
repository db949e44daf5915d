"""The detail panel's image: decoded (and blurred, when the blur settings hide it) off
the UI thread, and what the panel says in its place when the file cannot be shown."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QImage

from crisisdesk.gui.advice import RELINK_COMMAND, for_project
from crisisdesk.gui.sensitive import blur_image
from crisisdesk.gui.thumbnails import decode_scaled

IMAGE_BOX = 2048  # decode at most this many pixels a side: zoom x8 of a panel stays sharp
VEIL_SENSITIVE = "Marked sensitive by the poster or platform.\nClick, or press Show image (Alt+S)."
VEIL_ALL = "Images are hidden until clicked (Settings).\nClick, or press Show image (Alt+S)."


def decode_for_panel(path: str, *, blur: bool) -> tuple[QImage | None, QImage | None, bool]:
    """(the image, its blurred copy when ``blur``, whether the file is gone): run on a
    worker thread. The image is None when it cannot be decoded."""
    image = decode_scaled(path, IMAGE_BOX)
    # Told apart here, off the UI thread: a file gone since the import (a folder moved,
    # a drive unplugged) is no damaged file.
    gone = image is None and not os.path.isfile(path)
    return image, blur_image(image) if blur and image is not None else None, gone


def not_shown(path: str, gone: bool, *, project: Path | str | None = None) -> str:
    """What the panel says where the image at ``path`` could not be shown; ``project``:
    the open project's folder, which the relink command names (else PROJECT)."""
    if gone:
        return (f"Image file not found (moved or deleted since the import):\n{path}\n"
                f"(if its folder moved, relink it {for_project(RELINK_COMMAND, project)})")
    return f"Image could not be decoded:\n{path}"
