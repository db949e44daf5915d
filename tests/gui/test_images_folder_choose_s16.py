"""The import dialog's Images folder has a Choose… button: the folder had to be typed
(CrisisMMD's data_image folder, deep in a download), while its sources had Add buttons.
The folder picker is faked (monkeypatched), as for the dialog's other pickers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.import_dialog import ImportDialog


def _choose_button(dialog: ImportDialog) -> QPushButton:
    found = [b for b in dialog.findChildren(QPushButton)
             if b.text().replace("&", "") == "Choose…" and b.isVisibleTo(dialog)]
    assert len(found) == 1, [b.text() for b in dialog.findChildren(QPushButton)]
    return found[0]


def test_choose_fills_the_images_folder_and_cancel_keeps_it(
        qtbot, demo_like_project: Project, tmp_path, monkeypatch) -> None:
    dialog = ImportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    folder = tmp_path / "CrisisMMD_v2.0"
    folder.mkdir()
    asked: list[tuple] = []

    def pick(*args, **kwargs) -> str:
        asked.append(args)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick))
    button = _choose_button(dialog)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert dialog.images_root.text() == str(folder)
    # Chosen again, the picker starts where the field points; cancelled (""), the field
    # keeps its folder.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: asked.append(a) or ""))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert str(folder) in asked[-1]
    assert dialog.images_root.text() == str(folder)
