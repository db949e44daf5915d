"""What the app tells the analyst to do, in the app's words.

The core's messages name command-line commands (``crisisdesk embed PROJECT ...``): right
for the CLI, not for an analyst in the window. Here they name the window's actions
instead; the overlay and the jobs panel both use them, and the menus take the actions'
names from here so the advice cannot drift from what the menu says.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
from contextlib import suppress
from pathlib import Path

from crisisdesk.core.http_get import FETCH_COMMAND  # stdlib only

#: The core's words for its ``--device`` option, and the app's: there the device is a
#: setting (a CUDA device asked for on a machine without a GPU is an error either way).
_DEVICE_WORDS = (
    (re.compile(r"use --device (\w+) or (\w+)"), r"choose \1 or \2 as the device in Settings"),
    (re.compile(r"--device (\S+): "), r"device \1 (Settings): "),
)

#: The core's words for the caption options the app has as settings (the advice of a
#: captioner that does not fit in the GPU's memory: captions.loading), and the app's;
#: after _DEVICE_WORDS, so that the device's own wordings go first.
_SETTING_WORDS = (
    (re.compile(r"--quant (auto|none|4bit|8bit)\b"), r"Quantization \1 in Settings"),
    (re.compile(r"--captioner (\S+)"), r"Captioner \1 in Settings"),
    (re.compile(r"--server URL"), "a Caption server in Settings"),
    (re.compile(r"--device (\w+)"), r"Device \1 in Settings"),
)

#: The commands of what the app cannot do itself: fetching remote media, relinking a
#: folder that moved. Said as commands to run in a terminal, with their arguments.
RELINK_COMMAND = "in a terminal: crisisdesk media relink PROJECT OLD_FOLDER NEW_FOLDER"


def for_project(command: str, project: Path | str | None) -> str:
    """``command`` with its PROJECT placeholder made the open project's folder (quoted
    for a shell where it has spaces), so the analyst can copy the line and run it; as it
    is where no project is known."""
    if project is None:
        return command
    return command.replace("PROJECT", shlex.quote(str(project)), 1)


#: The names of the Jobs menu's (and the toolbar's) actions, which messages point to.
EMBED_ACTION = "&Embed images and texts"
RETRAIN_ACTION = "&Retrain…"


def in_jobs_menu(text: str) -> str:
    """How a message names an action of the Jobs menu: ``Jobs › Embed images and texts``."""
    return "Jobs › " + text.replace("&", "").rstrip("…")


def no_model_advice(task: str) -> str:
    """What to do in the app when ``task`` has no model yet (the core's NoModel names the
    command-line commands, right for the CLI, not for the analyst in the window)."""
    from crisisdesk.core.schemes import builtin_schemes

    if task not in builtin_schemes():  # a project's own task: no shipped head or prompts
        return (f"no {task} model in this project yet: label items for it and run "
                f"{in_jobs_menu(RETRAIN_ACTION)}.")
    return (f"no {task} model in this project yet. Run {in_jobs_menu(EMBED_ACTION)}: the "
            "shipped text-only head predicts from MiniLM text embeddings, CLIP zero-shot "
            "scoring from CLIP image embeddings (encoders: Settings); or label items and "
            f"run {in_jobs_menu(RETRAIN_ACTION)}.")


def app_error(exc: BaseException | None) -> str | None:
    """A failed job's message in the app's words where they differ from the core's (a
    task with no model yet, the device option); None where the core's message stands.
    Without Python's class name: the jobs panel shows it to the analyst (the traceback,
    behind its row's Details…, keeps the class for an engineer)."""
    # Looked up, not imported: the predict module imports torch, and a NoModel can only
    # have been raised once a job loaded it.
    if exc is None:
        return None
    predict = sys.modules.get("crisisdesk.core.fusion.predict")
    if predict is not None and isinstance(exc, predict.NoModel) and exc.task is not None:
        return no_model_advice(exc.task)
    text = str(exc).strip()
    said = _in_app_words(text)
    return said if said != text else None


