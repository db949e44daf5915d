"""The doctor's Qt check: whether Qt can open the app's window here, and how to fix it.

It lives with the GUI so that the core doctor knows nothing of Qt; ``crisisdesk doctor``
adds it to the run. The probe starts Qt in a child process, because a missing platform
plugin aborts the process that tries. Importing this module does not import Qt.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from crisisdesk.core.doctor import OK, PROBLEM, WARNING, Check, ProbeCheck

#: Starts Qt's GUI layer the way the app does and names the platform plugin it got.
QT_PROBE = r"""
import json, sys, PySide6
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
print(json.dumps({"platform": app.platformName(), "pyside6": PySide6.__version__}))
"""


def check_qt(info: dict[str, Any] | None, error: str) -> Check:
    """Whether Qt starts a GUI here, and with which platform plugin."""
    if info is not None:
        return Check("qt", OK, f"PySide6 {info['pyside6']}, platform plugin "
                     f"{info['platform']}", details=info)
    if error == "not probed in the frozen app":
        return Check("qt", OK, "bundled with the app (not probed)")
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM"))
    if headless:
        return Check("qt", WARNING, "no display: the app cannot open here (the command "
                     "line works)", "start crisisdesk in a desktop session, or use "
                     "QT_QPA_PLATFORM=offscreen for a headless check", {"error": error})
    fix = "pip install --force-reinstall PySide6"
    if sys.platform.startswith("linux"):
        fix = ("install the X11/Wayland libraries Qt needs, e.g. sudo apt install "
               "libxcb-cursor0 libxkbcommon-x11-0 libegl1; or try QT_QPA_PLATFORM=wayland")
    return Check("qt", PROBLEM, f"Qt cannot start the app's window: {error}", fix,
                 {"error": error})


#: The check as the doctor runs it (never in-process in the frozen app: an abort there
#: would take the doctor down).
QT_CHECK = ProbeCheck("qt", QT_PROBE, check_qt, in_frozen_app=False)
