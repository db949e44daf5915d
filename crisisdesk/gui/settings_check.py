"""Settings the app cannot use, said once when the app starts, in a note atop the main
window (no dialog: it takes no keys from the list).

Before, a device with no GPU behind it, a quantization word the app does not know or a
model folder that is gone or spoilt was said only when Settings was opened or a job
failed on it, after the analyst had queued the work. Nothing falls back: the jobs that need such a
setting still stop on it (a CPU run of a GPU setting, or another copy of a model, is not
what was chosen); the note says so, naming the file, the key and the value.

Reading the settings file is cheap and done on the UI thread; the checks that import
torch or touch model folders (a network drive may hang) run in the window's background
pool.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisisdesk.gui.dialogs.settings_dialog import (
    CHOICES,
    DEFAULTS,
    app_settings,
    choice_problem,
    setting,
    unread_problem,
)
from crisisdesk.gui.launch_notice import show_launch_notice

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow

#: Who stops on a setting of ``CHOICES`` that is none of its choices.
_STOPPED = {"device": "embedding and local captions", "quantization": "local captions"}
#: The settings that name a model, and the job that loads it.
MODEL_KEYS = {"image_encoder": "Embed", "text_encoder": "Embed", "captioner": "Caption images"}


def read_problems() -> list[str]:
    """The stored values the app cannot read or that are none of their choices (a
    settings file read: cheap enough for the UI thread)."""
    problems = [p for p in map(unread_problem, DEFAULTS) if p is not None]
    for key in CHOICES:
        problem = choice_problem(key)
        if problem is not None:
            problems.append(f"{problem} (until then {_STOPPED[key]} stop on it)")
    return problems


def unusable_problems(file: str, values: dict[str, Any]) -> list[str]:
    """Settings that are valid words the app cannot use on this machine: ``device=cuda``
    without a usable CUDA GPU, 8/4-bit without bitsandbytes, a model registered at a
    folder that is gone, a text model whose settings files cannot be read. Imports
    torch and reads model folders: run it off the UI thread."""
    from crisisdesk.core.encoders.factory import folder_problem
    from crisisdesk.core.models import registry

    problems: list[str] = []
    local_captions = not str(values["caption_server"]).strip()
    device = values["device"]
    if device == "cuda":  # cuda:N is none of the choices: read_problems says it
        try:
            import torch
        except ImportError:
            torch = None  # every job says so, and the doctor
        if torch is not None and not torch.cuda.is_available():
            problems.append(
                f"{file}: device = {device!r}: no CUDA GPU is usable here (torch "
                f"{torch.__version__}, CUDA build: {torch.version.cuda}); embedding"
                f"{' and local captions' if local_captions else ''} stop on it rather than "
                "run on the CPU: choose auto or cpu in Settings")
    quant = values["quantization"]
    if local_captions and quant in ("8bit", "4bit") and \
            importlib.util.find_spec("bitsandbytes") is None:
        problems.append(f"{file}: quantization = {quant!r} needs bitsandbytes, which is not "
                        "installed; local captions stop on it: choose none or auto in "
                        "Settings, or pip install bitsandbytes")
    try:
        registered = registry.registered_paths(strict=True)
    except registry.RegistrationsUnreadable as exc:
        problems.append(str(exc))
        registered = {}
    for key, job in MODEL_KEYS.items():
        name = str(values[key]).strip()
        if key == "captioner" and not local_captions:
            continue
        entry = registered.get(name)
        if entry and not Path(entry["path"]).exists():
            problems.append(
                f"{file}: {key} = {name!r} is registered at {entry['path']}, which no "
                "longer exists (moved, deleted, or on a drive that is not mounted); "
                f"{job} stops on it rather than use another copy: register it again "
                "where it is now (Settings, Model folders) or choose another model")
        elif key == "text_encoder":
            # A folder spoilt since it was added (a hand edit, a half-finished copy) was
            # said only by the first Embed with texts to encode, mid-queue.
            problem = folder_problem(name).removeprefix(f"{name}: ")
            if problem:
                problems.append(f"{file}: {key} = {name!r}, whose folder cannot be used: "
                                f"{problem}; {job} stops on it: mend or replace that "
                                "file, or choose another model in Settings")
    return problems


def say_at_start(window: MainWindow) -> None:
    """Check the settings (the slow part in ``window``'s background pool) and, when some
    cannot be used, show one note saying which, atop ``window``."""
    said = read_problems()
    file = app_settings().fileName()
    values = {key: setting(key) for key in ("device", "quantization", "caption_server",
                                            *MODEL_KEYS)}

    def show(more: list[str]) -> None:
        problems = said + more
        if problems:
            show_launch_notice(
                window, "Settings crisisdesk cannot use as they are:\n"
                + "\n".join(f"\u2022 {p}" for p in problems),
                name="Settings not usable", close_name="Close the note on the settings")

    # A check that failed itself says what the UI thread found, and no more.
    window.background.call(lambda: unusable_problems(file, values), show,
                           lambda _message: show([]))
