"""The app for an analyst with a screen reader: what it says for the queue panel's rows
and the overlay's controls, and whether a keyboard user sees which control has the focus.

Read through Qt's accessibility interface, as a screen reader reads the app."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QImage
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue


def _said(widget, text: QAccessible.Text = QAccessible.Text.Name) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(text)


def _labelled_by(widget) -> list[str]:
    """The names of the labels a screen reader reads for ``widget`` (buddies)."""
    iface = QAccessible.queryAccessibleInterface(widget)
    return [other.text(QAccessible.Text.Name)
            for other, _ in iface.relations(QAccessible.RelationFlag.Label)]


def _queue_cells(window) -> list[str]:
    """What a screen reader says for each cell of the queue panel."""
    tree = QAccessible.queryAccessibleInterface(window.queues)
    cells = [tree.child(n) for n in range(tree.childCount())]
    return [c.text(QAccessible.Text.Name) for c in cells
            if c is not None and c.role() == QAccessible.Role.TreeItem]


def test_a_queue_row_says_its_task_and_its_count(qtbot, demo_like_project: Project) -> None:
    """The rows showed "Unlabelled" under each task's heading: a screen reader said
    "Unlabelled" three times, never for which task nor how many items (the count is
    another cell, the task the heading above)."""
    window = open_window(qtbot, demo_like_project)
    said = _queue_cells(window)
    for queue, item in window.queues._items.items():
        full = item.toolTip(0)  # the queue's full title: "Unlabelled (damage)"
        if queue.task and f"({queue.task})" not in full:  # "Predicted: severe damage"
            full = f"{full} ({queue.task})"
        count = window.queues.count_of(queue)
        spoken = f"{full}: {count:,} item{'' if count == 1 else 's'}"
        assert spoken in said, (spoken, said)
    unlabelled = Queue("unlabelled", task="damage")
    before = window.queues.count_of(unlabelled)
    assert before  # the demo has damage items without a label
    # A label given: the count changes, and what is said changes with it.
    window.detail.focus_task("damage")
    free = next(n for n in range(window.model.total)
                if "damage" not in window.model.row_at(n).labels)
    window.items.setCurrentIndex(window.model.index(free))
    qtbot.waitUntil(lambda: window.detail.item_id == window.current_row().id)
    with qtbot.waitSignal(window.queues.counts_arrived, timeout=10_000):
        qtbot.keyClick(window.items, Qt.Key.Key_1)
        settle(qtbot, window)
    after = window.queues.count_of(unlabelled)
    assert after == before - 1
    title = window.queues._items[unlabelled].toolTip(0)
    assert f"{title}: {after:,} item{'' if after == 1 else 's'}" in _queue_cells(window)


def test_the_overlay_controls_are_named(qtbot, demo_like_project: Project) -> None:
    """With the overlay on, the opacity slider was a nameless "slider 60" and the class
    picker a bare "predicted class" (their labels were no buddies); the busy bar of an
    explanation being computed a nameless "progress bar"."""
    window = open_window(qtbot, demo_like_project)
    bar = window.detail.overlay_bar
    window.detail.overlay.setChecked(True)
    qtbot.waitUntil(bar.isVisible)
    assert "Class" in _labelled_by(bar.classes)
    assert _said(bar.opacity) == "Opacity" or "Opacity" in _labelled_by(bar.opacity)
    bar.set_status("Computing the explanation…", busy=True)
    assert bar.busy.isVisible()
    assert _said(bar.busy) == "Computing the explanation…"


def _grab(widget) -> QImage:
    return widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_the_overlay_toggle_shows_the_keyboard_focus(qtbot, demo_like_project: Project
                                                     ) -> None:
    """The Overlay button's own style sheet drew its border: reached with the keyboard
    (Shift+Tab from the queues), it looked exactly as unfocused, and the analyst did not
    see where the keys were."""
    window = open_window(qtbot, demo_like_project)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    toggle = window.detail.overlay
    before = _grab(toggle)
    window.queues.setFocus()
    qtbot.keyClick(window.queues, Qt.Key.Key_Backtab)  # as a keyboard user reaches it
    qtbot.waitUntil(toggle.hasFocus)
    assert _grab(toggle) != before
    toggle.setChecked(True)  # on, and focused: still marked apart from on alone
    focused_on = _grab(toggle)
    window.queues.setFocus()
    qtbot.waitUntil(lambda: not toggle.hasFocus())
    assert _grab(toggle) != focused_on


def test_the_image_vs_text_share_is_said(qtbot, demo_like_project: Project) -> None:
    """The share of a prediction from the image and from the text is painted (two
    colours, "image 62%", "text 38%"): a screen reader said nothing of it."""
    window = open_window(qtbot, demo_like_project)
    share = window.detail.overlay_bar.share
    share.set_share({"image": 0.62, "text": 0.38, "basis": "occlusion"})
    said = _said(share)
    assert "image 62%" in said and "text 38%" in said, said
    assert "Image vs text share" in said + _said(share, QAccessible.Text.Description)
    share.set_share(None)  # another item's, or being computed: nothing said
    assert "62%" not in _said(share)