def _in_app_words(text: str) -> str:
    """``text`` with the core's option names made the app's settings."""
    for words, app_words in (*_DEVICE_WORDS, *_SETTING_WORDS):
        text = words.sub(app_words, text)
    return text


#: How the jobs table records a failure: ``Type: message`` (core.jobs.tracked).
_STORED_ERROR = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*: ")


def stored_error(text: str) -> str:
    """A job's error as the jobs table keeps it (``Type: message``), as the analyst
    reads it: without Python's class name nor an OS error's number, in the app's words
    (as :func:`plain_error` says an error raised now)."""
    text = text.strip()
    if (found := _STORED_ERROR.match(text)) and found.end() < len(text):
        kind, text = found.group()[:-2], text[found.end():]
        if kind == "KeyError" and text[:1] in "'\"" and text[-1:] == text[:1]:
            # Kept as str(exc): a KeyError's is its argument's repr (see plain_error).
            with suppress(ValueError, SyntaxError):
                text = str(ast.literal_eval(text))
    return os_words(_in_app_words(text))


#: Python's number before an OS error's words ("[Errno 28] No space left on device:
#: 'out.csv'", "[WinError 5] Access is denied"): of no use to an analyst.
_ERRNO = re.compile(r"\[(?:Errno|WinError) -?\d+\] ")


def os_words(text: str) -> str:
    """``text`` with each OS error it quotes in the OS's words alone: without the
    "[Errno N] " before them, the file name after them kept."""
    return _ERRNO.sub("", text)


def plain_error(exc: BaseException,
                silent: str = "an error that gave no message ({name})") -> str:
    """A failed job's or call's message as the analyst reads it: in the app's words where
    they differ from the core's (:func:`app_error`), without Python's class name
    ("OSError: ...", jargon to an analyst: the traceback and the log keep it for an
    engineer) nor an OS error's number (:func:`os_words`). An error with no message has
    only its class: ``silent`` says it then, ``{name}`` standing for the class."""
    said = app_error(exc)
    if said is not None:
        return os_words(said)
    args = exc.args
    # A KeyError's text is its argument's repr ("'no item 5'"): the core's are sentences.
    text = (args[0] if isinstance(exc, KeyError) and len(args) == 1
            and isinstance(args[0], str) else str(exc)).strip()
    return os_words(text) or silent.format(name=type(exc).__name__)


def media_note(status: str | None, path: str, reason: str | None, *,
               project: Path | str | None = None) -> str:
    """What the detail panel says in place of an image it cannot show, and what to do:
    the status alone ("Image missing: data_image/...") left the analyst with a blank half
    of the panel and no way forward. ``project``: the open project's folder, which the
    terminal commands name (else PROJECT)."""
    what = {"remote": "not downloaded yet", "unreadable": "unreadable"}.get(
        status or "", "missing")
    lines = [f"Image {what}:", path]
    if reason and reason not in path:
        lines.append(f"({reason})")
    if status == "remote":  # the app fetches nothing: the CLI does
        lines.append(f"Fetch it in a terminal: {for_project(FETCH_COMMAND, project)}")
    elif status != "unreadable":
        lines.append("Import the same file again with its images folder (File › Import…, "
                     "Images folder), or relink a folder that moved, "
                     + for_project(RELINK_COMMAND, project))
    return "\n".join(lines)


def list_image_note(status: str | None, path: str | None, reason: str | None,
                    decode_failed: bool, project: Path | None = None) -> str | None:
    """Why an item list row's tile shows no picture, for the row's tooltip (None: it
    shows one, or the item has no image): the tile's one word ("unreadable", "missing")
    gave no reason, and the detail pane was the only place that had it."""
    if path is None:
        return None
    if status != "ok":
        return media_note(status, path, reason, project=project)
    if decode_failed:  # read at import, not now: the thumbnail could not be decoded
        return ("Image could not be read (moved, deleted or damaged since the import):\n"
                f"{path}")
    return None
