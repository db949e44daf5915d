"""Where crisisdesk keeps per-user settings (registered model folders, last project).

``CRISISDESK_CONFIG_DIR`` overrides the folder (tests use it); otherwise the platform's
usual place: ``%APPDATA%\\crisisdesk``, ``~/Library/Application Support/crisisdesk`` or
``$XDG_CONFIG_HOME/crisisdesk`` (``~/.config/crisisdesk``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from crisisdesk.core.files import write_json_atomic


def config_dir() -> Path:
    """The per-user settings folder (not created here)."""
    if os.environ.get("CRISISDESK_CONFIG_DIR"):
        return Path(os.environ["CRISISDESK_CONFIG_DIR"])
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "crisisdesk"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "crisisdesk"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crisisdesk"


def read_settings(name: str) -> dict[str, Any]:
    """A settings file's content ({} when absent or unreadable)."""
    path = config_dir() / name
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_settings(name: str, data: dict[str, Any]) -> Path:
    """Replace a settings file atomically; return its path."""
    path = config_dir() / name
    write_json_atomic(path, data)
    return path
