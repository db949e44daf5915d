"""The import dialog's Source name is checked before the import starts: a ``:`` (the
separator of item ids) or a control or bidi character was used as typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QTextDocument

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.import_dialog import ImportDialog


@pytest.mark.parametrize(("name", "char"), [("a:b", "':'"), ("x\u202ey", "U+202E")])
def test_the_dialog_says_which_character_and_imports_nothing(
        qtbot, project: Project, tmp_path: Path, name: str, char: str) -> None:
    table = tmp_path / "posts.csv"
    table.write_text("id,text\n1,bridge down\n", encoding="utf-8")
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    dialog.source_name.setText(name)
    assert dialog.start_import() is None
    page = QTextDocument()
    page.setHtml(dialog.status.text())  # as the label shows it (rich text)
    shown = page.toPlainText()
    assert "Source name" in shown and char in shown, shown
    assert "<source>:<post id>:<n>" in shown or char != "':'", shown
    assert dialog.start.isEnabled()  # fixed, the analyst imports again
    with project.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
