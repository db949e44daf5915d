"""``crisisdesk install-desktop``: add crisisdesk to this user's application menu.

Freedesktop desktops (GNOME, KDE, Xfce...) look for a ``.desktop`` entry in
``$XDG_DATA_HOME/applications``, icons in ``$XDG_DATA_HOME/icons/hicolor`` and AppStream
metadata in ``$XDG_DATA_HOME/metainfo`` (``~/.local/share`` when XDG_DATA_HOME is unset):
writing there needs no root. The files ship in ``resources/icons/`` (masters in
``packaging/desktop/``); the entry's ``Exec`` is rewritten to the absolute path of the
``crisisdesk`` command that runs this code, because a virtual environment's ``bin/`` is
rarely on the desktop session's PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from crisisdesk.core.files import atomic_write
from crisisdesk.core.resources import resource

APP_ID = "org.crisisdesk.CrisisDesk"
ICON = "crisisdesk"
SIZES = (16, 32, 48, 64, 128, 256)
# Characters that make the desktop entry spec require a quoted Exec argument.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopInstallError(OSError):
    """The desktop integration cannot be installed here (the message says why)."""


def data_home() -> Path:
    """``$XDG_DATA_HOME`` or ``~/.local/share``: where per-user desktop files go."""
    value = os.environ.get("XDG_DATA_HOME")
    return Path(value) if value and Path(value).is_absolute() else \
        Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this crisisdesk: the frozen binary, the ``crisisdesk``
    script beside this Python, the one on PATH, or ``python -m crisisdesk``."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).absolute())]
    beside = Path(sys.executable).parent / "crisisdesk"
    if beside.is_file():
        return [str(beside.absolute())]
    found = shutil.which("crisisdesk")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "crisisdesk"]


def exec_quote(argument: str) -> str:
    """One Exec argument, quoted as the desktop entry spec asks."""
    argument = argument.replace("%", "%%")
    if not _RESERVED.intersection(argument):
        return argument
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    # The value is itself a desktop-file string, where a backslash is written twice.
    return '"' + escaped.replace("\\", "\\\\") + '"'


def desktop_entry(command: list[str]) -> str:
    """The shipped .desktop entry with ``Exec``/``TryExec`` pointing at ``command``."""
    text = resource("icons", f"{APP_ID}.desktop").read_text(encoding="utf-8")
    program = " ".join(exec_quote(part) for part in command)
    lines = []
    for line in text.splitlines():
        if line.startswith("Exec=crisisdesk"):
            line = "Exec=" + program + line[len("Exec=crisisdesk"):]
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0]
        lines.append(line)
    return "\n".join(lines) + "\n"


def planned_files(command: list[str] | None = None) -> dict[Path, bytes]:
    """Every file the integration writes, by path under ``data_home()``."""
    home = data_home()
    icons = home / "icons" / "hicolor"
    files = {
        home / "applications" / f"{APP_ID}.desktop":
            desktop_entry(command or launcher()).encode("utf-8"),
        home / "metainfo" / f"{APP_ID}.metainfo.xml":
            resource("icons", f"{APP_ID}.metainfo.xml").read_bytes(),
        icons / "scalable" / "apps" / f"{ICON}.svg":
            resource("icons", "crisisdesk.svg").read_bytes(),
    }
    for size in SIZES:
        files[icons / f"{size}x{size}" / "apps" / f"{ICON}.png"] = \
            resource("icons", f"crisisdesk-{size}.png").read_bytes()
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file renamed into place, readable by the
    desktop session (mkstemp alone makes it 0600)."""
    with atomic_write(path, binary=True, mode=0o644) as handle:
        handle.write(data)


def _refresh_caches() -> None:
    """Bring the menu's and the icon theme's caches up to date, where they already exist
    and the tools do.

    A cache is refreshed, never created: desktops find new files without one, and a
    per-user ``icon-theme.cache`` that crisisdesk made would outlive the uninstall and,
    once stale, hide the icons other applications put in the same folders later (GTK
    trusts it while the theme folder itself is older).
    """
    home = data_home()
    icons = home / "icons" / "hicolor"
    for tool, cache, args in (
            ("update-desktop-database", home / "applications" / "mimeinfo.cache",
             [str(home / "applications")]),
            ("gtk-update-icon-cache", icons / "icon-theme.cache", ["-f", "-t", str(icons)])):
        path = shutil.which(tool)
        if path and cache.is_file():
            subprocess.run([path, *args], capture_output=True, timeout=60, check=False)


def _check_platform() -> None:
    if sys.platform in ("win32", "darwin"):
        raise DesktopInstallError("install-desktop is for Linux desktops; on Windows and "
                                  "macOS start the app from the frozen build's folder "
                                  "(packaging/README.md)")


def install(command: list[str] | None = None) -> list[Path]:
    """Write the entry, icons and metainfo for this user; return the paths written."""
    _check_platform()
    written = []
    for path, data in planned_files(command).items():
        _write_atomic(path, data)
        written.append(path)
    _refresh_caches()
    return written


def uninstall() -> list[Path]:
    """Remove what ``install`` wrote; return the paths removed."""
    _check_platform()
    removed = []
    for path in planned_files(["crisisdesk"]):
        if path.is_file():
            path.unlink()
            removed.append(path)
    if removed:
        _refresh_caches()
    return removed
