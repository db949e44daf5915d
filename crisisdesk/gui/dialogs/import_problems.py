"""The import dialog's list of an import report's problems: one row per problem
(severity, file, row, message), errors in dark red, messages wrapped whole, the whole
path and message in tooltips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTreeWidget, QTreeWidgetItem

from crisisdesk.core.importers import Problem
from crisisdesk.gui.advice import os_words

FILE, MESSAGE = 1, 3  # the columns of the file's name and of the problem's words
TOP_LEFT = Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft
#: The most characters' room the file's column takes of the messages' room.
FILE_CHARS = 28
#: The rows wrapped whole: the report's words on a whole file come first, and fitting
#: every row of a file of 20,000 bad rows took seconds at each resize (the others keep
#: one line each, their whole message in the tooltip and the saved report).
FIT_ROWS = 200


def problems_tree() -> QTreeWidget:
    """An empty, hidden list of problems (shown once a report has any)."""
    tree = QTreeWidget()
    tree.setHeaderLabels(["Severity", "File", "Row", "Problem"])
    tree.setRootIsDecorated(False)
    # Wrapped, not cut: a warning's advice comes last ("…give the source name
    # crisismmd"), and was in a tooltip only, out of the keys' reach.
    tree.setWordWrap(True)
    tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long file name keeps its end
    # A tree view sizes a row to one line of each cell whatever its wrapping (Qt leaves
    # the column's width out): each row is given its message's height here, again
    # whenever a column's width changes (the columns fitted to their contents, the
    # window made narrower).
    fit = QTimer(tree)
    fit.setSingleShot(True)
    fit.setInterval(0)  # once per round of events, not per resize
    fit.timeout.connect(lambda: _fit_rows(tree))
    tree.header().sectionResized.connect(lambda *_: fit.start())
    tree.setVisible(False)
    return tree


def _fit_rows(tree: QTreeWidget) -> None:
    """Make the first FIT_ROWS rows of ``tree`` as tall as their messages wrapped in the
    message column."""
    margin = tree.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, tree) + 1
    width = max(1, tree.header().sectionSize(MESSAGE) - 2 * margin)
    metrics = tree.fontMetrics()
    for row in range(min(tree.topLevelItemCount(), FIT_ROWS)):
        item = tree.topLevelItem(row)
        wrapped = metrics.boundingRect(QRect(0, 0, width, 1 << 20),
                                       int(Qt.TextFlag.TextWordWrap), item.text(MESSAGE))
        height = max(wrapped.height(), metrics.height())
        if item.sizeHint(MESSAGE).height() != height:
            item.setSizeHint(MESSAGE, QSize(width + 2 * margin, height))


def show_problems(tree: QTreeWidget, problems: Sequence[Problem]) -> None:
    """Fill ``tree`` with ``problems``; shown only when there are any."""
    tree.clear()
    for number, problem in enumerate(problems):
        message = os_words(problem.message)  # "[Errno 28]": a number, not words
        row = QTreeWidgetItem([problem.severity, Path(problem.where.file).name,
                               "" if problem.where.row is None else str(problem.where.row),
                               message])
        for column in range(MESSAGE + 1 if number < FIT_ROWS else 0):
            row.setTextAlignment(column, TOP_LEFT)  # by a wrapped message's first line
        row.setToolTip(1, problem.where.file)
        row.setToolTip(3, message)
        if problem.severity == "error":
            row.setForeground(0, Qt.GlobalColor.darkRed)
        tree.addTopLevelItem(row)
    # A row of many lines is read a pixel at a time: scrolled by whole rows, the end of
    # one taller than the list could not be reached. (Per pixel, the view measures every
    # row first: half a second more for 20,000.)
    tree.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel
                               if len(problems) <= FIT_ROWS else
                               QAbstractItemView.ScrollMode.ScrollPerItem)
    tree.setVisible(bool(problems))
    for column in range(3):
        tree.resizeColumnToContents(column)
    # A long file name took the room of the messages (100 pixels of them at 1.5 times
    # the font, a line for every word): its whole path is in its tooltip.
    most = FILE_CHARS * tree.fontMetrics().averageCharWidth()
    tree.setColumnWidth(FILE, min(tree.columnWidth(FILE), most))
    _fit_rows(tree)  # the columns' widths may be as they were: no resize to fit them
