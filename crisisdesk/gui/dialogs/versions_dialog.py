"""The Model versions window: every task's versions, and Make active, at any time.

A retrain's report lists a task's versions too, but only right after a retrain: an
analyst who notices a day later that the new version does worse needs the old one back
without training yet another. The listing is ``core.fusion.versions``' (as
``crisisdesk versions`` prints it); loading and activating run off the GUI thread.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.project import Project
from crisisdesk.gui.detail_header import shown_time
from crisisdesk.gui.dialogs.figure_notes import NOTES
from crisisdesk.gui.dialogs.keep_alive import KeepAlive
from crisisdesk.gui.screen_fit import fit_to_screen
from crisisdesk.gui.worker import Background

if TYPE_CHECKING:
    from crisisdesk.core.fusion.versions import VersionSummary

COLUMNS = ["Version", "Kind", "Reads", "Scored when trained", "Items predicted", "Created"]
VERSION_ROLE = Qt.ItemDataRole.UserRole
#: Why Make active is greyed with no version row picked (a task's row, or none).
NOTHING_PICKED = "Select an older version in the list to make it active again"
#: Why Make active is greyed while an activation runs (here or in the retrain report).
ACTIVATING = "A version is being made active: wait for it to end"


#: A space a line never breaks at: a figure stays with its name when a cell wraps.
NBSP = "\u00a0"


def figures_text(v: VersionSummary) -> str:
    """The registered head's figures as a cell: "dev: acc 85.0%, macro F1 82.7%", each
    figure held to its name (the retrain report's table wraps the cell: "macro F1" ended
    one line and "82.7%" began the next), a count to its word ("3 seeds")."""
    if v.macro_f1 is None or not v.scored_split:
        return "–"
    accuracy = f"acc{NBSP}{v.accuracy:.1%}, " if v.accuracy is not None else ""
    seeds = f" (best of {v.seeds}{NBSP}seeds)" if v.seeds > 1 else ""
    return f"{v.scored_split}: {accuracy}macro{NBSP}F1{NBSP}{v.macro_f1:.1%}{seeds}"


def reads_text(v: VersionSummary) -> str:
    """What the version reads: "image X + text Y", with its variant."""
    reads = " + ".join(f"{kind} {name}" for kind, name in
                       (("image", v.image_encoder), ("text", v.text_encoder)) if name)
    return f"{v.variant or '?'}: {reads}" if reads else (v.variant or "?")


class VersionsDialog(QDialog):
    """Each task's model versions, newest first, the active one in bold."""

    reactivated = Signal(str)  # a task whose active version changed (the window predicts)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.background = Background(self, max_threads=1)
        self.loaded = False
        self._note = ""
        self.keep_alive = KeepAlive(self)  # an activation is told after a close (done)
        self.setWindowTitle(f"Model versions — {project.root.name}")
        self.resize(1060, 420)
        layout = QVBoxLayout(self)
        intro = QLabel("The active version of each task gives the predictions the app "
                       "shows. Make an older version active again to go back to it; the "
                       "items it has not scored are then predicted.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.headerItem().setToolTip(3, NOTES["scored_when_trained"])
        self.tree.setAccessibleName("Model versions by task")
        # A header's tooltip is never read out: the list's description says it.
        self.tree.setAccessibleDescription(NOTES["scored_when_trained"])
        self.tree.currentItemChanged.connect(lambda *_: self._update_button())
        layout.addWidget(self.tree, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.activate = QPushButton("&Make active")
        self.activate.setEnabled(False)
        self.activate.setToolTip(NOTHING_PICKED)  # greyed: say why, from the start
        self.activate.clicked.connect(self.make_active)
        self.close_button = QPushButton("&Close")
        self.close_button.setDefault(True)  # Enter closes; switching takes Alt+M or a click
        self.close_button.clicked.connect(self.accept)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.activate)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        fit_to_screen(self)  # 1060 wide was past the edge of a 911-pixel laptop screen
        self.refresh()

    # ------------------------------------------------------------------ loading
    def refresh(self, note: str = "") -> None:
        """Load every task's versions off the GUI thread; ``note`` stays in the status
        line once they are shown."""
        project, self._note = self.project, note

        def load() -> dict[str, list[VersionSummary]]:
            from crisisdesk.core.fusion.versions import summarise_versions

            with project.open_store() as store:
                return {task: summarise_versions(store, task) for task in store.schemes()}

        self.status.setText(note or "Loading…")
        self.background.call(load, self._show, self._show_error, key="versions")

    def _show(self, by_task: dict[str, list[VersionSummary]]) -> None:
        selected = self.selected()
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        keep: QTreeWidgetItem | None = None
        for task, versions in by_task.items():
            title = f"{task} — no version yet" if not versions else \
                f"{task} — {len(versions)} version{'s' if len(versions) > 1 else ''}" + \
                ("" if any(v.active for v in versions) else ", none active")
            top = QTreeWidgetItem([title])
            self.tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)  # a group title, not a version's name
            top.setFirstColumnSpanned(True)
            for v in versions:
                row = QTreeWidgetItem([
                    f"{v.id}  {v.name}" + ("  (active)" if v.active else ""),
                    v.kind, reads_text(v), figures_text(v), f"{v.predicted:,}",
                    shown_time(v.created_at)])
                row.setData(0, VERSION_ROLE, v)
                if v.active:
                    for column in range(len(COLUMNS)):
                        row.setFont(column, bold)
                if v.missing:
                    row.setForeground(0, self.palette().placeholderText())
                    row.setToolTip(0, f"Cannot be made active: {v.missing}")
                elif v.text_source and v.text_source != "tweet":
                    row.setToolTip(0, f"Read {v.text_source}")
                top.addChild(row)
                if selected is not None and v.id == selected.id:
                    keep = row
            top.setExpanded(True)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self._fit_width()
        if keep is not None:
            self.tree.setCurrentItem(keep)
        self.loaded = True
        self.status.setText(self._note)
        self._update_button()

    def _fit_width(self) -> None:
        """Wide enough for every column (on a real project the Created column was cut
        off at the default size), within the screen with room for the frame (the
        screen's whole width put the frame past its edge)."""
        wanted = sum(self.tree.columnWidth(c) for c in range(len(COLUMNS))) + 60
        if self.width() < wanted:
            self.resize(wanted, self.height())
            fit_to_screen(self)

    def _show_error(self, message: str) -> None:
        # Plain words in a rich-text line: "<unk>" or "a < b" in a message vanished.
        self.status.setText(f"<span style='color:#c62828'>{escape(message)}</span>")

    # ------------------------------------------------------------------ activating
    def selected(self) -> VersionSummary | None:
        """The version of the current row, or None (a task's row, nothing)."""
        item = self.tree.currentItem()
        return item.data(0, VERSION_ROLE) if item is not None else None

    def _update_button(self) -> None:
        v = self.selected()
        # Picking another row while an activation ran lit the button: a second one ran.
        running = self.keep_alive.running
        self.activate.setEnabled(v is not None and not v.active and not v.missing
                                 and not running)
        self.activate.setToolTip(
            ACTIVATING if running else
            NOTHING_PICKED if v is None else
            f"Cannot be made active: {v.missing}" if v.missing else
            f"{v.task}: this version is active" if v.active else
            f"Make {v.name} the active {v.task} version")

    def make_active(self) -> None:
        """Make the selected version its task's active one (its head is checked first)."""
        v = self.selected()
        if v is None or v.active:
            return
        project, version = self.project, v.id

        def activate() -> int:
            from crisisdesk.core.retrain import reactivate_version  # torch: in the worker

            with project.open_store() as store:
                reactivate_version(store, version)
            return version

        def done(_: int) -> None:
            self.reactivated.emit(v.task)
            if not self.keep_alive.closed:
                self.refresh(f"{v.task}: version {v.id} {v.name} is active; the items it "
                             "has not scored are being predicted (see the jobs panel).")

        def failed(message: str) -> None:
            self._show_error(message)
            self._update_button()

        self.keep_alive.call(self.background, activate, done, failed,
                             failed=f"{v.task}: version {v.id} {v.name} was not made "
                                    "active")
        self._update_button()

    def done(self, result: int) -> None:
        """Close; with an activation still running, the dialog is freed only once it
        has ended: freed at once, it dropped the activation's end, and the window never
        predicted the items the version made active had not scored."""
        self.keep_alive.closing()
        super().done(result)
