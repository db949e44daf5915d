"""Leftovers of session 12's reviews, GUI side: the targets module split off the
labeller, an export Cancel that removes its temp file at once, one pending retry of the
current row, Esc in the main window closing the label history, a refused second Ctrl+Z
said in a line that fits, and a cancelled export's message when no file was there."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import SIGNAL, Qt
from test_item_model import build_large_project
from test_many_classes_s11 import NEEDS, _typed
from window_helpers import current_labels, open_window, settle

from crisisdesk.core import exporters
from crisisdesk.core.exporters import PROGRESS_ROWS, Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.store import LabelChange
from crisisdesk.gui import labelling
from crisisdesk.gui.dialogs.export_dialog import ExportDialog, ExportJob
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.labelling import BIG_STEP, Labeller
from crisisdesk.gui.worker import Background, JobRunner

TASK = "damage"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """More items than an export's progress step and a big label step, on many pages."""
    return build_large_project(tmp_path_factory.mktemp("big") / "project",
                               max(PROGRESS_ROWS, BIG_STEP) + 500)


def test_targets_are_their_own_module_and_still_reached_through_labelling(big) -> None:
    from crisisdesk.gui import targets

    assert (labelling.Targets, labelling.ListChanged, labelling.selected_targets) == (
        targets.Targets, targets.ListChanged, targets.selected_targets)
    # As its docstring says: the size is checked, and so are the model versions read.
    with big.open_store() as store:
        total = store.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        read = targets.Targets((), ((0, 2),), Queue("all"), total=total,
                               versions="an older version@1")
        with pytest.raises(targets.ListChanged):
            read.resolve(store)
        assert len(targets.Targets((), ((0, 2),), Queue("all"), total=total)
                   .resolve(store)) == 2


def test_an_export_cancel_removes_its_temp_file_while_the_export_is_still_referenced(
        big: Project, tmp_path: Path, monkeypatch) -> None:
    """The temp file went only when CPython freed the exporter's generator: anything
    still holding it (a traceback, a debugger, another Python) left the file behind."""
    held = []
    writing = Exporter.writing

    def holding(self, out, fmt):
        held.append(generator := writing(self, out, fmt))
        return generator

    monkeypatch.setattr(Exporter, "writing", holding)
    out = tmp_path / "exports" / "labels.csv"
    job = ExportJob(big, out, "csv", None, False, False)
    steps = iter(job)
    next(steps), next(steps)  # the start, then the first chunk of rows written
    assert [p for p in out.parent.iterdir() if p.suffix == ".tmp"]  # being written
    job.close()  # Cancel
    assert held  # still referenced
    assert not out.parent.exists()  # no temp file, and the folder it made is gone


def _cancelled_export(qtbot, project: Project, out: Path, monkeypatch) -> ExportDialog:
    """An export to ``out`` cancelled before it wrote a row; the dialog, once finished."""
    entered, gate = threading.Event(), threading.Event()
    writing = Exporter.writing

    def gated(self, path, fmt):
        entered.set()
        gate.wait(10)
        yield from writing(self, path, fmt)

    monkeypatch.setattr(exporters.Exporter, "writing", gated)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.out.setText(str(out))
    runner = dialog.start_export()
    assert entered.wait(10)  # the export's job is made: it started
    with qtbot.waitSignal(runner.finished, timeout=20_000):
        runner.cancel()
        gate.set()
    return dialog


