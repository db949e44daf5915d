"""A label given to a big selection, written in a few statements.

Found at 100,000 items: giving one class to a whole queue read each item's latest journal
row with a query of its own (100,000 queries, ~2 s on the worker before the first row
was written). Now the step is a few set-based statements whatever its size, and writes
the very journal rows the row-by-row code wrote: the one below, kept as the reference.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import pytest
from test_big_steps_s12 import N, TASK, _counted
from test_scale_hunt import build

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store
from crisisdesk.core.store import labels as journal

NOW = "2026-05-09T10:00:00+00:00"


def _row_by_row(store: Store, changes: Sequence[LabelChange], *, annotator: str,
                source: str = "human", skip_unchanged: bool = True) -> int | None:
    """add_labels as it was before session 12 (its checks left out), row by row, but
    each row written before the next change is read: a change naming an (item, task)
    the step named before is compared with (and replaces) the row that change wrote,
    as test_label_steps_s12 asks. (The code then read every change's row first, so it
    compared each with the label before the step: on an item labelled mild_damage,
    [severe_damage, mild_damage] wrote only the severe_damage row.)"""
    action = None
    with store.transaction():
        for change in changes:
            latest = store.latest_label_row(change.item, change.task)
            if skip_unchanged and (latest["label"] if latest else None) == change.label:
                continue
            if action is None:
                action = store._append_action(annotator, source, "set")
            store.conn.execute(
                "INSERT INTO labels (action, item, task, label, annotator, source,"
                " created_at, prev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [action, change.item, change.task, change.label,
                 change.annotator or annotator, change.source or source,
                 change.given_at or journal.utc_now(), latest["id"] if latest else None])
    return action


class _Undone(Exception):
    """Raised to roll a step back once its rows are read."""


def _written(store: Store, step: Callable[[], int | None]) -> tuple:
    """What ``step`` returns and the journal, actions and label state it leaves, then
    rolled back: the next step starts from the same project."""
    seen: tuple = ()
    with pytest.raises(_Undone), store.transaction():
        action = step()
        seen = (action,) + tuple(store.conn.execute(sql).fetchall() for sql in (
            "SELECT * FROM labels ORDER BY id",
            "SELECT * FROM label_actions ORDER BY id",
            "SELECT * FROM label_state ORDER BY item, task"))
        raise _Undone
    return seen


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """N items, a third labelled severe_damage on import, item 7 given mild_damage by
    ana; the clock stopped, so both ways write the same times."""
    monkeypatch.setattr(journal, "utc_now", lambda: NOW)
    return build(tmp_path / "big", N)


def _selection(n: int) -> list[LabelChange]:
    """The common case: one class given to every item of a queue."""
    return [LabelChange(i, TASK, "severe_damage") for i in range(1, n + 1)]


def _mixed(n: int) -> list[LabelChange]:
    """Everything else a step may hold: tasks mixed, labels cleared (and "cleared" where
    there is none), an (item, task) named twice (same class, then another), and labels
    carried over from another project with their own annotator, source and time (one
    of them odd)."""
    return [
        LabelChange(1, TASK, None), LabelChange(2, TASK, None),
        LabelChange(4, "informative", "informative"),
        LabelChange(5, "informative", "not_informative"),
        LabelChange(7, TASK, "mild_damage"), LabelChange(7, TASK, "severe_damage"),
        LabelChange(8, TASK, "mild_damage"), LabelChange(8, TASK, "mild_damage"),
        LabelChange(10, TASK, "severe_damage"), LabelChange(10, TASK, "mild_damage"),
        LabelChange(11, "humanitarian", "vehicle_damage", annotator="carl",
                    source="import", given_at="2025-01-02T03:04:05+00:00"),
        LabelChange(12, TASK, "mild_damage", annotator="dora"),
        # A NUL read from a hostile sheet's annotator cell: kept whole, as written.
        LabelChange(13, TASK, "mild_damage", annotator="eve\x00 ok", source="import"),
        LabelChange(n, TASK, "little_or_no_damage"),
    ]


@pytest.mark.parametrize("changes", [_selection, _mixed])
@pytest.mark.parametrize("skip_unchanged", [True, False])
def test_a_step_writes_the_journal_rows_the_row_by_row_code_wrote(
        big: Project, changes: Callable[[int], list[LabelChange]],
        skip_unchanged: bool) -> None:
    given = changes(N)
    with big.open_store() as store:
        want = _written(store, lambda: _row_by_row(
            store, given, annotator="ana", source="human", skip_unchanged=skip_unchanged))
        got = _written(store, lambda: store.add_labels(
            given, annotator="ana", skip_unchanged=skip_unchanged))
    assert want[0] is not None
    assert got[0] == want[0]
    for name, have, expected in zip(("labels", "label_actions", "label_state"),
                                    got[1:], want[1:]):
        assert [tuple(r) for r in have] == [tuple(r) for r in expected], name


def test_a_step_changing_nothing_writes_nothing(big: Project) -> None:
    """Every item has the class already (or no label to clear): no action, no undo step."""
    already = [LabelChange(i, TASK, "severe_damage") for i in range(1, N + 1, 3) if i != 7]
    already.append(LabelChange(7, TASK, "mild_damage"))
    unlabelled = [LabelChange(i, TASK, None) for i in range(2, N + 1, 3)]
    with big.open_store() as store:
        actions = store.conn.execute("SELECT COUNT(*) FROM label_actions").fetchone()
        rows = store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()
        assert store.add_labels(already + unlabelled, annotator="ana") is None
        assert store.conn.execute("SELECT COUNT(*) FROM label_actions").fetchone() == actions
        assert store.conn.execute("SELECT COUNT(*) FROM labels").fetchone() == rows
        assert store.stack_sizes("ana") == (1, 0)


def test_a_label_given_to_a_big_selection_is_a_few_statements_committed_at_once(
        big: Project) -> None:
    with big.open_store() as store:
        action, statements = _counted(store, lambda: store.add_labels(
            _selection(N), annotator="ana"))
        # Seen by another connection (the window's reader, another process) at once.
        with closing(sqlite3.connect(store.path)) as other:
            written = other.execute("SELECT COUNT(*), MIN(annotator), MAX(annotator)"
                                    " FROM labels WHERE action = ?", [action]).fetchone()
        # Those imported as severe_damage keep their row; item 7 was ana's mild_damage.
        assert written == (N - len(range(1, N + 1, 3)) + 1, "ana", "ana")
        assert store.stack_sizes("ana") == (2, 0)
        assert store.undo("ana")
        assert store.current_label(7, TASK).label == "mild_damage"
    # 5,000 changes were 5,000 reads and more, one per item.
    assert statements < 50, statements


# `crisisdesk export` as a job: a child process whose export signals itself once its
# first rows are written (no timing). The signal starts at its default, as from a shell.
EXPORT_SCRIPT = """
import os, signal, sys
from crisisdesk.core import exporters
from crisisdesk.cli import main
sig, project, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
exporters.PROGRESS_ROWS = 10
real = exporters.Exporter.items
def items(self, *args, **kwargs):
    for done, item in enumerate(real(self, *args, **kwargs)):
        if done == 15:
            os.kill(os.getpid(), sig)
        yield item
