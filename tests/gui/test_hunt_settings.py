"""Bugs found by driving the settings and the jobs panel as an analyst would: a job
retried after its device was changed in the settings, a settings file that cannot be
written, a hand-edited name with a comma, a stored device or quantization that is none
of the choices, and job titles or progress messages that look like markup."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6 import QtGui
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox
from test_app_jobs import _settings
from window_helpers import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.settings_dialog import (
    SettingsDialog,
    annotator_name,
    setting,
)
from crisisdesk.gui.jobs_panel import JobsPanel


class _FakeEmbed:
    """An EmbedJob that notes the device it was asked for, and fails on ``cuda`` as the
    core does on a machine without a GPU."""

    seen: list[tuple[str, str]] = []

    def __init__(self, project: Project, encoder: str, *, kinds, device: str) -> None:
        self.kind, self.device = kinds[0], device
        _FakeEmbed.seen.append((self.kind, device))

    def run(self) -> Iterator[Progress]:
        if self.device == "cuda":
            raise RuntimeError("--device cuda: no CUDA GPU is usable here")
        yield Progress(1, 1, "", self.device)


def _rows(window, word: str) -> list:
    return [row for row in window.actions_.jobs.rows if word in row.runner.title]


def test_a_job_retried_after_the_device_was_changed_runs_on_the_new_device(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """The row says to choose another device: Retry must use the one chosen since (it
    kept the device read when the job was first started, and failed the same way)."""
    import crisisdesk.core.embed as embed

    _FakeEmbed.seen = []
    monkeypatch.setattr(embed, "EmbedJob", _FakeEmbed)
    _settings(device="cuda")
    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    window.actions_.embed.trigger()
    qtbot.waitUntil(lambda: len(jobs.rows) == 2 and not jobs.running(), timeout=10_000)
    assert [r.runner.state for r in jobs.rows] == ["failed", "failed"]

    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentText("cpu")
    dialog.accept()
    (text_row,) = _rows(window, "texts")
    with qtbot.waitSignal(jobs.job_finished, timeout=10_000) as finished:
        text_row.retry.click()
    assert finished.args[1] == "done", jobs.rows[0].runner.error
    assert _FakeEmbed.seen[-1] == ("text", "cpu")
    assert jobs.rows[0].device.text() == "on the CPU"


def test_settings_that_cannot_be_written_are_said_and_the_dialog_stays(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    """The dialog closed as if saved while nothing was written (the settings folder a
    file, a full or read-only disk): the next job ran with the old settings."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(blocker))
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _parent, _title, text, *a: warned.append(text)))
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.device.setCurrentText("cpu")
    dialog.accept()
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted
    assert len(warned) == 1 and str(blocker / "gui.ini") in warned[0]


def test_a_hand_edited_name_with_a_comma_stays_one_name(qtbot, user_folders) -> None:
    """QSettings reads an unquoted ``a, b`` as a list: labels were given as
    "['Doe', 'Jane']"."""
    user_folders["config"].mkdir()
    (user_folders["config"] / "gui.ini").write_text(
        "[General]\nannotator=Doe, Jane\ncaption_server_model=qwen, vl\n", "utf-8")
    assert annotator_name() == "Doe, Jane"
    assert setting("caption_server_model") == "qwen, vl"
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.annotator.text() == "Doe, Jane"


def test_a_stored_device_that_is_no_choice_fails_the_job_naming_the_setting(
        qtbot, demo_like_project: Project, user_folders, monkeypatch) -> None:
    """``device=gpu`` in a hand-edited file: the dialog showed "auto" while the jobs
    were asked for "gpu" and failed with torch's or the CLI's words (--quant)."""
    import crisisdesk.core.embed as embed

    _FakeEmbed.seen = []
    monkeypatch.setattr(embed, "EmbedJob", _FakeEmbed)
    _settings(device="gpu", quantization="3bit")
    ini = user_folders["config"] / "gui.ini"
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    notice = dialog.problems.text()
    assert dialog.problems.isVisibleTo(dialog)
    assert "device" in notice and "'gpu'" in notice and "quantization" in notice
    assert str(ini) in notice

    window = open_window(qtbot, demo_like_project)
    jobs = window.actions_.jobs
    window.actions_.embed.trigger()
    qtbot.waitUntil(lambda: len(jobs.rows) == 2 and not jobs.running(), timeout=10_000)
    window.actions_.caption.trigger()
    qtbot.waitUntil(lambda: len(jobs.rows) == 3 and not jobs.running(), timeout=10_000)
    assert _FakeEmbed.seen == []  # no job was started on a device nobody chose
    for row in jobs.rows:
        assert row.runner.state == "failed"
        assert str(ini) in row.runner.error
        assert "auto, cpu, cuda" in row.runner.error or "auto, none, 8bit, 4bit" in \
            row.runner.error
        assert "--" not in row.runner.error  # no command-line option in the app

    dialog.accept()  # saving what the dialog shows puts valid values back
    assert setting("device") == "auto" and setting("quantization") == "auto"
    again = SettingsDialog()
    qtbot.addWidget(again)
    assert not again.problems.isVisibleTo(again)


