"""Words for a screen reader where the screen shows something else.

Lines said without the keyboard focus moving: the keys stay on the item list while the
analyst labels, so the task Tab outlines and the label a number key gives (the status
bar's line) were seen only, never heard. And a warning's sign, said in words.
"""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QLabel

from crisisdesk.gui.wrapping import plain

#: What starts a warning's text on screen; :func:`show_warning` shows it.
WARNING_SIGN = "\u26a0"
#: The dynamic property holding the accessible name :func:`show_warning` gave a label.
_SAID = "warningSaid"

#: Qt's announcement event, new in Qt 6.8; the app runs on PySide6 6.6 and 6.7 too, where
#: there is no way to have a screen reader say a line unasked: nothing is announced there
#: (the outline and the status bar still show it).
Announcement = getattr(QtGui, "QAccessibleAnnouncementEvent", None)


def announce(about: QObject, text: str) -> None:
    """Have a screen reader say ``text``, for ``about`` (the widget the words are about or
    shown in), after what it is saying now; nothing where Qt cannot announce. Qt drops it
    where no screen reader listens."""
    if Announcement is not None and text:
        QAccessible.updateAccessibility(Announcement(about, text))


def show_warning(label: QLabel, text: str) -> None:
    """Show ``text`` (in the label's text format) in ``label`` after the warning sign,
    and have a screen reader say "Warning:" for the sign: it said the sign's name
    ("warning sign") or its code, or skipped it.

    The words are the label's accessible name, unless its owner named it (then they are
    its description, followed by its tooltip: Qt says the tooltip there otherwise)."""
    label.setText(f"{WARNING_SIGN} {text}")
    words = f"Warning: {plain(text, label.textFormat())}"
    if label.accessibleName() in ("", label.property(_SAID)):
        label.setProperty(_SAID, words)
        label.setAccessibleName(words)
    else:
        label.setAccessibleDescription(" ".join(filter(None, (words, label.toolTip()))))
