"""A project's own task with more than nine classes is labelled from the keyboard: its
tenth class and after are typed as two digits ("1" "2": class 12), and the task box shows
every class's key."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel
from test_keyboard_hunt import _active
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.gui.keys import SECOND_DIGIT_MS
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.task_box import TaskBox

#: Twelve classes with names as long as a real scheme's (about 40 characters).
NEEDS = [f"need_{n:02d}_" + "of_people_in_the_affected_area"[: 32 - n % 5]
         for n in range(1, 13)]


def _window_on_needs(qtbot, project: Project) -> MainWindow:
    """A window on ``project`` with the 12-class task ``needs`` added and focused."""
    with project.open_store() as store:
        store.add_scheme(scheme_from_json({"task": "needs", "classes": NEEDS}, "needs.json"))
    window = open_window(qtbot, project)
    _active(qtbot, window)
    window.detail.focus_task("needs")
    assert window.detail.focused_view().task == "needs"
    return window


def _digits(qtbot, window: MainWindow, number: int) -> None:
    for digit in str(number):
        qtbot.keyClick(window.items, getattr(Qt.Key, f"Key_{digit}"))


def _typed(qtbot, project: Project, number: int) -> tuple[MainWindow, int]:
    """A window on the 12-class task with ``number`` typed on its current item; the
    window and that item."""
    window = _window_on_needs(qtbot, project)
    item = window.current_row().id
    _digits(qtbot, window, number)
    return window, item


def test_every_class_of_a_twelve_class_task_is_given_from_the_keyboard(
        qtbot, demo_like_project: Project) -> None:
    """Classes 10-12 had no key: they could only be given from the command line."""
    window = _window_on_needs(qtbot, demo_like_project)
    item = window.current_row().id
    for number in range(12, 0, -1):  # class 1 last: a lone "1" waits for a second digit
        _digits(qtbot, window, number)
        qtbot.waitUntil(lambda n=number: current_labels(demo_like_project, "needs").get(
            item) == NEEDS[n - 1])
        settle(qtbot, window)
    # Each class was one journal action: 12 undos go back to no label, and no further.
    with demo_like_project.open_store() as store:
        assert store.stack_sizes("tester")[0] == 12


def test_two_digits_are_one_label_and_one_undo_step(qtbot, demo_like_project: Project
                                                    ) -> None:
    """"1" "2" gives class 12 only: class 1 is never written on the way."""
    window, item = _typed(qtbot, demo_like_project, 12)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[11]}
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {}


def test_a_lone_first_digit_labels_its_item_before_the_next_key_moves_on(
        qtbot, demo_like_project: Project) -> None:
    """"1" then J: class 1 goes to the item "1" was pressed on, not to the next one."""
    window, item = _typed(qtbot, demo_like_project, 1)
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    settle(qtbot, window)
    assert window.current_row().id != item
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[0]}


def test_a_lone_first_digit_labels_its_item_before_a_click_moves_on(
        qtbot, demo_like_project: Project) -> None:
    window, item = _typed(qtbot, demo_like_project, 1)
    other = window.model.index(window.items.currentIndex().row() + 1)
    qtbot.mouseClick(window.items.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.items.visualRect(other).center())
    settle(qtbot, window)
    assert window.current_row().id != item
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[0]}


def test_a_digit_no_second_digit_can_follow_labels_at_once(qtbot, demo_like_project: Project
                                                           ) -> None:
    """Only a digit that starts a class number (1 of 10-12) waits: "5" is class 5."""
    window, item = _typed(qtbot, demo_like_project, 5)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[4]}


def test_the_task_box_shows_every_class_key(qtbot, demo_like_project: Project) -> None:
    window = _window_on_needs(qtbot, demo_like_project)
    box = window.detail.task_boxes[window.detail.focused_task]
    assert isinstance(box, TaskBox)
    grid = box.layout().itemAt(1).layout()
    keys = [grid.itemAtPosition(row, 0).widget() for row in range(len(NEEDS))]
    assert [k.text() for k in keys if isinstance(k, QLabel)] == [
        str(n) for n in range(1, 13)]


def test_the_help_says_how_to_reach_class_ten_and_after() -> None:
    from crisisdesk.gui import keys as labelling_keys

    listed = " ".join(f"{keys} {what}" for keys, what in labelling_keys.SHORTCUTS)
    assert "10" in listed and "two digits" in listed


def test_a_lone_first_digit_is_saved_when_the_window_closes(qtbot, demo_like_project: Project
                                                             ) -> None:
    window, item = _typed(qtbot, demo_like_project, 1)
    window.close()
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[0]}


def test_a_first_digit_held_down_is_not_class_eleven(qtbot, demo_like_project: Project
                                                     ) -> None:
    window, item = _typed(qtbot, demo_like_project, 1)
    held = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_1, Qt.KeyboardModifier.NoModifier,
                     "1", True)  # the key's repeat while held down
    QApplication.sendEvent(window.items, held)
    qtbot.keyClick(window.items, Qt.Key.Key_0)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[9]}


def test_two_digits_typed_with_shift_are_one_class(qtbot, demo_like_project: Project) -> None:
    """On a French (AZERTY) keyboard a digit takes Shift: pressing Shift before the "2"
    gave class 1 at once, then class 2, where the analyst typed 12."""
    window, item = _typed(qtbot, demo_like_project, 1)
    qtbot.keyPress(window.items, Qt.Key.Key_Shift)
    qtbot.keyClick(window.items, Qt.Key.Key_2, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyRelease(window.items, Qt.Key.Key_Shift)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[11]}


def test_esc_drops_a_first_digit_typed_by_mistake(qtbot, demo_like_project: Project) -> None:
    """A typo ("1" where "5" was meant) had no way back: every key gave class 1 first."""
    window, item = _typed(qtbot, demo_like_project, 1)
    qtbot.keyClick(window.items, Qt.Key.Key_Escape)
    qtbot.wait(SECOND_DIGIT_MS + 300)  # nor given when the wait would have ended
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {}
    qtbot.keyClick(window.items, Qt.Key.Key_5)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "needs") == {item: NEEDS[4]}
