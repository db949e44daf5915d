"""A write refused for want of room is said in the analyst's words: the red bar, the
close question and the commands read "SQLite found no room to write ... ("database or
disk is full")": the name of a library and its own message, jargon to an analyst. (The
bar and the question: tests/gui/test_label_not_saved_s11.py, test_unsaved_at_close_s16.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crisisdesk.core.store.db import FULL_DRIVE_BYTES, full_drive


@pytest.fixture()
def room(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every drive has room: SQLite said it was full (a file size limit, a quota)."""
    free = FULL_DRIVE_BYTES * 100
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: shutil._ntuple_diskusage(free * 2, free, free))


def test_a_full_store_is_said_without_the_librarys_words(room, tmp_path: Path) -> None:
    store = tmp_path / "harvey" / "crisisdesk.sqlite"
    said = full_drive(store, said=True)
    assert said is not None
    assert "SQLite" not in said and "database or disk is full" not in said, said
    assert said.startswith(f"the drive holding {store.parent} is full"), said
    assert "free some space" in said and "size limit" in said, said

