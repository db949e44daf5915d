"""The desktop app (PySide6). Depends on crisisdesk.core; core never imports this package."""

# Before any Qt class is subclassed: see pyside_fix (PySide6 6.12 drops refs to None).
from crisisdesk.gui import pyside_fix as _pyside_fix  # noqa: E402, F401
