"""A guard against a reference-count bug of PySide6 6.12 on Python 3.11.

Each time Qt calls a method a Python class overrides (``paintEvent``, ``eventFilter``,
a model's ``data``...), this PySide6 drops one reference to ``None`` that it never took
(measured here: 300 repaints of a widget with a Python ``paintEvent`` = 300 references
gone, whatever the method returns). None starts with a few thousand references, so
after a few seconds of painting a list the interpreter aborts with "Fatal Python error:
none_dealloc: deallocating None". Importing this module (``crisisdesk.gui`` does) adds
2**40 references to None up front, which no session will use up. Python 3.12+ makes None
immortal, so there the guard does nothing.
"""

from __future__ import annotations

import ctypes
import sys

PIN = 1 << 40


def pin_none() -> bool:
    """Raise None's reference count far out of reach; True when it was needed."""
    if sys.version_info >= (3, 12):
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += PIN
    return True


PINNED = pin_none()
