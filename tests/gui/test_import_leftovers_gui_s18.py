"""The import dialog after a walk-through with a real CrisisMMD split: its file filter
left out a split file Excel saved as "Unicode Text" (.txt), a collector file added with
"Detect from the files" was refused for want of an id column, and a second import of the
same file said only "0 new posts, 0 new items"."""

from __future__ import annotations

import fnmatch
import re
import zipfile
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from test_import_collectors import build_bluesky_search, build_twarc

from crisisdesk.core.importers.job import SourceError, detect_format
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.import_dialog import ImportDialog

SPLIT = ("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
         "flood\t100\t100_0\tRiver over the road\tdata_image/flood/100_0.jpg\tsevere_damage\n")


def _posts_filter(qtbot, project: Project, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The patterns of the filter Add files… opens with (its first: the posts)."""
    asked: list[str] = []

    def fake(parent, caption, folder, filters, *args, **kwargs):
        asked.append(filters)
        return [], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake))
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog._pick_files()
    first = asked[0].split(";;")[0]
    return re.search(r"\((.*)\)", first)[1].split()


def _shown(name: str, patterns: list[str]) -> bool:
    # A file dialog matches its patterns regardless of case.
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in patterns)


def _sources(folder: Path) -> list[Path]:
    """One file of each kind the importer tells by itself, and a note it cannot."""
    folder.mkdir()
    files = {"table.csv": "id,text\n1,a\n", "table.tsv": "id\ttext\n1\ta\n",
             "posts.jsonl": '{"id": "1", "text": "a"}\n', "posts.ndjson": '{"id": "1"}\n',
             "posts.json": '[{"id": "1", "text": "a"}]',
             "task_damage_text_img_dev.tsv": SPLIT,
             # Excel's "Unicode Text": UTF-16 with a BOM, named .txt.
             "task_damage_text_img_dev.txt": SPLIT, "notes.txt": "call the shelter\n"}
    for name, text in files.items():
        (folder / name).write_text(text, "utf-16" if name.endswith(".txt") else "utf-8")
    with zipfile.ZipFile(folder / "drive.zip", "w") as archive:
        archive.writestr("table.csv", "id,text\n1,a\n")
    return sorted(folder.iterdir())


def test_add_files_shows_every_file_the_import_reads_and_no_other(
        qtbot, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patterns = _posts_filter(qtbot, project, monkeypatch)
    for path in _sources(tmp_path / "in"):
        try:
            detect_format(path)
            read = True
        except SourceError:
            read = False
        assert _shown(path.name, patterns) == read, (path.name, read, patterns)


@pytest.mark.parametrize("build", [build_twarc, build_bluesky_search])
def test_a_collector_file_is_imported_with_format_detected(
        qtbot, project: Project, tmp_path: Path, build) -> None:
    # Its JSON was taken for a table of posts with no id column: Import was refused.
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(build(tmp_path / "collected.json"))
    # The look at its columns (a background call) has answered.
    qtbot.waitUntil(lambda: "columns" not in dialog.background._latest, timeout=5000)
    assert not dialog.mapping_box.isVisibleTo(dialog)  # a collector file has no columns
    with qtbot.waitSignal(dialog.imported, timeout=20_000) as imported:
        assert dialog.start_import() is not None, dialog.status.text()
    assert imported.args[0].posts_added > 0


def test_a_tsv_table_offers_its_columns(qtbot, project: Project, tmp_path: Path) -> None:
    # A .tsv was taken for a CrisisMMD split: a table with odd headers ran to the import's
    # error naming the command line's --map.
    table = tmp_path / "sheet.tsv"
    table.write_text("ident\twords\n1\tBridge down\n", "utf-8")
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    assert dialog.mapping_box.isVisibleTo(dialog)
    qtbot.waitUntil(lambda: dialog.columns["id"].count() == 3, timeout=5000)
    assert dialog.unpicked_required() == ["id", "text"]


def test_a_second_import_says_its_rows_are_already_in_the_project(
        qtbot, project: Project, tmp_path: Path) -> None:
    split = tmp_path / "task_damage_text_img_dev.tsv"
    split.write_text(SPLIT, "utf-8")
    for _ in range(2):
        dialog = ImportDialog(project)
        qtbot.addWidget(dialog)
        dialog.add_source(split)
        with qtbot.waitSignal(dialog.imported, timeout=20_000):
            dialog.start_import()
    assert "1 row already in the project" in dialog.status.text(), dialog.status.text()
