"""Big label steps and exports in the window: what is happening is shown, and a key
pressed again because nothing seemed to happen does not do a second thing.

Found at 100,000 items: a label key on Select All took ~2 s and its undo 5-10 s with
nothing in the status bar, and an analyst who pressed Ctrl+Z again undid the step before
as well. An export showed "0 of 1" and then nothing until its file was written, and its
Cancel could only come after the file was in place.

The rule chosen for keys pressed during a big step: label keys (and a first Ctrl+Z or
Ctrl+Shift+Z) wait their turn, in the order given, and the status line says how many
wait; a second undo or redo while one is already on its way behind (or in) a big step
is refused with a message, as it would take back a further step.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_item_model import build_large_project

from crisisdesk.core.exporters import PROGRESS_ROWS, Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui.dialogs.export_dialog import ExportDialog, ExportJob
from crisisdesk.gui.labelling import Labeller, Targets
from crisisdesk.gui.worker import Background

N = 1_500  # items of a big step
EXPORTED = 2 * PROGRESS_ROWS + 500  # items of an export: progress steps between its ends
TASK = "damage"


@pytest.fixture
def many(tmp_path: Path) -> Project:
    return build_large_project(tmp_path / "many", N)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return build_large_project(tmp_path_factory.mktemp("exported") / "project", EXPORTED)


def everything() -> Targets:
    """Select All over "All items": every row a range still to read."""
    return Targets((), ((0, N),), Queue("all"), "", "priority", N)


def first_item() -> Targets:
    return Targets((), ((0, 1),), Queue("all"), "", "priority", N)


@contextmanager
def written_elsewhere(project: Project):
    """Another window's write holding the store's write lock: the label lane's write
    waits behind it, so what the window shows meanwhile can be looked at."""
    other = sqlite3.connect(project.root / "project.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def labels(project: Project) -> dict[int, str | None]:
    with project.open_store() as store:
        return {r[0]: r[1] for r in store.conn.execute(
            "SELECT item, label FROM label_state WHERE task = ?", [TASK])}


def make_labeller(many: Project) -> tuple[Background, Labeller, list[str]]:
    background = Background()
    labeller = Labeller(many, background, "ana")
    said: list[str] = []
    labeller.message.connect(said.append)
    return background, labeller, said


def test_a_label_given_to_many_items_is_shown_while_written_and_keys_wait_in_order(
        qtbot, many: Project) -> None:
    background, labeller, said = make_labeller(many)
    with written_elsewhere(many):
        labeller.give(everything(), TASK, "severe_damage")
        assert said and f"{N:,} items" in said[-1] and "…" in said[-1], said
        labeller.give(first_item(), TASK, "mild_damage")  # a key pressed meanwhile
        assert "1 more change" in said[-1], said
        labeller.undo()  # the mild_damage just given: waits, not refused
        assert "2 more changes" in said[-1], said
    qtbot.waitUntil(lambda: not labeller.busy(), timeout=60_000)
    # The undo took back the mild_damage given after the big step, in order.
    assert set(labels(many).values()) == {"severe_damage"}
    background.wait()


def test_a_second_ctrl_z_during_the_undo_of_a_big_step_is_refused_with_a_message(
        qtbot, many: Project) -> None:
    background, labeller, said = make_labeller(many)
    labeller.give(first_item(), TASK, "mild_damage")  # the step before
    labeller.give(everything(), TASK, "little_or_no_damage")
    qtbot.waitUntil(lambda: not labeller.busy(), timeout=60_000)
    with written_elsewhere(many):
        labeller.undo()
        qtbot.waitUntil(lambda: any(f"Undoing {N:,} labels" in s for s in said),
                        timeout=20_000)
        labeller.undo()  # pressed again: nothing seemed to happen
        assert "not taken" in said[-1] and "Ctrl+Z" in said[-1], said
        labeller.redo()
        assert "not taken" in said[-1] and "Ctrl+Shift+Z" in said[-1], said
    qtbot.waitUntil(lambda: not labeller.busy(), timeout=60_000)
    got = labels(many)
    # The step before stays: one item keeps mild_damage, the big step's others are none.
    assert [v for v in got.values() if v is not None] == ["mild_damage"]
    with many.open_store() as store:
        assert store.stack_sizes("ana") == (1, 1)
    assert f"{N:,} labels" in said[-1], said  # what the undo did, once done
    background.wait()


def test_the_export_job_reports_progress_in_items_and_a_cancel_leaves_no_file(
        exported: Project, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "labels.csv"
    job = ExportJob(exported, out, "csv", None, False, False)
    steps = iter(job)
    first, second = next(steps), next(steps)
    assert first.total == second.total == EXPORTED
    assert 0 < second.done < EXPORTED
    job.close()  # the jobs panel's Cancel
    assert not out.exists()
    assert not out.parent.exists()  # no temp file, and the folder it made is gone
    with exported.open_store() as store:
        assert store.conn.execute("SELECT state FROM jobs WHERE kind = 'export'"
                                  " ORDER BY id DESC"
                                  ).fetchone()[0] == "cancelled"


def test_the_export_dialog_shows_its_progress_and_its_cancel_leaves_no_file(
        qtbot, exported: Project, tmp_path: Path, monkeypatch) -> None:
    # The export waits after its first chunk until the test has pressed Cancel.
    gate = threading.Event()
    real_items = Exporter.items

    def items(self):
        for n, item in enumerate(real_items(self), 1):
            if n == PROGRESS_ROWS // 2:
                gate.wait(30)
            yield item

    monkeypatch.setattr(Exporter, "items", items)
    dialog = ExportDialog(exported)
    qtbot.addWidget(dialog)
    dialog.show()
    out = tmp_path / "labels.csv"
    out.write_text("the export before\n", encoding="utf-8")
    dialog.out.setText(str(out))
    runner = dialog.start_export()
    qtbot.waitUntil(lambda: f"of {EXPORTED:,} items" in dialog.status.text(),
                    timeout=20_000)
    assert dialog.cancel_button.isVisible() and dialog.cancel_button.isEnabled()
    with qtbot.waitSignal(runner.finished, timeout=60_000):
        dialog.cancel_button.click()
        gate.set()
    assert out.read_text(encoding="utf-8") == "the export before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]  # no temp file left
    assert "cancelled" in dialog.status.text()
    assert not dialog.cancel_button.isVisible()  # nothing left to cancel
