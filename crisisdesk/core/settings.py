"""Where crisisdesk keeps per-user settings (registered model folders, last project).

``CRISISDESK_CONFIG_DIR`` overrides the folder (tests use it); otherwise the platform's
usual place: ``%APPDATA%\\crisisdesk``, ``~/Library/Application Support/crisisdesk`` or
``$XDG_CONFIG_HOME/crisisdesk`` (``~/.config/crisisdesk``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from crisisdesk.core.files import write_json_atomic

logger = logging.getLogger(__name__)


def _platform_dir(override: str, windows: str, xdg: str, xdg_default: Path) -> Path:
    """``$override``, else the platform's usual per-user folder for crisisdesk."""
    if os.environ.get(override):
        return Path(os.environ[override])
    if sys.platform == "win32" and os.environ.get(windows):
        return Path(os.environ[windows]) / "crisisdesk"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "crisisdesk"
    return Path(os.environ.get(xdg) or xdg_default) / "crisisdesk"


def config_dir() -> Path:
    """The per-user settings folder (not created here)."""
    return _platform_dir("CRISISDESK_CONFIG_DIR", "APPDATA", "XDG_CONFIG_HOME",
                         Path.home() / ".config")


class SettingsError(ValueError):
    """A settings file that is there but cannot be read as a JSON object."""


def read_settings(name: str) -> dict[str, Any]:
    """A settings file's content ({} when absent or unreadable)."""
    try:
        return read_settings_strict(name)
    except SettingsError:
        return {}


def read_settings_strict(name: str) -> dict[str, Any]:
    """A settings file's content ({} when absent); SettingsError naming the file and
    what is wrong when it is there but unreadable, so that a writer does not replace a
    file spoilt by a hand edit (and every entry in it) with one entry."""
    path = config_dir() / name
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} should hold a JSON object, not "
                            f"{type(data).__name__}")
    return data


def write_settings(name: str, data: dict[str, Any]) -> Path:
    """Replace a settings file atomically; return its path."""
    path = config_dir() / name
    write_json_atomic(path, data)
    return path


def user_data_dir() -> Path:
    """The per-user data folder (the demo project lives there; not created here).

    ``CRISISDESK_DATA_DIR`` overrides it (tests use it); otherwise ``%LOCALAPPDATA%\\
    crisisdesk``, ``~/Library/Application Support/crisisdesk`` or ``$XDG_DATA_HOME/
    crisisdesk`` (``~/.local/share/crisisdesk``).
    """
    return _platform_dir("CRISISDESK_DATA_DIR", "LOCALAPPDATA", "XDG_DATA_HOME",
                         Path.home() / ".local" / "share")


APP_SETTINGS = "app.json"


def remember_project(path: Path | str) -> bool:
    """Record ``path`` as the project the app opens next time; False (and a logged
    warning) when the settings folder cannot be written: the project still opens, it is
    only not remembered (the doctor names the settings folder as the problem)."""
    data = read_settings(APP_SETTINGS)
    data["last_project"] = str(Path(path).expanduser().absolute())
    try:
        write_settings(APP_SETTINGS, data)
    except OSError as exc:
        logger.warning("the last project is not remembered: %s cannot be written (%s)",
                       config_dir() / APP_SETTINGS, exc.strerror or exc)
        return False
    return True


def last_project() -> Path | None:
    """The project the app had open last, as recorded (it may since have gone)."""
    value = read_settings(APP_SETTINGS).get("last_project")
    return Path(value) if isinstance(value, str) and value else None


def one_line_name(text: str) -> str:
    """A name as one line: one pasted with line breaks or tabs (from an e-mail, "Ana"
    and "Maria" on two lines) is joined with spaces; a typed name is kept as typed,
    only stripped. Else the journal files those labels apart from the same analyst's
    labels given as "Ana Maria", and the status bar and exports show two lines."""
    return " ".join(text.split()) if not text.isprintable() else text.strip()


def login_name() -> str:
    """The user's login name, the annotator labels are given under by default; "analyst"
    where there is none (a container's uid with no passwd entry and no USER set, where
    getpass raised and every command stopped)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "analyst"