def test_a_cancelled_export_with_no_file_before_says_none_was_written(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "labels.csv"
    dialog = _cancelled_export(qtbot, demo_like_project, out, monkeypatch)
    assert not out.exists()
    assert dialog.status.text() == "Export cancelled; no file was written."


def test_a_cancelled_export_over_a_file_says_it_was_not_replaced(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("the export before\n", encoding="utf-8")
    dialog = _cancelled_export(qtbot, demo_like_project, out, monkeypatch)
    assert out.read_text(encoding="utf-8") == "the export before\n"
    assert dialog.status.text() == "Export cancelled; no file was replaced."


def test_an_export_cancelled_before_it_started_does_not_report_the_one_before(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch) -> None:
    """A Cancel landing before the worker made the job found the export before's job:
    the dialog said it wrote that one's file again (and handed it on as exported)."""
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    dialog.out.setText(str(first))
    with qtbot.waitSignal(dialog.exported, timeout=20_000):
        dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.is_running())
    start = JobRunner.start

    def cancelled_at_once(runner: JobRunner) -> None:
        runner.cancel()
        start(runner)

    monkeypatch.setattr(JobRunner, "start", cancelled_at_once)
    exported: list[list[Path]] = []
    dialog.exported.connect(exported.append)
    dialog.out.setText(str(second))
    runner = dialog.start_export()
    with qtbot.waitSignal(runner.finished, timeout=20_000):
        pass
    assert exported == [] and not second.exists()
    assert dialog.status.text() == "Export cancelled; no file was written."


DATA_CHANGED = SIGNAL("dataChanged(QModelIndex,QModelIndex,QList<int>)")


def test_moving_through_rows_not_read_yet_waits_for_them_once(qtbot, big: Project) -> None:
    """Each row not read yet that became current added one more retry on dataChanged:
    J held down through pages on their way piled them up, each run at the next page."""
    window = open_window(qtbot, big)
    settle(qtbot, window)
    model = window.model
    before = model.receivers(DATA_CHANGED)
    rows = [n * 3 * PAGE + 5 for n in range(1, 6)]
    for row in rows:  # no event handled in between: no page arrives
        assert model.row_at(row) is None
        window.items.setCurrentIndex(model.index(row))
    assert model.receivers(DATA_CHANGED) - before <= 1
    # The one wait is enough: the item shown is the current row's once it arrives.
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.detail.item_id == window.current_row().id, timeout=20_000)
    settle(qtbot, window)
    assert model.receivers(DATA_CHANGED) == before


def _history_open(qtbot, window):
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    popup = window.detail.history
    qtbot.waitUntil(popup.isVisible)
    window.activateWindow()  # the keys back in the main window
    qtbot.waitUntil(window.isActiveWindow)
    window.items.setFocus()
    return popup


def test_esc_in_the_main_window_closes_the_label_history(
        qtbot, demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    popup = _history_open(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    qtbot.keyClick(window.items, Qt.Key.Key_Escape)  # nothing open: nothing happens
    assert window.isVisible()


def test_esc_closes_the_help_or_drops_a_first_digit_before_the_label_history(
        qtbot, demo_like_project: Project) -> None:
    window, item = _typed(qtbot, demo_like_project, 1)  # a 12-class task: "1" waits
    window.keys.give_first()  # class 1
    settle(qtbot, window)
    popup = _history_open(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_1)  # waits for a second digit
    qtbot.keyClick(window.items, Qt.Key.Key_Escape)  # drops that digit, and only that
    assert popup.isVisible()
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    assert window.help.isVisible()
    qtbot.keyClick(window.help, Qt.Key.Key_Escape)  # closes the help only
    assert not window.help.isVisible() and popup.isVisible()
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[0]}


def test_a_refused_second_ctrl_z_is_said_in_a_line_that_fits(qtbot, big: Project) -> None:
    """The message ran ~190 characters: a window narrower than ~1100 px cut it off."""
    with big.open_store() as store:
        store.add_labels([LabelChange(i, TASK, "severe_damage")
                          for i in range(1, BIG_STEP + 1)], annotator="ana")
    background = Background()
    labeller = Labeller(big, background, "ana")
    said: list[str] = []
    labeller.message.connect(said.append)
    lock = big.open_store()  # another window's write: the undo waits behind it
    lock.conn.execute("BEGIN IMMEDIATE")
    try:
        labeller.undo()
        qtbot.waitUntil(lambda: any("Undoing" in s for s in said), timeout=20_000)
        for again, key in ((labeller.undo, "Ctrl+Z"), (labeller.redo, "Ctrl+Shift+Z")):
            again()
            assert "not taken" in said[-1] and key in said[-1], said[-1]
            assert len(said[-1]) <= 110, said[-1]
    finally:
        lock.conn.execute("ROLLBACK")
        lock.close()
    qtbot.waitUntil(lambda: not labeller.busy(), timeout=60_000)
    background.wait()
