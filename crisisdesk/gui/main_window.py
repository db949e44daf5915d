"""The main window: queues on the left, the item list in the centre, the detail panel on
the right, the jobs panel docked below, and keyboard labelling over all of it.

The UI thread only paints and reacts: every store query, image decode and label write
goes through the window's :class:`Background`; jobs run through the jobs panel's runners.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.project import Project, ProjectError
from crisisdesk.core.review import Queue
from crisisdesk.core.settings import user_data_dir
from crisisdesk.core.words import plural
from crisisdesk.gui import gc_guard, save_warning, style, unsaved_labels
from crisisdesk.gui.announce import announce
from crisisdesk.gui.current_row import CurrentRow
from crisisdesk.gui.detail_panel import DetailPanel
from crisisdesk.gui.dialogs.settings_dialog import annotator_name, settings_saved
from crisisdesk.gui.help_overlay import HelpOverlay
from crisisdesk.gui.item_list import ItemList
from crisisdesk.gui.item_model import ItemModel
from crisisdesk.gui.keys import KeyFilter
from crisisdesk.gui.labelling import Labeller, Targets, selected_targets
from crisisdesk.gui.list_title import empty_list_text, list_title
from crisisdesk.gui.queue_panel import QUEUE_ROLE, QUEUE_WIDTH, QueuePanel, QueueSplitter
from crisisdesk.gui.scheme_warning import SchemeWarning
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.window_actions import WindowActions
from crisisdesk.gui.worker import Background

SORTS = (("Priority", "priority"), ("Time", "time"), ("Confidence", "confidence"))
SEARCH_DELAY_MS = 250  # typing pauses this long before the list is queried
ANNOTATOR_SHOWN = 40  # characters of the annotator name the status bar shows


class MainWindow(CurrentRow, QMainWindow):
    """One project open for review (its item list's current row, kept across refreshes:
    :class:`~crisisdesk.gui.current_row.CurrentRow`)."""

    def __init__(self, project: Project, *, annotator: str | None = None,
                 preload: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Qt objects must die on this thread: collect garbage here only (see gc_guard).
        gc_guard.install()
        self.project = project
        #: Import the jobs' libraries in the background once the first page is painted
        #: (the app does; tests and embedders opt in).
        self.preload_libraries = preload
        self.setWindowTitle(f"{project.root.name} — crisisdesk")
        self.setStyleSheet(style.STYLE_SHEET)
        self.background = Background(self)
        self.thumbnails = ThumbnailCache(self.background, style.THUMB_SIZE, self)
        self.model = ItemModel(project, self.background, self.thumbnails, self)
        self.labeller = Labeller(project, self.background, annotator or annotator_name(),
                                 self)

        # Every task of the project, its own included: read with the counts, in the
        # background (no store query on this thread).
        self.queues = QueuePanel(project, self.background, None)
        self.items = ItemList(thumbnails=self.thumbnails)
        self.items.setModel(self.model)
        self.items.setAccessibleName("Items")  # unnamed, a screen reader said only "table"
        self.search = QLineEdit()
        self.search.setAccessibleName("Search")
        # Short, to fit the box at a large font (it was cut to "Search text, captions,
        # alt tex…", its key lost); the whole of it is in the tooltip, and said.
        self.search.setPlaceholderText("Search posts (Ctrl+F)")
        what = ("Finds the items whose post text, image caption or image description (alt"
                " text) holds what is typed. Ctrl+F comes here.")
        self.search.setToolTip(what)
        self.search.setAccessibleDescription(what)
        self.search.setClearButtonEnabled(True)
        self.sort = QComboBox()
        for title, key in SORTS:
            self.sort.addItem(f"Sort: {title}", key)
        self.detail = DetailPanel(project, self.background)
        self.list_title = QLabel()
        self._layout()

        self.help = HelpOverlay(self)
        self.help.closed.connect(self.items.setFocus)
        self.keys = KeyFilter(self.on_key, self)
        for widget in (self.items, *self.detail.key_widgets()):
            widget.installEventFilter(self.keys)
        self.status = QLabel()
        self.annotator_label = QLabel()
        self.annotator_label.setTextFormat(Qt.TextFormat.PlainText)  # a name, as typed
        self._show_annotator(self.labeller.annotator)
        self.statusBar().addPermanentWidget(self.annotator_label)
        if annotator is None:
            # The name comes from the settings: a new one saved applies to the next label
            # (the open window kept giving labels under the old name).
            settings_saved().saved.connect(self._settings_saved)
        self.statusBar().addWidget(self.status, 1)
        self.scheme_warning = SchemeWarning(self)  # a stored scheme left out: said here

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._query)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(self._search_now)
        self.sort.currentIndexChanged.connect(lambda _i: self._query())
        self.queues.queue_selected.connect(self._queue_selected)
        self.queues.counts_arrived.connect(self._counts_arrived)
        self.queues.itemClicked.connect(self._queue_clicked)
        self.queues.itemActivated.connect(self._queue_clicked)  # Enter, from the keyboard
        self._init_current_row()  # the list's current row, kept (current_row.py)
        self.model.failed.connect(self._show_error)
        self.detail.failed.connect(self._show_error)
        self.labeller.labels_changed.connect(self._labels_changed)
        self.labeller.message.connect(self.statusBar().showMessage)
        self.labeller.message.connect(partial(announce, self.statusBar()))  # said too
        self.labeller.failed.connect(self._show_error)
        self.save_warning = save_warning.install(self, self.labeller)  # stays till saved
        #: The question asked when closing would lose labels not saved (None: not asked).
        self.close_question: QMessageBox | None = None
        self._close_anyway = False  # "Close anyway" answered: close without asking
        self._unsaved_file = ""  # the name of this window's list of labels not saved
        # Closed once the app's loop has ended (app.main), nobody is left to answer.
        self._quitting = False
        QApplication.instance().aboutToQuit.connect(self._app_quitting)
        self.actions_ = WindowActions(self)
        self.resize(1400, 860)
        self.queues.refresh()
        self.scheme_warning.check()
        self._query()

    # ------------------------------------------------------------------ layout
    def _layout(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 6, 6, 2)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.sort)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(2)
        centre_layout.addLayout(bar)
        self.list_title.setContentsMargins(8, 0, 8, 0)
        self.list_title.setStyleSheet(f"color: {style.MUTED};")
        # Wrapped where the list is narrow: a long search, or the note of items labelled
        # out of the queue, set the list's (and so the window's) least width.
        self.list_title.setWordWrap(True)
        centre_layout.addWidget(self.list_title)
        centre_layout.addWidget(self.items, 1)
        splitter = self.columns = QueueSplitter(self.queues)
        splitter.addWidget(self.queues)
        splitter.addWidget(centre)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 4)
        splitter.setSizes([QUEUE_WIDTH, 500, 620])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

    def add_jobs_dock(self, panel: QWidget) -> QDockWidget:
        """Put the jobs panel in a dock at the bottom."""
        dock = QDockWidget("Jobs", self)
        dock.setObjectName("jobsDock")
        dock.setWidget(panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        # Sizes given before the window is shown are lost: apply once it is laid out.
        QTimer.singleShot(0, lambda: self.resizeDocks([dock], [100], Qt.Orientation.Vertical))
        return dock

    def add_toolbar(self, actions: list[QAction]) -> QToolBar:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in actions:
            toolbar.addAction(action)
        self.addToolBar(toolbar)
        return toolbar

    # ------------------------------------------------------------------ list
    def _query(self) -> None:
        queue = self.queues.current_queue() or Queue("all")
        self._search_timer.stop()
        sort, by = self.sort.currentData(), None
        if sort == "confidence" and queue.task is None:
            # A queue of no task is sorted by the confidence of the task being worked on
            # (the core would take the first task with a model, unsaid); kept when Tab
            # moves on, so the list does not reorder under the analyst.
            view = self.detail.focused_view()
            by = view.task if view is not None else None
        self.model.set_query(queue, self.search.text().strip(), sort, confidence_task=by)
        self.list_title.setText("Loading…")
        self.items.set_empty_text("")

    def _queue_selected(self, queue: Queue) -> None:
        if queue.task:  # a task's queue: the keys label that task
            self.detail.focus_task(queue.task)
        if queue != self.model.queue:  # the first counts select the queue already shown
            self._query()

    def _queue_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        """A queue clicked, or picked with the arrows and Enter, hands the keys to the
        list, as Enter in the search box does: left in the queue panel, the number keys
        labelled nothing and Tab went on to the search box, where they were typed. (The
        arrows alone leave them there: they go on through the queues.)"""
        if item.data(0, QUEUE_ROLE) is not None:
            self.items.setFocus()

    def _search_now(self) -> None:
        self._query()
        self.items.setFocus()

    def _update_title(self) -> None:
        queue = self.queues.current_queue()
        label = self.queues.currentItem().toolTip(0) if queue else "All items"
        count = self.queues.count_of(queue) if queue else None
        self.list_title.setText(list_title(self.model, label, count))
        self.items.set_empty_text("" if self.model.total else empty_list_text(self.model,
                                                                             label))

    def _counts_arrived(self) -> None:
        # After labels only: the list then holds rows the new counts no longer have, which
        # the title says. While a query or refresh runs its own arrival sets the title.
        if self.model.labelled_since_read:
            self._update_title()

    @property
    def tasks(self) -> tuple[str, ...]:
        """The project's tasks, as the queue panel lists them (the built-in ones until
        its first counts arrive)."""
        return self.queues.tasks()

    def targets(self) -> Targets:
        """The items a label key acts on: the selection, else the current item."""
        return selected_targets(self.items, self.model)

    # ------------------------------------------------------------------ keys
    def on_key(self, action: str, number: int) -> None:
        """Do what a labelling key means (see keys.SHORTCUTS)."""
        detail = self.detail.detail
        boxes = self.detail.task_boxes
        if action in ("next_item", "previous_item"):
            self.move(1 if action == "next_item" else -1)
        elif action in ("next_task", "previous_task") and boxes:
            step = 1 if action == "next_task" else -1
            self.detail.set_focused_task((self.detail.focused_task + step) % len(boxes))
        elif action == "pick" and detail is not None and boxes:
            view = boxes[self.detail.focused_task].view
            if number < len(view.classes):
                self.labeller.give(self.targets(), view.task, view.classes[number])
        elif action == "accept" and detail is not None and boxes:
            self.labeller.accept(self.targets(), boxes[self.detail.focused_task].view.task)
        elif action == "undo":
            self.labeller.undo()
        elif action == "redo":
            self.labeller.redo()
        elif action == "zoom_in":
            self.detail.image.zoom_in()
        elif action == "zoom_out":
            self.detail.image.zoom_out()
        elif action == "zoom_fit":
            self.detail.image.fit()
        elif action == "overlay":
            self.detail.toggle_overlay()
        elif action == "history" and detail is not None and boxes:
            self.detail.history.show_task(boxes[self.detail.focused_task].view.task)
        elif action == "close_history" and self.detail.history.isVisible():  # Esc
            self.detail.history.close()  # else it took a click on it, then Esc there
        elif action == "help":
            self.help.toggle()

    # ------------------------------------------------------------------ refresh
    def _labels_changed(self, items: list[int]) -> None:
        self.model.refresh_items(items)
        self.detail.reload()
        self.queues.refresh()

    def refresh(self) -> None:
        """Fetch everything shown again (F5; after a job ends; another window wrote)."""
        self.queues.refresh()
        self.scheme_warning.check()
        self.model.refresh()

    def _settings_saved(self) -> None:
        name = annotator_name()
        if name != self.labeller.annotator:
            self.labeller.annotator = name
            self._show_annotator(name)
            self.statusBar().showMessage(f"Labels are now given as {name}", 15000)

    def _show_annotator(self, name: str) -> None:
        """The annotator in the status bar, cut to ANNOTATOR_SHOWN characters (a long
        name left the status messages no room); the whole name in the tooltip."""
        shown = name if len(name) <= ANNOTATOR_SHOWN else name[:ANNOTATOR_SHOWN - 1] + "…"
        self.annotator_label.setText(f"Annotator: {shown}")
        self.annotator_label.setToolTip(f"Labels are given as {name}")

    def _show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # First, before the jobs are cancelled: the analyst may yet keep the window open.
        self.labeller.flush()  # labels given just before closing are kept
        if self.labeller.unsaved and not self._close_anyway:
            if not self._quitting:
                event.ignore()  # asked first: closing now loses them ("nothing lost")
                self._ask_to_close()
                return
            written, why = self._write_unsaved()  # no one to ask: kept, and said
            print(f"crisisdesk: {plural(len(self.labeller.unsaved), 'label change was')} "
                  f"not saved; their list: {written or why}", file=sys.stderr, flush=True)
        self.actions_.shutdown()
        self.background.shutdown()
        self.model.close()  # its kept read connection
        super().closeEvent(event)

    def _ask_to_close(self) -> None:
        """Ask whether to close though labels were not saved, their list written first."""
        if self.close_question is not None and self.close_question.isVisible():
            self.close_question.raise_()  # closed again while asked: one question
            return
        written, why = self._write_unsaved()
        if self.close_question is not None:
            self.close_question.deleteLater()
        self.close_question = unsaved_labels.ask_to_close(
            self, self.labeller.unsaved, written, why, self._close_now)

    def _write_unsaved(self) -> tuple[Path | None, str]:
        """Write the list of labels not saved in the project's exports folder, else the
        app's data folder (the project's drive may be the full one, or gone): its path,
        or None and why not."""
        folders: list[Path] = []
        try:
            folders.append(self.project.folder("exports"))
        except (ProjectError, OSError):
            pass  # the project folder gone: never made again here
        folders.append(user_data_dir() / "labels-not-saved")
        self._unsaved_file = self._unsaved_file or unsaved_labels.list_name()
        return unsaved_labels.write_list(folders, self._unsaved_file, self.labeller.unsaved)

    def _app_quitting(self) -> None:
        """The app's loop ends: a close from now on cannot be answered."""
        self._quitting = True

    def _close_now(self) -> None:
        """"Close anyway": the labels not saved are lost (their list is kept)."""
        self._close_anyway = True
        self.close()
