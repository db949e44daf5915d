"""The Qt binding keeps Python's reference counts right where the app leans on it.

PySide6 6.12.0 lost one reference to ``True`` at every emit of a Python-defined signal
carrying True (``Signal(bool)``, ``Signal(object)``): moving down the item list and giving
labels emit such signals, so over a session True's count fell until the interpreter
aborted ("Fatal Python error: bool_dealloc"), mid-session or at exit. pyproject.toml
excludes that release; this test fails on any binding with the same fault. From Python
3.12 True and False are immortal (PEP 683): the fault cannot abort there, and their
counts cannot be read, so the test runs on 3.11 (this project's oldest Python) only.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    flag = Signal(bool)
    value = Signal(object)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="bools are immortal from 3.12")
@pytest.mark.parametrize("signal", ["flag", "value"])
@pytest.mark.parametrize("value", [True, False])
def test_emitting_a_bool_keeps_its_reference_count(qapp, signal: str, value: bool) -> None:
    emitter = _Emitter()
    received: list[bool] = []
    getattr(emitter, signal).connect(received.append)
    received.clear()
    before = sys.getrefcount(value)
    for _ in range(200):
        getattr(emitter, signal).emit(value)
    received.clear()  # the slot's list held 200 references of its own
    assert sys.getrefcount(value) == before
