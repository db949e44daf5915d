"""What a job ran on, in words, from the parameters its record keeps (``jobs.params``).

The job history (:mod:`~crisisdesk.gui.dialogs.job_history`) says it per line: a
retrain's or a prediction's tasks, an import's files or folder, an export's tasks and
format, the encoder or captioner used. Names only, never a whole path (the line's room)
and never a post's or a label's text. The JSON is read defensively: a record written by
an older release, or edited by hand, says what it can and nothing where a value is not
what this release writes, never an error.
"""

from __future__ import annotations

import json
from pathlib import PureWindowsPath
from typing import Any

#: File or folder names said by name before "and N more".
NAMED = 2


def _text(value: Any) -> str:
    """``value`` when it is a non-empty string, else ""."""
    return value.strip() if isinstance(value, str) else ""


def _names(value: Any) -> list[str]:
    """The non-empty strings of ``value`` (a list, or one string)."""
    values = value if isinstance(value, list) else [value]
    return [text for text in map(_text, values) if text]


def _file(path: str) -> str:
    """The last part of ``path`` (a record may come from Windows: both separators)."""
    return PureWindowsPath(path).name or path


def _listed(names: list[str]) -> str:
    """"a, b and 3 more"."""
    shown = ", ".join(names[:NAMED])
    return shown + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")


def _tasks(params: dict[str, Any]) -> str:
    tasks = _names(params.get("tasks")) or _names(params.get("task"))
    return f"{'task' if len(tasks) == 1 else 'tasks'} {_listed(tasks)}" if tasks else ""


def _files(params: dict[str, Any], *keys: str) -> str:
    return _listed([_file(path) for key in keys for path in _names(params.get(key))])


def _join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _with(what: str, value: Any) -> str:
    return f"{what} {_text(value)}" if _text(value) else ""


def _import(params: dict[str, Any]) -> str:
    fmt = _text(params.get("format"))
    return f"{_files(params, 'sources')} {f'as {fmt}' if fmt != 'auto' else ''}".strip()


def _export(params: dict[str, Any]) -> str:
    fmt, out = _text(params.get("format")), _files(params, "out")
    return _join(f"{_tasks(params)} {f'as {fmt.upper()}' if fmt else ''}".strip(),
                 f"to {out}" if out else "")


def _embed(params: dict[str, Any]) -> str:
    kinds = " and ".join(_names(params.get("kinds")))
    return _join(_with("encoder", params.get("encoder")),
                 f"{kinds} embeddings" if kinds else "")


#: Per kind of job, its parameters in words; a kind not listed says nothing.
SAID = {
    "retrain": _tasks, "predict": _tasks, "train": _tasks,
    "import": _import,
    "import-watch": lambda p: _with("folder", _files(p, "folder")),
    "import-embeddings": lambda p: _join(_files(p, "path"), _with("encoder", p.get("encoder"))),
    "export": _export,
    "caption": lambda p: _with("captioner", p.get("captioner")),
    "embed": _embed,
}


def ran_on(kind: str, params: Any) -> str:
    """What the job of ``kind`` with the stored ``params`` (its JSON text, or None) ran
    on, in words ("tasks damage, humanitarian", "posts.csv as csv"); "" when the record
    says nothing this release can read."""
    said = SAID.get(kind)
    if said is None or not isinstance(params, str | bytes):
        return ""
    try:
        data = json.loads(params or "null")
    except (ValueError, TypeError):
        return ""
    return said(data) if isinstance(data, dict) else ""


__all__ = ["ran_on"]
