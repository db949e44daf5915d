"""Lines said to a screen reader without the keyboard focus moving: the keys stay on the
item list while the analyst labels, so the task Tab outlines and the label a number key
gives (the status bar's line) were seen only, never heard.
"""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible

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
