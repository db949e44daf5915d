"""The names an archive's entries are unpacked under: names every desktop can hold.

A zip made on Linux may hold names that Windows or macOS cannot keep apart or cannot
hold at all: ``IMG_1.jpg`` and ``img_1.jpg`` (one file on a case-insensitive file system:
the second was unpacked over the first, and a post showed another post's picture),
``Café.jpg`` composed and decomposed (one file on macOS), ``CON.jpg`` or ``aux.png``
(devices on Windows), ``a<b>.jpg``, names ending in a dot or a space, names too long for
a file system. Such an entry is unpacked under another name, the same on every system (a
project moved from Linux to a Mac still holds every file), and the folder keeps a record
of what each was renamed from (:data:`NAMES_FILE`). The import finds a file by the name
its table or sidecar wrote through that record (:func:`renamed_entry`), and a folder's
posts keep the ids their names give (:func:`original_entry`): each post keeps its own
image and its id.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from crisisdesk.core.files import write_json_atomic

#: In an archive's folder under media/: ``{"renamed": {entry path: path unpacked as}}``.
#: Hidden, like the archive marker: a folder's listing skips it.
NAMES_FILE = ".crisisdesk-names.json"
#: Windows' device names: ``CON``, ``con.jpg``, ``Aux .png`` all name the device.
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                      *(f"{d}{n}" for d in ("COM", "LPT") for n in "0123456789¹²³")})
#: Characters Windows refuses in a name (and the control characters).
UNSAFE = re.compile(r'[<>:"|?*\\\x00-\x1f]')
#: The longest name written, in UTF-8 bytes of its decomposed form (macOS keeps names
#: decomposed; every system allows 255 bytes or UTF-16 units): room for a ``~2``.
MAX_NAME_BYTES = 200


def fold_name(name: str) -> str:
    """A name as Windows and macOS compare it: composed, case folded, without the
    trailing dots and spaces Windows drops."""
    return unicodedata.normalize("NFC", name).casefold().rstrip(". ")


def _too_long(name: str) -> bool:
    return len(unicodedata.normalize("NFD", name).encode("utf-8")) > MAX_NAME_BYTES


def safe_name(name: str) -> str:
    """``name`` as Windows can hold it: its refused characters as ``_``, no trailing dot
    or space, a device name's stem followed by ``_`` (``CON_.jpg``), a name too long cut
    (its suffix kept, a hash of the whole added so that two long names stay apart)."""
    text = UNSAFE.sub("_", name).rstrip(". ") or "_"
    stem, dot, rest = text.partition(".")
    if stem.rstrip(" ").upper() in RESERVED:
        text = f"{stem}_{dot}{rest}"
    if _too_long(text):
        suffix = PurePosixPath(text).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        tag = "~" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        stem = text[:len(text) - len(suffix)]
        while stem and _too_long(stem + tag + suffix):
            stem = stem[:-1]
        text = stem.rstrip(". ") + tag + suffix
    return text


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``stem~2.ext``, ``stem~3.ext``...: the first whose folded form is
    not in ``taken`` (which then holds it)."""
    path = PurePosixPath(name)
    candidate, number = name, 1
    while fold_name(candidate) in taken:
        number += 1
        candidate = f"{path.stem}~{number}{path.suffix}"
    taken.add(fold_name(candidate))
    return candidate


def plan_names(paths: Iterable[PurePosixPath], reserved: Iterable[str] = ()
               ) -> tuple[dict[PurePosixPath, PurePosixPath], list[tuple[str, str]]]:
    """Where each of an archive's entry ``paths`` (files and folders, in the archive's
    order) is unpacked, relative to its folder; and each name changed, once, as
    (entry path, unpacked as). The first entry of a name keeps it; ``reserved``: names
    at the top that belong to crisisdesk (the archive marker, :data:`NAMES_FILE`)."""
    written: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
    taken: dict[tuple[str, ...], set[str]] = {(): {fold_name(n) for n in reserved}}
    changes: list[tuple[str, str]] = []
    plan: dict[PurePosixPath, PurePosixPath] = {}
    for path in paths:
        parts = path.parts
        for i in range(1, len(parts) + 1):
            if parts[:i] in written:
                continue
            parent = written[parts[:i - 1]]
            name = _unique(safe_name(parts[i - 1]), taken.setdefault(parent, set()))
            written[parts[:i]] = (*parent, name)
            if name != parts[i - 1]:
                changes.append(("/".join(parts[:i]), "/".join(written[parts[:i]])))
        plan[path] = PurePosixPath(*written[parts])
    return plan, changes


def save_names(folder: Path, plan: dict[PurePosixPath, PurePosixPath]) -> None:
    """Record in ``folder`` the entries unpacked under another name (or remove the
    record when there are none)."""
    renamed = {a.as_posix(): b.as_posix() for a, b in plan.items() if a != b}
    if renamed:
        write_json_atomic(folder / NAMES_FILE, {"renamed": renamed})
    else:
        (folder / NAMES_FILE).unlink(missing_ok=True)


@functools.lru_cache(maxsize=32)
def _read_names(path: str, mtime_ns: int) -> tuple[dict[str, str], dict[str, str]]:
    """The record in file ``path``: (entry path -> unpacked as, and back); cached while
    the file is unchanged (a table of 10,000 rows reads it once)."""
    try:
        with open(path, encoding="utf-8") as handle:
            renamed = json.load(handle).get("renamed", {})
    except (OSError, ValueError, AttributeError):
        return {}, {}  # a damaged record: names are looked up as written
    if not isinstance(renamed, dict):
        return {}, {}
    forward = {str(k): str(v) for k, v in renamed.items()}
    return forward, {v: k for k, v in forward.items()}


def _names_of(base: Path) -> tuple[dict[str, str], dict[str, str]] | None:
    """The record of the archive unpacked in ``base``, if it has one."""
    try:
        stat = (base / NAMES_FILE).stat()
    except OSError:
        return None
    return _read_names(str(base / NAMES_FILE), stat.st_mtime_ns)


def _record_for(root: Path) -> tuple[dict[str, str], dict[str, str], str] | None:
    """The record that holds ``root``'s files, and ``root``'s entry path in it. An
    import reads the archive's folder, or its one top folder (see extract_zip)."""
    names = _names_of(root)
    if names is not None:
        return (*names, "")
    names = _names_of(root.parent)
    if names is None:
        return None
    forward, inverse = names
    return forward, inverse, inverse.get(root.name, root.name) + "/"


def renamed_entry(root: Path, parts: tuple[str, ...]) -> Path | None:
    """The file an archive's entry ``parts`` (relative to ``root``, as a table inside
    the archive names it) was unpacked as, when under another name; else None."""
    record = _record_for(root) if parts else None
    if record is None:
        return None
    forward, _, prefix = record
    written = forward.get(prefix + "/".join(parts))
    if written is None:
        return None
    return root.parent / written if prefix else root / written


def original_entry(root: Path, path: Path) -> PurePosixPath:
    """``path`` (a file under ``root``) relative to ``root``, as the archive named it
    when it was unpacked under another name."""
    rel = PurePosixPath(Path(os.path.relpath(path, root)).as_posix())
    record = _record_for(root)
    if record is None:
        return rel
    _, inverse, prefix = record
    original = inverse.get(prefix + rel.as_posix())
    return PurePosixPath(original[len(prefix):]) if original is not None else rel
