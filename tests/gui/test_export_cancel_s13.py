"""A cancelled CrisisMMD export of several tasks into a folder says what became of the
task files: "no file was replaced" was said for any folder that existed, empty or not."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.export_dialog import ExportDialog

TASK_FILES = [f"task_{t}_text_img.tsv" for t in ("informative", "humanitarian", "damage")]


def _cancel_crisismmd(qtbot, project: Project, out: Path, monkeypatch) -> str:
    """The dialog's status once a CrisisMMD export of all tasks to ``out`` is cancelled
    as soon as it has looked at its target files (before it wrote a row)."""
    looked, cancelled = threading.Event(), threading.Event()
    targets = Exporter.targets

    def then_wait(self, path, fmt):
        found = targets(self, path, fmt)
        looked.set()
        cancelled.wait(10)  # the Cancel lands before the first row is written
        return found

    monkeypatch.setattr(Exporter, "targets", then_wait)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("crisismmd"))
    dialog.task.setCurrentIndex(0)  # all tasks: one file each, into the folder
    dialog.out.setText(str(out))
    runner = dialog.start_export()
    assert looked.wait(10)
    with qtbot.waitSignal(runner.finished, timeout=20_000):
        runner.cancel()
        cancelled.set()
    return dialog.status.text()


@pytest.mark.parametrize("before, said", [
    ([], "Export cancelled; no file was written."),
    (TASK_FILES, "Export cancelled; no file was replaced."),
    (TASK_FILES[:1], "Export cancelled; no file was written or replaced."),
])
def test_a_cancelled_export_into_a_folder_says_what_was_there(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch,
        before: list[str], said: str) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    for name in before:
        (out / name).write_text("the export before\n", encoding="utf-8")
    assert _cancel_crisismmd(qtbot, demo_like_project, out, monkeypatch) == said
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
