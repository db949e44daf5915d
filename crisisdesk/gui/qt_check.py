"""The doctor's Qt check: whether Qt can open the app's window here, and how to fix it.

It lives with the GUI so that the core doctor knows nothing of Qt; ``crisisdesk doctor``
adds it to the run. The probe starts Qt in a child process, because a missing platform
plugin aborts the process that tries. Importing this module does not import Qt.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path
from typing import Any

from crisisdesk.core.doctor import OK, PROBLEM, WARNING, Check, ProbeCheck

#: Starts Qt's GUI layer the way the app does and names the platform plugin it got.
QT_PROBE = r"""
import json, sys, PySide6
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
print(json.dumps({"platform": app.platformName(), "pyside6": PySide6.__version__}))
"""


def missing_x11_library() -> tuple[str, str] | None:
    """(why, the Debian/Ubuntu package) when a system library of Qt's X11 plugin is
    missing; None when the plugin loads, Qt will not use X11, or it fails otherwise.

    Qt aborts a process whose platform plugin does not load, and its advice (reinstall,
    or libxcb-cursor0) often names the wrong library; loading the plugin the way Qt will
    names the first one missing. pip cannot install these: the system's packages do.
    """
    # "xcb:option=..." or a fallback list "xcb;wayland": the first platform is tried.
    platform = re.split(r"[:;]", os.environ.get("QT_QPA_PLATFORM") or "xcb")[0]
    if (not sys.platform.startswith("linux") or platform != "xcb"
            or os.environ.get("WAYLAND_DISPLAY") or not os.environ.get("DISPLAY")):
        return None
    from PySide6.QtCore import QLibraryInfo  # here: importing this module loads no Qt

    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath),
                  "platforms", "libqxcb.so")
    if not plugin.is_file():
        return None  # a Qt laid out otherwise: leave it to Qt
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        found = re.match(r"(lib\S+?)\.so\.(\d+): cannot open shared object", str(exc))
        if not found:
            # Anything else (an unresolved symbol: ctypes binds every symbol at once,
            # Qt lazily) may not stop Qt: let it try.
            return None
        # Debian names a library's package after its soname: libxcb-icccm.so.4 is in
        # libxcb-icccm4, libxkbcommon-x11.so.0 in libxkbcommon-x11-0.
        base, version = found.groups()
        return str(exc), (base + ("-" if base[-1].isdigit() else "") + version).lower()
    return None


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
    missing = missing_x11_library() if sys.platform.startswith("linux") else None
    if missing is not None:
        fix = (f"install the system library Qt's X11 plugin lacks ({missing[0]}): on "
               f"Debian and Ubuntu, sudo apt install {missing[1]}")
    elif sys.platform.startswith("linux"):
        fix = ("install the X11/Wayland libraries Qt needs, e.g. sudo apt install "
               "libxcb-cursor0 libxkbcommon-x11-0 libegl1; or try QT_QPA_PLATFORM=wayland")
    return Check("qt", PROBLEM, f"Qt cannot start the app's window: {error}", fix,
                 {"error": error})


#: The check as the doctor runs it (never in-process in the frozen app: an abort there
#: would take the doctor down).
QT_CHECK = ProbeCheck("qt", QT_PROBE, check_qt, in_frozen_app=False)