exporters.Exporter.items = items
sys.exit(main(["export", project, out]))
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_export_stopped_midway_says_so_and_leaves_no_file(tmp_path: Path,
                                                             sig: str) -> None:
    """Stopped by Ctrl-C or SIGTERM (``kill``, a scheduler's time limit), an export ends
    as the other jobs do (exit 1, a line that says it): SIGTERM killed it and left the
    half-written temp file beside the export, for good."""
    build(tmp_path / "small", 50)
    out = tmp_path / "out" / "labels.csv"
    out.parent.mkdir()
    out.write_text("the export before\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, str(int(getattr(signal, sig))),
         str(tmp_path / "small"), str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"Cancelled; {out} not written" in done.stdout
    assert out.read_text(encoding="utf-8") == "the export before\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp file


def test_ctrl_c_between_two_chunks_of_an_export_removes_its_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """Ctrl-C as the progress is shown (the export waiting at a chunk's end)."""
    from crisisdesk import cli, cli_progress
    from crisisdesk.core import exporters

    build(tmp_path / "small", 50)
    out = tmp_path / "out" / "labels.jsonl"
    monkeypatch.setattr(exporters, "PROGRESS_ROWS", 10)
    drawn: list[int] = []

    class Interrupting:
        """The progress view (a bar or log lines): Ctrl-C at its third update."""

        def update(self, progress) -> None:
            drawn.append(progress.done)
            if len(drawn) == 3:
                raise KeyboardInterrupt

        def close(self, finished: bool) -> None:
            pass

    monkeypatch.setattr(cli_progress, "progress_view", lambda stream, unit: Interrupting())
    assert cli.main(["export", str(tmp_path / "small"), str(out)]) == 1
    assert drawn == [0, 10, 20]
    assert "Cancelled" in capsys.readouterr().out
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
