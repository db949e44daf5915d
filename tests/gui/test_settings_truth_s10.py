"""The Settings dialog as a locked-down laptop meets it: an annotator name pasted with a
line break, and a model folder added while the settings folder's disk is full."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_hunt_models import _clip_folder
from test_models_offline_s10 import disk_full

from crisisdesk.core.models import registry
from crisisdesk.gui.dialogs.settings_dialog import (
    SettingsDialog,
    annotator_name,
    app_settings,
    setting,
)


def test_an_annotator_name_pasted_with_line_breaks_is_saved_as_one_line(qtbot) -> None:
    """A name pasted from an e-mail ("Ana\\nMaria") was saved and given to every label as
    two lines: the journal filed those labels apart from "Ana Maria"'s."""
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.annotator.setText("Ana\nMaria\r\n")  # what a paste leaves in the line edit
    assert dialog.save()
    assert setting("annotator") == "Ana Maria"
    assert annotator_name() == "Ana Maria"


def test_a_hand_edited_annotator_with_a_line_break_is_one_line(qtbot) -> None:
    store = app_settings()
    store.setValue("annotator", "Ana\n\tMaria")
    store.sync()
    assert annotator_name() == "Ana Maria"
    store.setValue("annotator", "  Jean  Dupont ")  # typed: kept as typed, stripped
    store.sync()
    assert annotator_name() == "Jean  Dupont"


def test_adding_a_model_folder_on_a_full_disk_says_so(qtbot, tmp_path, monkeypatch) -> None:
    """The OSError of a models.json that cannot be written escaped the button's slot:
    nothing was said, and nothing was registered."""
    folder = _clip_folder(tmp_path / "clip")
    said: list[str] = []
    monkeypatch.setattr(registry, "write_settings", disk_full)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: said.append(text))
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.model_name.setCurrentText("field-clip")
    assert dialog.add_model_folder() is False
    (text,) = said
    assert "models.json cannot be written (No space left on device)" in text
    assert "field-clip was not registered" in text
    assert Path(folder).exists() and registry.registered_paths() == {}


def test_a_model_name_with_an_apostrophe_still_gets_its_local_folder_button(
        tmp_path) -> None:
    """Python quotes such a name in double quotes ("model \\"o'neil-clip\\" is ..."): the
    jobs panel read names in single quotes only, and offered no way to fix the job."""
    from types import SimpleNamespace

    from crisisdesk.core.models import registry
    from crisisdesk.gui.job_row import missing_model

    error = registry.ModelMissing(f"model {'o' + chr(39) + 'neil-clip'!r} is not installed")
    runner = SimpleNamespace(exception=error, error="")
    assert missing_model(runner) == "o'neil-clip"


def test_the_command_line_annotator_is_one_line_as_in_the_app(tmp_path) -> None:
    import argparse

    import pytest

    from crisisdesk.cli import _annotator

    assert _annotator("Ana\nMaria") == "Ana Maria"
    assert _annotator("  Ana Maria ") == "Ana Maria"
    with pytest.raises(argparse.ArgumentTypeError):
        _annotator(" \n ")
