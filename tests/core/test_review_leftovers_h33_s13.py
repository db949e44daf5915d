"""The next write of a file removes only what a killed write of it left (mkstemp's
temp names, and the old files set aside beside them), never an analyst's own hidden
file that happens to start with the export's name."""

from __future__ import annotations

import os
import time
from pathlib import Path

from crisisdesk.core.files import STALE_S, atomic_write, atomic_writes


def _aged(path: Path) -> Path:
    path.write_text("x", encoding="utf-8")
    old = time.time() - 2 * STALE_S
    os.utime(path, (old, old))
    return path


def test_a_write_removes_its_killed_temps_but_not_an_analysts_hidden_files(
        tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    # What a write of labels.csv killed before its rename left (mkstemp's 8 characters).
    ours = [_aged(tmp_path / ".labels.csv.k2x_9a0q.tmp"),
            _aged(tmp_path / ".labels.csv.k2x_9a0q.old")]
    # The analyst's own hidden copies beside the export: not a writer's temp.
    theirs = [_aged(tmp_path / ".labels.csv.before-cleanup.old"),
              _aged(tmp_path / ".labels.csv.monday.tmp"),
              _aged(tmp_path / ".labels.csv.2024-05-01 backup.tmp")]
    with atomic_write(out) as handle:
        handle.write("id\n")
    assert [p for p in ours if p.exists()] == []
    assert [p for p in theirs if not p.exists()] == []
    with atomic_writes([out]) as (handle,):
        handle.write("id\n")
    assert [p for p in theirs if not p.exists()] == []
