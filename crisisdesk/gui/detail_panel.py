"""The detail panel on the right: one item's image, text, caption, predictions and labels.

Everything it shows is fetched off the UI thread: ``review.item_detail`` and the image
decode both go through the window's :class:`Background`, each on its own :class:`Lane`
(one in flight plus the newest wanted, so holding J reads and paints only the items the
read in flight ends on, never every row passed). With the overlay on (key O), the focused
task's explanation is drawn over the image and the words (see ``overlay.py``).

An image the blur settings hide (a post marked sensitive, or every image; see
``sensitive.py``) is shown blurred, decoded and blurred in the same background call,
until "Show image" (or a click on it) shows it, for that item, until the app closes; the
overlay's heat map is not drawn over it meanwhile. The poster's alt text shows under it.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemDetail, ItemRow
from crisisdesk.gui.advice import media_note
from crisisdesk.gui.detail_header import DetailHeader
from crisisdesk.gui.detail_image import VEIL_ALL, VEIL_SENSITIVE, decode_for_panel, not_shown
from crisisdesk.gui.image_view import ImageView
from crisisdesk.gui.label_history import LabelHistory
from crisisdesk.gui.overlay import AttentionOverlay, OverlayBar
from crisisdesk.gui.post_texts import (
    alt_text_label,
    post_text_label,
    show_alt_text,
    show_post_texts,
)
from crisisdesk.gui.sensitive import BlurRule, BlurWatch, blur_image
from crisisdesk.gui.task_focus import TaskFocus
from crisisdesk.gui.worker import Background, Lane


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName("sectionTitle")
    label.setWordWrap(True)  # the tasks' key hint is wider than the narrowest panel
    return label


class DetailPanel(TaskFocus, QWidget):
    """Shows the item :meth:`show_item` was given; ``detail`` holds what is shown (its
    task boxes and the focused task: :class:`~crisisdesk.gui.task_focus.TaskFocus`)."""

    detail_shown = Signal(object)  # ItemDetail, once painted
    failed = Signal(str)

    def __init__(self, project: Project, background: Background,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project, self._background = project, background
        self._reads, self._decodes = Lane(background), Lane(background)
        self.detail: ItemDetail | None = None
        self.item_id: int | None = None
        self._init_task_focus()  # the task boxes and the focused task (task_focus.py)
        self.blur = BlurWatch(self)
        self.blur.changed.connect(self._blur_changed)
        self.revealed: set[int] = set()  # items shown unblurred on request (this run only)
        self._sharp: QImage | None = None  # the shown item's decoded image, kept to reveal
        self.history = LabelHistory(self, project, background)  # a task box's History link

        self.image = ImageView()
        self.image.setAccessibleName("Image of the post")
        self.image.clicked.connect(self.reveal)
        # Alt+S: Tab moves between tasks in the list and this panel, so no Tab reached the
        # button, and with every image blurred an analyst without a mouse saw none.
        self.show_image = QPushButton("&Show image")
        self.show_image.setToolTip("Show this image unblurred, this item only (Alt+S)")
        self.show_image.clicked.connect(self.reveal)
        self.show_image.setVisible(False)
        self.alt_text = alt_text_label()
        self.overlay_bar = OverlayBar()
        self.overlay = self.overlay_bar.toggle  # the Overlay button (key O)
        self.attention = AttentionOverlay(project, background, self.overlay_bar, self)
        self.attention.on_change.append(self._paint_overlay)
        self.overlay.toggled.connect(self._overlay_toggled)
        self.overlay_bar.opacity.valueChanged.connect(
            lambda value: self.image.set_overlay_opacity(value / 100))
        self.image.set_overlay_opacity(self.overlay_bar.opacity.value() / 100)
        self.overlay_bar.setVisible(False)
        self.header = DetailHeader()
        image_bar = QHBoxLayout()
        image_bar.setContentsMargins(8, 0, 8, 0)
        image_bar.addWidget(self.header, 1)
        image_bar.addWidget(self.show_image)
        image_bar.addWidget(self.overlay)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.image, 1)
        top_layout.addWidget(self.alt_text)
        top_layout.addLayout(image_bar)
        top_layout.addWidget(self.overlay_bar)

        self.text = post_text_label(self._word_hovered)
        self.caption = post_text_label(self._word_hovered)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(8, 6, 8, 8)
        body_layout.addWidget(_section("Post"))
        body_layout.addWidget(self.text)
        body_layout.addWidget(_section("Caption"))
        body_layout.addWidget(self.caption)
        body_layout.addWidget(
            _section("Tasks  (Tab: next task · number keys: label · Enter: accept)"))
        body_layout.addLayout(self.tasks_area)
        body_layout.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        scroll.setAccessibleName("Post, caption and tasks")  # keys reach it: not "client"
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        # Tab never gets past the list or this panel's texts (it moves between tasks), so
        # the buttons and overlay controls come last in the Tab chain, after the texts:
        # Shift+Tab from the queue panel (the window's first) reaches them.
        chain = (scroll, self.show_image, self.overlay, self.overlay_bar.classes,
                 self.overlay_bar.opacity)
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)
        self.setMinimumWidth(350)
        self.clear()

    def key_widgets(self) -> tuple[QWidget, ...]:
        """The panel and its parts a click gives the focus to: the labelling keys work
        there too (after a click in a task box, Tab left the panel instead)."""
        return (self, self.text, self.caption, self.header, self.alt_text, self.image,
                self.scroll, self.show_image)

    # ------------------------------------------------------------------ loading
    def clear(self) -> None:
        """Show nothing (no item selected)."""
        self.detail, self.item_id = None, None
        self._set_message("No item selected")
        self.alt_text.setVisible(False)
        self.header.show_detail(None)
        self.text.setText("")
        self.caption.setText("")
        self._set_tasks(())
        self.attention.want(None)
        self.history.show_no_item()

    def show_item(self, item_id: int | None) -> None:
        """Fetch and show ``item_id`` (None clears the panel)."""
        if item_id is None:
            self.clear()
            return
        changed = item_id != self.item_id
        self.item_id = item_id
        if changed:
            self.say_when_settled(shown=False)  # J held: the item passed is not said
            self._set_message("Loading…")
            self.image.set_overlay(None)
        project = self._project

        def fetch() -> ItemDetail:
            with project.open_store() as store:
                return review.item_detail(store, item_id)

        self._reads.call(fetch, lambda d: self._show(d, changed), self._failed)

    def reload(self) -> None:
        """Fetch the shown item again (its labels changed)."""
        if self.item_id is not None:
            self.show_item(self.item_id)

    def _failed(self, message: str) -> None:
        self._set_message(f"Could not load this item:\n{message}")
        self.failed.emit(message)

    def _show(self, detail: ItemDetail, new_item: bool) -> None:
        if detail.row.id != self.item_id:
            return
        self.detail = detail
        self.header.show_detail(detail)
        self._paint_texts()
        show_alt_text(self.alt_text, detail)
        if new_item or not self.image.has_image():
            self._load_image(detail)
        self._set_tasks(detail.tasks)
        if new_item:  # another item's: its task is said; the same one's after a label not
            self.say_when_settled(shown=True)
        self.detail_shown.emit(detail)

    def _paint_texts(self) -> None:
        """The tweet and the caption: plain, or with each word coloured by its relevance
        when the overlay shows this item's explanation."""
        if self.detail is not None:
            show_post_texts(self.text, self.caption, self.detail, self.attention.current())

    def _set_message(self, message: str) -> None:
        """A placeholder instead of the image (nothing to show or reveal)."""
        self._sharp = None
        self.show_image.setVisible(False)
        self.image.set_message(message)

    def _veil(self, row: ItemRow) -> str | None:
        """The note over the item's image while the blur settings hide it, else None."""
        if row.id in self.revealed or not self.blur.rule.hides(row.sensitive):
            return None
        return VEIL_SENSITIVE if row.sensitive else VEIL_ALL

    def _load_image(self, detail: ItemDetail) -> None:
        row = detail.row
        if row.image_path is None:
            self._set_message("Text-only post: no image")
            return
        if row.media_status != "ok":
            self._set_message(media_note(row.media_status, row.image_path, row.media_reason,
                                         project=self._project.root))
            return
        path, item_id, veil = row.image_path, row.id, self._veil(row)

        def arrived(result: tuple[QImage | None, QImage | None, bool]) -> None:
            if self.item_id != item_id:
                return
            image, blurred, gone = result
            if image is None:
                self._set_message(not_shown(path, gone, project=self._project.root))
                return
            self._sharp = image
            self._paint_image(blurred, veil)

        self._decodes.call(lambda: decode_for_panel(path, blur=veil is not None), arrived,
                           lambda m: self._set_message(f"Image failed: {m}"))

    def _paint_image(self, blurred: QImage | None, veil: str | None) -> None:
        """Show ``blurred`` under ``veil``, or (None) the kept sharp image."""
        assert self._sharp is not None
        self.image.set_pixmap(QPixmap.fromImage(blurred or self._sharp),
                              veil if blurred is not None else None)
        self.show_image.setVisible(blurred is not None)
        self._paint_overlay()  # an explanation may have come first; none over a blur

    def reveal(self) -> None:
        """Show the blurred image of the shown item as it is ("Show image", or a click);
        it stays shown for this item until the app closes."""
        if not self.image.veiled or self._sharp is None or self.item_id is None:
            return
        self.revealed.add(self.item_id)
        self._paint_image(None, None)

    def _blur_changed(self, before: BlurRule, after: BlurRule) -> None:
        """Blur or unblur the shown image at once, as the saved settings say, from the
        sharp image kept (the file is not decoded again); an item the change does not
        concern stays as it is."""
        detail = self.detail
        if detail is None or detail.row.id != self.item_id or detail.row.id in self.revealed:
            return
        row = detail.row
        if before.hides(row.sensitive) == after.hides(row.sensitive):
            return
        sharp, veil = self._sharp, self._veil(row)
        if sharp is None:  # still decoding (or no image at all): load it as now set
            self._load_image(detail)
        elif veil is None:
            self._paint_image(None, None)
        else:
            def arrived(blurred: QImage) -> None:
                # Dropped if the analyst moved on or the settings changed back meanwhile.
                if self._sharp is sharp and self._veil(row) == veil:
                    self._paint_image(blurred, veil)

            # The decode's lane: a newer item's decode drops this result.
            self._decodes.call(lambda: blur_image(sharp), arrived,
                               lambda m: self._set_message(f"Image failed: {m}"))

    # ------------------------------------------------------------------ overlay
    def toggle_overlay(self) -> None:
        """Overlay on / off (key O)."""
        self.overlay.toggle()

    def _overlay_toggled(self, on: bool) -> None:
        from crisisdesk.gui.dialogs.settings_dialog import setting

        self.attention.device = setting("device") or "auto"
        self.overlay_bar.setVisible(on)
        self.attention.set_enabled(on)
        self._update_wanted()

    def _paint_overlay(self) -> None:
        explanation = self.attention.current()
        heat = self.attention.heat_image() if explanation is not None else None
        if heat is not None and explanation.image is not None:
            self.image.set_overlay(heat, explanation.image.crop)
        else:
            self.image.set_overlay(None)
        self._paint_texts()

    def _word_hovered(self, link: str) -> None:
        if link.startswith("w:"):
            self.attention.show_word_tooltip(link, int(link[2:]))
