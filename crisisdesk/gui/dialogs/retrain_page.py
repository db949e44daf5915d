"""One task's tab of the retrain report: the new model version against the active one.

The headline (macro F1 of both, the recommendation), the per-class F1 as bars, both
confusion matrices as heat grids (side by side where the tab is wide enough), the
override box of a task whose new version is worse, and the task's versions with a button
that makes an older one active again. The report around it
(:mod:`~crisisdesk.gui.dialogs.retrain_dialog`) switches and re-activates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.dialogs.charts import ConfusionGrid, F1Bars
from crisisdesk.gui.dialogs.figure_notes import NOTES, NotesLabel, explain, note_link
from crisisdesk.gui.dialogs.retrain_headline import headline
from crisisdesk.gui.dialogs.versions_dialog import figures_text
from crisisdesk.gui.wrapping import WrappedColumn

#: About how many characters of a version's name its column is wide at most (a default
#: name, "humanitarian-guided_diff-20261128-134131 (new)", fits whole); a longer
#: name wraps (the whole name is in its tooltip and what a screen reader reads).
NAME_CHARS = 48

if TYPE_CHECKING:  # the core modules import torch: the report loads them only in a worker
    from crisisdesk.core.fusion.versions import VersionSummary
    from crisisdesk.core.retrain import TaskRetrain
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


class TaskPage(QWidget):
    """One task's comparison, override box and versions list."""

    def __init__(self, dialog: RetrainDialog, entry: TaskRetrain) -> None:
        super().__init__(dialog)
        self.dialog, self.entry, self.task = dialog, entry, entry.task
        self.left: str | None = None  # why Switch leaves this task as it is (leave_as_is)
        self.new_grid: ConfusionGrid | None = None
        self.active_grid: ConfusionGrid | None = None
        # Side by side, or one under the other where the page is too narrow (see fit).
        self.grids = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        layout = QVBoxLayout(self)
        # Its terms' "?" links say what each figure measures.
        self.headline = NotesLabel(headline(entry))
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)
        new, current = entry.new, entry.current
        if new is not None:
            classes = list(new["classes"])
            bars = QGroupBox("F1 per class on the holdout")
            explain(bars, "per_class_f1")
            row = QHBoxLayout(bars)
            row.addWidget(F1Bars(
                classes, [new["per_class"][c]["f1"] for c in classes],
                [current["per_class"][c]["f1"] for c in classes] if current else None), 1)
            # Beside the chart, not a row of its own: the report is short of height.
            row.addWidget(note_link("per_class_f1", "F1 per class"), 0,
                          Qt.AlignmentFlag.AlignTop)
            layout.addWidget(bars)
            grids = self.grids
            self.new_grid = ConfusionGrid("New version", classes, new["confusion"])
            # A tooltip only: the grid's description holds its counts (see ConfusionGrid).
            self.new_grid.setToolTip(f"{entry.candidate_name}\n{NOTES['confusion']}")
            grids.addWidget(self.new_grid)
            if current is not None:
                self.active_grid = ConfusionGrid("Active version", classes,
                                                 current["confusion"])
                self.active_grid.setToolTip(
                    f"{entry.active_name or 'The active version'}\n{NOTES['confusion']}")
                grids.addWidget(self.active_grid)
            grids.addStretch(1)
            matrices = QGroupBox("Confusion matrices (rows: true class, columns: predicted)")
            explain(matrices, "confusion")
            row = QHBoxLayout(matrices)
            row.addLayout(grids, 1)
            row.addWidget(note_link("confusion", "a confusion matrix"), 0,
                          Qt.AlignmentFlag.AlignTop)
            layout.addWidget(matrices)

        self.override = QCheckBox("Switch to the new version &anyway (override)")
        layout.addWidget(self.override)
        # Set once the layout gave it its parent: shown before, it was a window of its own.
        self.override.setVisible(self.offers_override())

        versions = QGroupBox("&Versions of this task")
        box = QVBoxLayout(versions)
        self.versions = QTreeWidget()
        self.versions.setHeaderLabels(["Version", "Created", "Scored when trained", "Active"])
        # The registered head's figures, as `crisisdesk versions` and the Model versions
        # window give them (the mean over the seeds here made one version two figures).
        self.versions.headerItem().setToolTip(2, NOTES["scored_when_trained"])
        # A header's tooltip is never read out: the list's description says it.
        self.versions.setAccessibleDescription(NOTES["scored_when_trained"])
        self.versions.setRootIsDecorated(False)
        # The figures take the room the names and times leave, wrapped there: sized to
        # their text, the columns were wider than the report's default size and the
        # table scrolled sideways, "Scored when trained" cut off. A name is at most
        # NAME_CHARS wide (see _fit_names), wrapped: a 60-character one did the same.
        header = self.versions.header()
        header.setStretchLastSection(False)
        for column, mode in enumerate((QHeaderView.ResizeMode.Interactive,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.ResizeToContents)):
            header.setSectionResizeMode(column, mode)
        self.versions.setWordWrap(True)
        for column in (0, 2):
            self.versions.setItemDelegateForColumn(column,
                                                   WrappedColumn(self.versions, column))
        # The rows' heights follow the names' and figures' columns as they change width.
        header.sectionResized.connect(lambda column, _old, _new: column in (0, 2) and
                                      self.versions.doItemsLayout())
        self.versions.setMaximumHeight(160)  # four versions, their figures on two lines
        self.reactivate = QPushButton("&Make the selected version active")
        # Never Enter's button: the dialog would make it the default when no other is.
        self.reactivate.setAutoDefault(False)
        self.reactivate.clicked.connect(self._reactivate)
        box.addWidget(self.versions)
        box.addWidget(self.reactivate, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(versions)
        layout.addStretch(1)
        self._side_by_side = self.minimumSizeHint().width()  # the page's, grids side by side

    def fit(self, width: int) -> None:
        """Lay the confusion matrices side by side when the page's ``width`` holds both,
        else one under the other: side by side, a five-class task's pair was wider than
        the report, and the whole page scrolled sideways, its headline cut off."""
        wide = width >= self._side_by_side
        direction = QBoxLayout.Direction.LeftToRight if wide else \
            QBoxLayout.Direction.TopToBottom
        if self.grids.direction() != direction:
            self.grids.setDirection(direction)

    def wants_switch(self) -> bool:
        """Whether Switch activates this task's new version."""
        return self.entry.candidate is not None and self.left is None and (
            self.entry.recommend_switch or self.override.isChecked())

    def leave_as_is(self, why: str | None) -> None:
        """Switch leaves this task as it is (a report opened again whose new version was
        deleted, or is active already): ``why`` is said above the tabs. None: Switch may
        switch it again (the version compared with made active again), its override
        box back where the task's new version is worse."""
        self.left = why
        # A report opened again says why above its tabs (five lines for a damaged file):
        # not said twice.
        said = "the note above the tabs says why" if self.dialog.saved is not None else why
        self.headline.setText(headline(self.entry, said if why else None))
        self.override.setChecked(False)
        self.override.setVisible(why is None and self.offers_override())

    def offers_override(self) -> bool:
        """Whether the task has a new version that is worse: its override box shows."""
        return self.entry.candidate is not None and not self.entry.recommend_switch

    def show_versions(self, versions: list[VersionSummary]) -> None:
        """Fill the versions list (``summarise_versions``, newest first)."""
        self.versions.clear()
        for v in versions:
            new = " (new)" if v.id == self.entry.candidate else ""
            item = QTreeWidgetItem([v.name + new, shown_time(v.created_at),
                                    figures_text(v), "yes" if v.active else ""])
            item.setData(0, Qt.ItemDataRole.UserRole, v.id)
            item.setToolTip(0, v.name + new)  # whole where the column wraps it
            self.versions.addTopLevelItem(item)
        self._fit_names()

    def _fit_names(self) -> None:
        """The names' column as wide as the longest name, up to NAME_CHARS characters."""
        metrics = self.versions.fontMetrics()
        names = (self.versions.topLevelItem(i).text(0)
                 for i in range(self.versions.topLevelItemCount()))
        # The padding of a cell: the style's margins either side, and a little air.
        padding = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 12
        wanted = max((metrics.horizontalAdvance(name) + padding for name in names),
                     default=0)
        header = self.versions.header()
        wanted = max(wanted, header.sectionSizeHint(0))
        # What the other columns leave, the figures keeping room for a dozen characters
        # (they wrap): at a large font NAME_CHARS alone pushed the table sideways.
        others = sum(max(header.sectionSizeHint(c), self.versions.sizeHintForColumn(c))
                     for c in (1, 3))
        left = self.versions.viewport().width() - others - 12 * metrics.averageCharWidth()
        cap = min(NAME_CHARS * metrics.averageCharWidth(),
                  max(left, 12 * metrics.averageCharWidth()))
        self.versions.setColumnWidth(0, min(wanted, cap))

    def _reactivate(self) -> None:
        item = self.versions.currentItem()
        if item is not None:
            self.dialog.reactivate(self.task, int(item.data(0, Qt.ItemDataRole.UserRole)))
