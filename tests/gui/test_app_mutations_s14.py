"""App behaviours a mutation audit (session 14) found no test would notice breaking:
the item list reading a page past its first on the GUI thread, Enter accepting the
prediction of another task than the one the keys work on, and an export opening the
files it replaces in place (a Cancel would leave them cut short), or a Cancel
button that does not stop the export.

Each test here failed on a scratch copy of the package with that one bug put in, and
passes on the real code.
"""

from __future__ import annotations

import sqlite3
import threading
from functools import partial
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_export_cancel_s13 import TASK_FILES
from test_item_model import build_large_project
from test_labelling import RecordingConnection
from window_helpers import current_labels, open_window, settle

from crisisdesk.core import exporters
from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import Prediction
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.item_model import PAGE


def test_pages_past_the_first_are_read_off_the_gui_thread(qtbot, tmp_path: Path,
                                                          monkeypatch) -> None:
    """The GUI-thread recording of test_labelling runs on six items: one page, read by
    the query itself. A page read as the analyst goes down a long queue (End) is another
    path: run on the GUI thread, it would freeze the window at every page, and no
    test noticed."""
    project = build_large_project(tmp_path / "long", n=5 * PAGE)
    RecordingConnection.threads = []
    monkeypatch.setattr(sqlite3, "connect", partial(sqlite3.connect,
                                                    factory=RecordingConnection))
    gui = threading.get_ident()
    window = open_window(qtbot, project)
    model = window.model
    first_reads = model.page_calls
    qtbot.keyClick(window.items, Qt.Key.Key_End)
    last = model.total - 1
    assert window.items.currentIndex().row() == last
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.detail.item_id == window.current_row().id)
    settle(qtbot, window)
    assert model.page_calls > first_reads  # the last page was read on its own
    assert model.row_at(last) is not None and last >= 4 * PAGE
    assert RecordingConnection.threads  # the recording saw the work
    assert gui not in RecordingConnection.threads


def _predict_every_item(project: Project, task: str, likeliest: str) -> None:
    """An active version of ``task`` predicting ``likeliest`` for every item."""
    classes = scheme_for(task).classes
    probs = {c: 0.8 if c == likeliest else 0.2 / (len(classes) - 1) for c in classes}
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items")]
        version = store.add_model_version(task, f"{task}-head", "nowhere")
        store.add_predictions(version, [Prediction(i, task, probs) for i in items])


def test_enter_accepts_the_prediction_of_the_task_being_worked_on(qtbot,
                                                                   demo_like_project
                                                                   ) -> None:
    """With two tasks predicted, Enter on the second labels that task with its own
    prediction, and leaves the other task's labels alone (test_labelling's Enter test has
    one task predicted: taking any task's active version would pass it)."""
    informative = scheme_for("informative").classes[0]
    damage = scheme_for("damage").classes[1]
    _predict_every_item(demo_like_project, "informative", informative)
    _predict_every_item(demo_like_project, "damage", damage)
    window = open_window(qtbot, demo_like_project)
    boxes = window.detail.task_boxes
    while boxes[window.detail.focused_task].view.task != "damage":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    settle(qtbot, window)
    assert boxes[window.detail.focused_task].view.predicted == damage
    item = window.current_row().id
    before = {t: current_labels(demo_like_project, t) for t in ("damage", "informative")}
    assert before["damage"].get(item) != damage
    qtbot.keyClick(window.items, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "damage") == {**before["damage"], item: damage}
    assert current_labels(demo_like_project, "informative") == before["informative"]


@pytest.mark.parametrize("fmt", ["csv", "crisismmd"])
def test_a_cancelled_export_leaves_the_files_it_would_replace_as_they_were(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch, fmt: str) -> None:
    """Cancel pressed while rows are being written: every file the export would replace
    keeps its old bytes and no temp file is left. The cancel tests cancel before the
    files are opened, and look at the names only: an export writing its files in place
    (no temp file and rename) would pass them, with the analyst's old export cut short."""
    out = tmp_path / "exports"
    out.mkdir()
    names = ["labels.csv"] if fmt == "csv" else TASK_FILES
    for name in names:
        (out / name).write_text(f"{name} from the export before\n", encoding="utf-8")
    written, release = threading.Event(), threading.Event()
    items = Exporter.items

    def slow_items(self):
        for n, item in enumerate(items(self)):
            yield item
            if n == 0:  # the first row is written: the files are open
                written.set()
                release.wait(10)

    monkeypatch.setattr(Exporter, "items", slow_items)
    monkeypatch.setattr(exporters, "PROGRESS_ROWS", 1)  # a yield, so a Cancel, per row
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    dialog.task.setCurrentIndex(0)  # all tasks: CrisisMMD writes one file each
    dialog.out.setText(str(out / "labels.csv" if fmt == "csv" else out))
    runner = dialog.start_export()
    assert runner is not None and written.wait(10)
    with qtbot.waitSignal(runner.finished, timeout=20_000) as finished:
        dialog.cancel_button.click()
        release.set()
    assert finished.args[0] == "cancelled"
    assert "no file was replaced" in dialog.status.text()
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temp file left
    for name in names:
        assert (out / name).read_text("utf-8") == f"{name} from the export before\n"
