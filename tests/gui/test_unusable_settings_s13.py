"""Settings the app cannot use, said once at start: a device with no GPU behind it, a
quantization word the app does not know, a model folder that is gone. Before, each was
said only when Settings was opened or a job failed on it. And values a hand edit or
another Qt program wrote as ``@ByteArray(...)`` were read as Python's repr ("b'abc'")."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QMessageBox
from test_app_jobs import _settings

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.settings_dialog import (
    DEFAULTS,
    SETTINGS_FILE,
    SettingsDialog,
    annotator_name,
    choice,
    setting,
)
from crisisdesk.gui.launch_notice import LaunchNotice
from crisisdesk.gui.main_window import MainWindow


def _write_ini(user_folders, body: str) -> None:
    user_folders["config"].mkdir(parents=True, exist_ok=True)
    (user_folders["config"] / SETTINGS_FILE).write_text(f"[General]\n{body}", "utf-8")


def test_byte_array_values_are_read_as_their_text(user_folders) -> None:
    """``captioner=@ByteArray(abc)`` asked the caption job for a model named "b'abc'"."""
    _write_ini(user_folders, "captioner=@ByteArray(abc)\n"
               "annotator=@ByteArray(\\xc3\\xa9t\\xc3\\xa9 Doe)\n"
               "device=@ByteArray(cpu)\nblur_all=@ByteArray(on)\n")
    assert setting("captioner") == "abc"
    assert annotator_name() == "\u00e9t\u00e9 Doe"
    assert choice("device") == "cpu"
    assert setting("blur_all") is True


@pytest.mark.parametrize("stored", ["@ByteArray(\\xff\\xfeabc)", "@Rect(1 2 3 4)"])
def test_a_value_that_holds_no_text_keeps_the_default_and_is_said(
        qtbot, user_folders, stored: str) -> None:
    """Bytes that are not UTF-8, or a value of another type, were read as their repr
    ("PySide6.QtCore.QRect(1, 2, 3, 4)" as the image encoder's name)."""
    _write_ini(user_folders, f"image_encoder={stored}\n")
    assert setting("image_encoder") == DEFAULTS["image_encoder"]
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.problems.isVisibleTo(dialog)
    assert "image_encoder" in dialog.problems.text()
    assert DEFAULTS["image_encoder"] in dialog.problems.text()


def _notices(window: MainWindow) -> list[LaunchNotice]:
    return [n for n in window.findChildren(LaunchNotice) if n.isVisibleTo(window)]


def _start(qtbot, project: Project, monkeypatch) -> MainWindow:
    """A main window opened as the app opens it (with the background preload)."""
    from crisisdesk.gui import window_actions

    monkeypatch.setattr(window_actions, "preload_job_modules", lambda: {})
    # Said without blocking: a message box here would fail the test.
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, lambda *a, **k: pytest.fail("a dialog"))
    window = MainWindow(project, annotator="tester", preload=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.actions_.preloaded is not None)
    return window


def test_settings_the_app_cannot_use_are_said_once_at_start(
        qtbot, demo_like_project: Project, user_folders, tmp_path, monkeypatch) -> None:
    import torch

    from crisisdesk.core.models import registry

    checked_in: list[int] = []

    def no_cuda() -> bool:
        checked_in.append(threading.get_ident())
        return False

    monkeypatch.setattr(torch.cuda, "is_available", no_cuda)
    gone = tmp_path / "usb" / "clip-l14.safetensors"
    gone.parent.mkdir()
    gone.write_bytes(b"w")
    registry.register("clip-vit-l-14", gone)
    gone.unlink()
    _settings(device="cuda", quantization="3bit", image_encoder="clip-vit-l-14")

    window = _start(qtbot, demo_like_project, monkeypatch)
    qtbot.waitUntil(lambda: len(_notices(window)) == 1, timeout=10_000)
    text = _notices(window)[0].label.text()
    ini = str(user_folders["config"] / SETTINGS_FILE)
    assert ini in text
    assert "device = 'cuda'" in text and "no CUDA GPU is usable here" in text
    assert "quantization = '3bit'" in text and "auto, none, 8bit, 4bit" in text
    assert "image_encoder = 'clip-vit-l-14'" in text and str(gone) in text
    assert "stop" in text  # what happens instead: the jobs stop, no silent fall back
    # The CUDA check (torch) ran off the UI thread.
    assert checked_in and threading.get_ident() not in checked_in

    window.sort.setCurrentIndex(1)  # a new page loads: said once, not again
    qtbot.waitUntil(lambda: window.model.sort == window.sort.itemData(1)
                    and not window.background.busy())
    assert len(_notices(window)) == 1


def test_usable_settings_leave_no_note(qtbot, demo_like_project: Project,
                                       monkeypatch) -> None:
    _settings(device="cpu", quantization="none")
    window = _start(qtbot, demo_like_project, monkeypatch)
    qtbot.waitUntil(lambda: not window.background.busy())
    assert _notices(window) == []
