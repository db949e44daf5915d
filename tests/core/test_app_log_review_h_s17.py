"""The app's log under two app instances and off the UI thread (session 17 review).

Two instances share the log file. On Windows a file one process holds open cannot be
renamed by another, so the rotation of one instance failed, and with it every line
after: each one tried to rotate again, failed, and was dropped (and each try moved the
older files on, the oldest deleted), while the app said the log could not be written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own data folder; the log stopped (and the hooks given back) after."""
    from crisisdesk.core import app_log

    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data"
    app_log.stop_log()


def test_a_rotation_refused_by_another_instance_loses_no_line(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core import app_log

    path = app_log.start_log()
    assert path is not None
    for n in range(1, app_log.BACKUPS + 1):
        (path.parent / f"crisisdesk.log.{n}").write_text(f"older file {n}'s line\n", "utf-8")
    rename, replace = os.rename, os.replace

    def held_open_elsewhere(moves):
        def move(source, dest, *args, **kwargs):
            # As Windows refuses to rename a file another process has open.
            if Path(source) == path:
                raise PermissionError(13, "The process cannot access the file because "
                                      "it is being used by another process", str(source))
            return moves(source, dest, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "rename", held_open_elsewhere(rename))
    monkeypatch.setattr(os, "replace", held_open_elsewhere(replace))
    log = logging.getLogger("crisisdesk.test")
    line = "x" * 1000
    for _ in range(2 * app_log.MAX_BYTES // len(line)):
        log.info(line)
    log.info("the last line")
    app_log.flush_log()  # the writer thread writes the file
    text = "\n".join(p.read_text("utf-8") for p in path.parent.glob("crisisdesk.log*"))
    assert "the last line" in text  # written on, in the file it could not rotate
    # The older files kept, none dropped to make room for a rotation that did not happen.
    assert all(f"older file {n}'s line" in text for n in range(1, app_log.BACKUPS + 1))
    assert text.count(line) == 2 * app_log.MAX_BYTES // len(line)
    assert app_log.log_problem() is None  # nothing wrong with the log: not said so
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    # Tried again as the file grows (not on every line): rotated once the other lets go.
    for _ in range(app_log.MAX_BYTES // 10 // len(line) + 2):
        log.info(line)
    log.info("rotated once it can be")
    app_log.flush_log()  # the writer thread writes the file
    assert path.stat().st_size < app_log.MAX_BYTES
    assert "rotated once it can be" in path.read_text("utf-8")
    assert "the last line" in (path.parent / "crisisdesk.log.1").read_text("utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "crisisdesk.log", *(f"crisisdesk.log.{n}" for n in range(1, app_log.BACKUPS + 1))]
