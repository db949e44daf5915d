"""Bugs found driving the app from the keyboard alone: a jobs panel button that, pressed,
sent the keys to the queue panel (where ↓ changed the queue); a "Show image" button and
overlay controls no key could reach; a queue picked with Enter that left the keys in the
queue panel; probability bars and panes a screen reader could not name."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget
from test_keyboard_hunt import _active, _gated  # the same window and job helpers
from window_helpers import open_window

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, TaskView
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.task_box import TaskBox


def _name(widget: QWidget) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(QAccessible.Text.Name)


# ---------------------------------------------------------------------- jobs panel

def test_cancelling_a_job_from_the_keyboard_gives_the_keys_back_to_the_list(
        qtbot, demo_like_project: Project) -> None:
    """Ctrl+J, Space: the Cancel pressed was disabled and Qt gave the keys to the next
    widget of the Tab chain, the queue panel: the analyst's next ↓ changed the queue and
    J or a digit did nothing."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    gate = threading.Event()
    runner = jobs.run("Embed images", lambda: _gated(gate))
    try:
        qtbot.waitUntil(lambda: runner.last_progress is not None)
        qtbot.keyClick(window.items, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
        assert QApplication.focusWidget() is jobs.row_of(runner).cancel
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
        assert runner.cancel_requested
        assert QApplication.focusWidget() is window.items
    finally:
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            runner.cancel()
            gate.set()


def test_a_job_ending_under_the_keys_gives_them_back_to_the_list(
        qtbot, demo_like_project: Project) -> None:
    """The keys on a running job's Cancel (Ctrl+J) when it ends: the Cancel hid and the
    keys went to the queue panel."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    gate = threading.Event()
    runner = jobs.run("Embed images", lambda: _gated(gate))
    qtbot.waitUntil(lambda: runner.last_progress is not None)
    qtbot.keyClick(window.items, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is jobs.row_of(runner).cancel
    with qtbot.waitSignal(jobs.job_finished, timeout=10_000):
        gate.set()
    assert QApplication.focusWidget() is window.items


def test_retry_and_clear_finished_from_the_keyboard_give_the_keys_back_to_the_list(
        qtbot, demo_like_project: Project) -> None:
    def broken() -> Iterator[Progress]:
        yield Progress(0, 1, "start", "cpu")
        raise RuntimeError("no space left on device")

    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=10_000):
        runner = jobs.run("Caption images", broken)
    row = jobs.row_of(runner)
    row.retry.setFocus()
    with qtbot.waitSignal(jobs.job_finished, timeout=10_000):
        qtbot.keyClick(row.retry, Qt.Key.Key_Space)  # the rerun fails too
        assert QApplication.focusWidget() is window.items
    jobs.clear.setFocus()
    qtbot.keyClick(jobs.clear, Qt.Key.Key_Space)
    assert jobs.rows == []
    assert QApplication.focusWidget() is window.items


# ---------------------------------------------------------------------- detail panel

def test_show_image_is_reached_from_the_keyboard(qtbot, demo_like_project: Project
                                                 ) -> None:
    """With "Blur every image until I click it", an analyst without a mouse never saw an
    image: Tab in the list and the panel moves between tasks, and no key pressed Show
    image. Alt+S does, wherever the keys are in the window."""
    from crisisdesk.gui.dialogs.settings_dialog import app_settings

    settings = app_settings()
    settings.setValue("blur_all", True)
    settings.sync()
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    detail = window.detail
    qtbot.waitUntil(lambda: detail.image.veiled and detail.show_image.isVisible(),
                    timeout=10_000)
    window.items.setFocus()
    with qtbot.waitSignal(detail.show_image.clicked):  # a mnemonic clicks after a blink
        qtbot.keyClick(window.items, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    assert not detail.image.veiled


def test_the_overlay_controls_are_reached_with_shift_tab_from_the_queues(
        qtbot, demo_like_project: Project) -> None:
    """The overlay's class and opacity came after the list in the Tab chain, where Tab
    never gets past (it moves between tasks): no key reached them. Now they come last,
    so Shift+Tab from the queue panel reaches them."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_O)
    bar = window.detail.overlay_bar
    qtbot.waitUntil(bar.isVisible)
    window.queues.setFocus()
    reached = []
    for _ in range(6):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab,
                       Qt.KeyboardModifier.ShiftModifier)
        reached.append(QApplication.focusWidget())
    assert bar.opacity in reached and bar.classes in reached
    assert window.detail.overlay in reached


# ---------------------------------------------------------------------- queues

def test_enter_on_a_queue_gives_the_keys_to_the_list(qtbot,
                                                     demo_like_project: Project) -> None:
    """A queue clicked hands the keys to the list; one picked with the arrows and Enter
    left them in the queue panel, where the digits labelled nothing."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    window.queues.setFocus()
    window.queues.select(Queue("unlabelled", "damage"))
    qtbot.keyClick(window.queues, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is window.items


# ---------------------------------------------------------------------- screen reader

def test_the_probability_bars_say_their_class_and_probability(qtbot) -> None:
    """Each bar was read as a nameless progress bar, its value out of 1000."""
    view = TaskView("damage", ("severe_damage", "mild_damage"),
                    {"severe_damage": 0.73, "mild_damage": 0.27}, "severe_damage",
                    "damage-v2", None, None, None)
    box = TaskBox(view)
    qtbot.addWidget(box)
    assert _name(box.bars["severe_damage"]) == "damage: severe damage 73%"
    no_prediction = TaskBox(TaskView("damage", ("severe_damage",), {}, None, None, None,
                                     None, None))
    qtbot.addWidget(no_prediction)
    assert _name(no_prediction.bars["severe_damage"]) == "damage: severe damage, no prediction"


def test_the_panes_a_screen_reader_lands_on_are_named(qtbot,
                                                      demo_like_project: Project) -> None:
    window: MainWindow = open_window(qtbot, demo_like_project)
    assert _name(window.items) == "Items"
    assert _name(window.queues) == "Queues"
    assert _name(window.search) == "Search"
    assert _name(window.detail.image) == "Image of the post"


def test_ctrl_y_redoes_wherever_ctrl_shift_z_does(qtbot, demo_like_project: Project
                                                  ) -> None:
    """The help lists "Ctrl+Shift+Z or Ctrl+Y" for redo: with the keys in the queue
    panel, Ctrl+Shift+Z redid and Ctrl+Y did nothing (only the list knew it)."""
    from window_helpers import current_labels, settle

    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    given = current_labels(demo_like_project, window.detail.focused_view().task)
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    window.queues.setFocus()
    qtbot.keyClick(window.queues, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert current_labels(demo_like_project, window.detail.focused_view().task) == given


def test_the_help_lists_the_keys_that_select_several_items_and_show_an_image(
        qtbot, demo_like_project: Project) -> None:
    """Shift+↓ selects (the help said only Shift+click, Ctrl+click: mouse ways), and
    Alt+S, the only key to a blurred image, was in no list."""
    from crisisdesk.gui import keys as labelling_keys

    listed = " ".join(keys for keys, _ in labelling_keys.SHORTCUTS)
    assert "Shift+↓" in listed and "Alt+S" in listed
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    first = window.items.currentIndex().row()
    qtbot.keyClick(window.items, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    rows = sorted(i.row() for i in window.items.selectionModel().selectedRows())
    assert rows == [first, first + 1]
    assert window.detail.show_image.text() == "&Show image"
