"""The import dialog's report as an analyst read it after importing an export back into
its project (session 18): the problem list gave each problem one line, and the "filed
again" warning was cut after "…filed again under source harvey_all_l…", its advice (give
the source name crisismdd) in a tooltip only, out of the keys' reach; the missing images'
advice likewise. At the usual font and at 1.5 times it, in the dialog's own size and on
a 1366 x 768 screen.

Checked on what Qt lays out: each problem's text measured with the list's font against
the room its cell is given."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel, QTreeWidget
from test_dialog_words_s16 import font_scale  # noqa: F401 - the fixture, used by name

from crisisdesk.core.importers import ImportReport
from crisisdesk.core.importers.records import Problem, Where
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.import_dialog import ImportDialog

FILE = "/data/harvey/harvey_all_labels_export_2017-09-01.csv"
FILED_AGAIN = (
    "2 posts of source crisismmd, already in this project, filed again under source "
    "harvey_all_labels_export_2017-09-01 as new posts (each is in the project twice now); "
    "to add such a file to crisismmd's posts instead, give the source name crisismmd (the "
    "import dialog's Source name, the CLI's --source crisismmd)")
MISSING = ("3 images of 2 posts not found under /data/harvey: the posts are kept, their "
           "images marked missing; import again with the folder that holds the images as "
           "the images folder (the import dialog's Images folder, the CLI's --images-root) "
           "to attach them")


def _cut(tree: QTreeWidget, row: int, column: int) -> bool:
    """Whether the cell's text is cut (wider or taller than its cell, as wrapped)."""
    index = tree.model().index(row, column)
    room = tree.visualRect(index).adjusted(3, 0, -3, 0)  # the cell's text margins
    text = tree.topLevelItem(row).text(column)
    needed = tree.fontMetrics().boundingRect(QRect(0, 0, room.width(), 100_000),
                                             int(Qt.TextFlag.TextWordWrap), text)
    return needed.width() > room.width() or needed.height() > room.height()


@pytest.mark.parametrize("size", [None, (1366, 768)], ids=["own size", "1366x768"])
def test_the_problems_of_an_export_imported_back_show_whole(
        qtbot, font_scale, project: Project, size) -> None:
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    if size:
        dialog.resize(*size)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.show_report(ImportReport(records=3, posts_added=2, problems=[
        Problem(Where(FILE), FILED_AGAIN, "warning"), Problem(Where(FILE), MISSING,
                                                              "warning")]))
    QApplication.processEvents()
    tree = dialog.problems
    for row in range(tree.topLevelItemCount()):
        tree.scrollToItem(tree.topLevelItem(row))
        QApplication.processEvents()
        assert not _cut(tree, row, 3), tree.topLevelItem(row).text(3)


def test_the_sources_stay_at_the_top_when_the_columns_box_goes(
        qtbot, project: Project, tmp_path) -> None:
    """A table added (its Columns box shown), then a twarc file in its place: the box hid,
    the dialog kept its height, and the sources list floated in the middle of a row
    grown to the freed room, far below its label and its Add buttons."""
    from test_import_collectors import build_twarc

    table = tmp_path / "sheet.csv"
    table.write_text("id,text\n1,Bridge down\n", "utf-8")
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(table)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.mapping_box.isVisible()
    dialog.sources.clear()
    dialog.add_source(build_twarc(tmp_path / "collected.json"))
    qtbot.waitUntil(lambda: not dialog.mapping_box.isVisible(), timeout=5000)
    QApplication.processEvents()
    label = next(label for label in dialog.findChildren(QLabel)
                 if label.buddy() is dialog.sources)  # "Sources"
    assert dialog.sources.y() - label.y() < label.height(), (label.y(), dialog.sources.y())
