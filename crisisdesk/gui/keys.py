"""Labelling from the keyboard: the key map the help overlay lists, and the event
filter that turns keys on the list and the detail panel into labelling actions (two
digits for the tenth class and after of a task with more than nine).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import isValid

from crisisdesk.gui.task_box import TaskBox

#: (keys, what they do): the help overlay lists exactly these.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("1 … 9", "give the focused task that class (every selected item at once)"),
    ("10, 11, …", "past nine classes: two digits, quickly (1 2: class 12; 1 alone: a "
                  "moment later; Esc drops a first digit)"),
    ("Enter", "accept the prediction as the label"),
    ("Tab / Shift+Tab", "next / previous task"),
    ("H", "the focused task's label history: who changed it, when (Esc closes it)"),
    ("J / ↓", "next item"),
    ("K / ↑", "previous item"),
    ("Shift+↓ / Shift+↑, Shift+click, Ctrl+click", "select several items"),
    ("Ctrl+Z", "undo your last label change"),
    ("Ctrl+Shift+Z or Ctrl+Y", "redo"),
    ("+ / − / 0", "zoom the image in / out / fit (wheel: at the pointer; drag: move it)"),
    ("O", "attention overlay on / off: the heat map, the words for (green) / against (red)"),
    ("Alt+S", "show an image blurred as sensitive (this item only)"),
    ("Ctrl+F", "search texts, captions and alt texts"),
    ("F5", "refresh (see labels given in another window)"),
    ("Ctrl+I / Ctrl+E / Ctrl+,", "import / export / settings"),
    ("Ctrl+J", "go to the jobs (Cancel, Retry, Details, Report)"),
    ("F1 or ?", "show or hide this help"),
)


KEY_ACTIONS = {
    Qt.Key.Key_Tab: "next_task", Qt.Key.Key_Backtab: "previous_task",
    Qt.Key.Key_Return: "accept", Qt.Key.Key_Enter: "accept",
    Qt.Key.Key_J: "next_item", Qt.Key.Key_K: "previous_item",
    Qt.Key.Key_Plus: "zoom_in", Qt.Key.Key_Equal: "zoom_in", Qt.Key.Key_Minus: "zoom_out",
    Qt.Key.Key_0: "zoom_fit", Qt.Key.Key_Question: "help", Qt.Key.Key_F1: "help",
    Qt.Key.Key_O: "overlay", Qt.Key.Key_H: "history",
    # Esc closes the label history from the list and the detail panel too. It comes here
    # last: a first digit waiting takes it first (dropped, see _Interrupts), and the
    # help card, when shown, has the keys (any key closes it).
    Qt.Key.Key_Escape: "close_history",
}


def key_action(event: QKeyEvent) -> tuple[str, int] | None:
    """The labelling action of a key press: (name, class number for "pick"), or None."""
    key, mods = event.key(), event.modifiers()
    ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
    if ctrl and key == Qt.Key.Key_Z:
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        return ("redo" if shift else "undo", 0)
    if ctrl and key == Qt.Key.Key_Y:
        return ("redo", 0)
    if mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
               | Qt.KeyboardModifier.MetaModifier):
        return None
    if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
        return ("pick", key - Qt.Key.Key_1)
    if key == Qt.Key.Key_Tab and mods & Qt.KeyboardModifier.ShiftModifier:
        return ("previous_task", 0)
    action = KEY_ACTIONS.get(Qt.Key(key))
    return (action, 0) if action else None


#: How long a first digit of a task of ten classes or more waits for its second.
SECOND_DIGIT_MS = 1000


#: Pressed alone, these only lead to a key: Shift before the second digit of a layout
#: whose digits take it (French AZERTY) must not give the first digit alone.
_MODIFIER_KEYS = (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_AltGr,
                  Qt.Key.Key_Meta, Qt.Key.Key_CapsLock, Qt.Key.Key_NumLock)


def _digit(event: QEvent) -> int | None:
    """The digit (0 included) a key event types, -1 for a modifier pressed alone, or None."""
    if not isinstance(event, QKeyEvent) or event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
            | Qt.KeyboardModifier.MetaModifier) and event.key() not in _MODIFIER_KEYS:
        return None
    key = event.key()
    return key - Qt.Key.Key_0 if Qt.Key.Key_0 <= key <= Qt.Key.Key_9 else (
        -1 if key in _MODIFIER_KEYS else None)


class KeyFilter(QObject):
    """Event filter on the list and the detail panel: turns labelling keys into calls.

    Installed on those widgets only, so typing digits or J into the search box types.

    A task of ten classes or more takes two digits for its tenth class and after: a
    first digit that can start one ("1" of 10-12) waits for the second. Alone, it is
    given after :data:`SECOND_DIGIT_MS`, or before the next key, click or closing acts
    (to the item it was typed on, not to the one that key or click moves to).
    """

    def __init__(self, handler: Callable[[str, int], None], parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self._handler = handler
        # A first digit waiting: (the digit, the task's class count, its box, the window).
        self._first: tuple[int, int, TaskBox, QWidget] | None = None
        self._timer = QTimer(self, singleShot=True, interval=SECOND_DIGIT_MS)
        self._timer.timeout.connect(self.give_first)
        self._interrupts = _Interrupts(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ShortcutOverride:
            # Claim our keys before window shortcuts do, so the filter sees the press.
            if isinstance(event, QKeyEvent) and key_action(event) is not None:
                event.accept()
                return True
            return False
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        digit = _digit(event)
        if self._first is not None and digit is not None:
            if digit < 0:
                return False  # Shift, say, on the way to the second digit: wait on
            if event.isAutoRepeat():
                return True  # a first digit held down is not class 11
            if self._first[0] * 10 + digit <= self._first[1]:
                number = self._first[0] * 10 + digit
                self._end_wait()
                self._handler("pick", number - 1)
                return True
        self.give_first()
        action = key_action(event)
        if action is None:
            return False
        box = TaskBox.focused_in(watched.window()) if isinstance(watched, QWidget) else None
        if action[0] == "pick" and box is not None and (action[1] + 1) * 10 <= len(
                box.view.classes):
            self._first = (action[1] + 1, len(box.view.classes), box, watched.window())
            box.show_typed(action[1] + 1)
            self._timer.start()
            QApplication.instance().installEventFilter(self._interrupts)
            return True
        self._handler(*action)
        return True

    def give_first(self) -> None:
        """Give the class of a first digit still waiting for its second, if one is."""
        if self._first is not None:
            first = self._first[0]
            self._end_wait()
            self._handler("pick", first - 1)

    def _end_wait(self) -> None:
        if self._first is not None and isValid(self._first[2]):
            self._first[2].show_typed(None)
        self._first = None
        self._timer.stop()
        QApplication.instance().removeEventFilter(self._interrupts)


class _Interrupts(QObject):
    """On the application while a first digit waits: a click, a key other than a digit
    (the key filter reads those), or its window closing or losing the keys gives the
    first digit's class before that event acts; Esc drops the digit (a typo) unlabelled."""

    INPUT = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick,
             QEvent.Type.TouchBegin, QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        keys = self.parent()
        window = keys._first[3] if keys._first is not None else None
        # Esc comes as a ShortcutOverride first (a window's Esc shortcut), then a KeyPress:
        # both are taken here, the wait ended at the press. Ended at the first, the press
        # went on to the key filter, where Esc also closes the label history.
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and \
                isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape and \
                window is not None:
            event.accept()  # no shortcut of the window's acts on it
            if event.type() == QEvent.Type.KeyPress:
                keys._end_wait()  # nothing given: the analyst types the number again
            return True
        if event.type() in self.INPUT and _digit(event) is None or event.type() in (
                QEvent.Type.Close, QEvent.Type.WindowDeactivate) and watched is window:
            keys.give_first()
        return False