def _shown(label: QLabel) -> str:
    """The text a label paints (markup rendered when Qt takes it for rich text)."""
    text, rich = label.text(), QtGui.Qt.TextFormat.RichText
    if label.textFormat() == rich or (label.textFormat() == QtGui.Qt.TextFormat.AutoText
                                      and QtGui.Qt.mightBeRichText(text)):
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def test_titles_and_progress_messages_are_shown_as_written(qtbot) -> None:
    """A file named ``R&D <team>.csv`` lost ``<team>`` in its row's title, and a
    progress message with a tag in it was painted as markup (the rest of it lost)."""
    panel = JobsPanel()
    qtbot.addWidget(panel)
    gate = threading.Event()
    message = "reading <b>old</b> posts & a <p> tag"

    def body() -> Iterator[Progress]:
        yield Progress(1, 2, message, "cpu")
        gate.wait(10)
        yield Progress(2, 2, "", "cpu")

    runner = panel.run("Import R&D <team>.csv", body)
    row = panel.row_of(runner)
    qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
    assert _shown(row.title) == "Import R&D <team>.csv"
    assert _shown(row.message) == message
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.cancel()
        gate.set()
    assert _shown(row.message).startswith("Cancelled")


def test_cuda_without_a_gpu_is_said_in_the_app_words(qtbot, monkeypatch) -> None:
    """The row said "use --device cpu or auto": an option the analyst never typed, where
    the device is chosen in the settings. Still an error, never a fall back to the CPU."""
    import torch

    from crisisdesk.core.captions import factory as caption_factory
    from crisisdesk.core.encoders import factory as encoder_factory

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    panel = JobsPanel()
    qtbot.addWidget(panel)
    for resolve in (encoder_factory.resolve_device, caption_factory.resolve_device):
        def body(resolve=resolve) -> Iterator[Progress]:
            yield Progress(0, 0, "", resolve("cuda"))

        runner = panel.run("Embed texts (minilm)", body)
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            pass
        assert runner.state == "failed"
        shown = _shown(panel.row_of(runner).message)
        assert "no CUDA GPU is usable here" in shown
        assert "--device" not in shown and "Settings" in shown, shown


def test_a_registered_folder_that_vanished_is_marked_in_the_dialog(qtbot, tmp_path) -> None:
    """The list showed a vanished registration as any other, while every job needing
    the model stops on it (``models list`` says "missing")."""
    from crisisdesk.core.models import registry

    gone = tmp_path / "usb" / "clip-l14.safetensors"
    gone.parent.mkdir()
    gone.write_bytes(b"w")
    registry.register("clip-vit-l-14", gone)
    gone.unlink()
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    (row,) = [dialog.models.topLevelItem(i) for i in range(dialog.models.topLevelItemCount())]
    assert row.text(0) == "clip-vit-l-14"
    assert str(gone) in row.text(2) and "missing" in row.text(2)


def test_a_long_or_marked_up_annotator_name_leaves_the_status_bar_room(
        qtbot, demo_like_project) -> None:
    """A 3,000-character name filled the status bar (its messages had no room left), and
    a name with markup was drawn as markup."""
    from PySide6.QtCore import Qt

    from crisisdesk.gui.main_window import ANNOTATOR_SHOWN, MainWindow

    long_name = "<b>Ana</b> " + "x" * 3000
    window = MainWindow(demo_like_project, annotator=long_name)
    qtbot.addWidget(window)
    label = window.annotator_label
    assert label.text().startswith("Annotator: <b>Ana</b> x")
    assert len(label.text()) <= len("Annotator: ") + ANNOTATOR_SHOWN
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert long_name in label.toolTip()
    assert window.labeller.annotator == long_name  # labels still carry the whole name
