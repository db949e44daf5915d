"""The detail panel on the right: one item's image, text, caption, predictions and labels.

Everything it shows is fetched off the UI thread: ``review.item_detail`` and the image
decode both go through the window's :class:`Background` (keyed, so moving quickly through
the list paints only the item one lands on).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemDetail
from crisisdesk.gui import style
from crisisdesk.gui.image_view import ImageView
from crisisdesk.gui.task_box import TaskBox
from crisisdesk.gui.thumbnails import decode_scaled
from crisisdesk.gui.worker import Background

IMAGE_BOX = 2048  # decode at most this many pixels a side: zoom x8 of a panel stays sharp


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName("sectionTitle")
    return label


class DetailPanel(QWidget):
    """Shows the item :meth:`show_item` was given; ``detail`` holds what is shown."""

    detail_shown = Signal(object)  # ItemDetail, once painted
    failed = Signal(str)

    def __init__(self, project: Project, background: Background,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project, self._background = project, background
        self.detail: ItemDetail | None = None
        self.item_id: int | None = None
        self.focused_task = 0
        self.task_boxes: list[TaskBox] = []

        self.image = ImageView()
        self.overlay = QToolButton()
        self.overlay.setText("Overlay")
        self.overlay.setCheckable(True)
        self.overlay.setEnabled(False)
        self.overlay.setToolTip("attention overlays: coming")
        self.header = QLabel()
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setWordWrap(True)
        image_bar = QHBoxLayout()
        image_bar.addWidget(self.header, 1)
        image_bar.addWidget(self.overlay)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.image, 1)
        top_layout.addLayout(image_bar)

        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tasks_area = QVBoxLayout()
        self.tasks_area.setSpacing(6)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(8, 6, 8, 8)
        body_layout.addWidget(_section("Post"))
        body_layout.addWidget(self.text)
        body_layout.addWidget(_section("Caption"))
        body_layout.addWidget(self.caption)
        body_layout.addWidget(_section("Tasks  (Tab: next task · 1-9: label · Enter: accept)"))
        body_layout.addLayout(self.tasks_area)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.setMinimumWidth(360)
        self.clear()

    # ------------------------------------------------------------------ loading
    def clear(self) -> None:
        """Show nothing (no item selected)."""
        self.detail, self.item_id = None, None
        self.image.set_message("No item selected")
        self.header.setText("")
        self.text.setText("")
        self.caption.setText("")
        self._set_tasks(())

    def show_item(self, item_id: int | None) -> None:
        """Fetch and show ``item_id`` (None clears the panel)."""
        if item_id is None:
            self.clear()
            return
        changed = item_id != self.item_id
        self.item_id = item_id
        if changed:
            self.image.set_message("Loading…")
        project = self._project

        def fetch() -> ItemDetail:
            with project.open_store() as store:
                return review.item_detail(store, item_id)

        self._background.call(fetch, lambda d: self._show(d, changed), self._failed,
                              key=f"detail-{id(self)}")

    def reload(self) -> None:
        """Fetch the shown item again (its labels changed)."""
        if self.item_id is not None:
            self.show_item(self.item_id)

    def _failed(self, message: str) -> None:
        self.image.set_message(f"Could not load this item:\n{message}")
        self.failed.emit(message)

    def _show(self, detail: ItemDetail, new_item: bool) -> None:
        if detail.row.id != self.item_id:
            return
        self.detail = detail
        row = detail.row
        meta = [row.uid]
        meta += [x for x in (row.event, row.created_at, detail.author and f"@{detail.author}")
                 if x]
        self.header.setText(f"<span style='color:{style.MUTED}'>{' · '.join(meta)}</span>")
        self.text.setText(row.text or "(no text)")
        if detail.caption:
            model = getattr(detail, "caption_model", None)
            by = detail.captioner or "unknown captioner"
            if model and not by.startswith(model):
                by += f" · model {model}"
            self.caption.setText(f"{html.escape(detail.caption)}<br>"
                                 f"<span style='color:{style.MUTED}'>by {html.escape(by)}</span>")
            self.caption.setTextFormat(Qt.TextFormat.RichText)
        else:
            self.caption.setText(f"<span style='color:{style.MUTED}'>No caption yet "
                                 "(run the captioner from Jobs)</span>")
        if new_item or not self.image.has_image():
            self._load_image(detail)
        self._set_tasks(detail.tasks)
        self.detail_shown.emit(detail)

    def _load_image(self, detail: ItemDetail) -> None:
        row = detail.row
        if row.image_path is None:
            self.image.set_message("Text-only post: no image")
            return
        if row.media_status != "ok":
            self.image.set_message(f"Image {row.media_status or 'missing'}:\n{row.image_path}")
            return
        path, item_id = row.image_path, row.id

        def arrived(image: QImage | None) -> None:
            if self.item_id != item_id:
                return
            if image is None:
                self.image.set_message(f"Image could not be decoded:\n{path}")
            else:
                self.image.set_pixmap(QPixmap.fromImage(image))

        self._background.call(lambda: decode_scaled(path, IMAGE_BOX), arrived,
                              lambda m: self.image.set_message(f"Image failed: {m}"),
                              key=f"detail-image-{id(self)}")

    # ------------------------------------------------------------------ tasks
    def _set_tasks(self, views: tuple) -> None:
        for box in self.task_boxes:
            box.setParent(None)
            box.deleteLater()
        self.task_boxes = [TaskBox(view) for view in views]
        for box in self.task_boxes:
            self.tasks_area.addWidget(box)
        if self.task_boxes:
            self.focused_task %= len(self.task_boxes)
        self.set_focused_task(self.focused_task)

    def set_focused_task(self, index: int) -> None:
        """Outline task number ``index`` as the one keys act on."""
        self.focused_task = index
        for n, box in enumerate(self.task_boxes):
            box.set_focused(n == index)
