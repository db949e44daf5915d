"""The stable name an import source's posts are filed under, from its file or folder name.

Names keep the letters, digits and marks of any script: ``زلزال.csv`` is source
``زلزال``. They were folded to ASCII (every other run of characters made ``_``), which
made ``زلزال.csv`` and ``فيضان.csv`` one source ``source`` (``Türkiye`` and ``Tärkiye``
one ``T_rkiye``), and a post of the second file was taken for the first's post of the
same id. Names that still fold alike (``flood report``, ``flood;report``) are told apart
by a suffix on the one that comes second. A file (or folder) a project already imported
under its old ASCII name keeps that name, so importing it again adds no copies.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from pathlib import Path

from crisisdesk.core.importers.rows import BIDI_CONTROLS, source_cell_problem
from crisisdesk.core.store import Store
from crisisdesk.core.store.relocate import written_path

#: What names were folded with before they kept other scripts (kept for old projects).
_ASCII_FOLD = re.compile(r"[^A-Za-z0-9_.-]+")
#: Characters kept besides letters, digits and marks (the categories L, N and M).
_KEPT = frozenset("_.-")


def readable_name(name: str) -> str:
    """``name`` (NFC) with each run of characters other than letters, digits and marks
    of any script, ``_``, ``.`` and ``-`` made one ``_``, and no ``_`` at either end: the
    old ASCII fold's result wherever ``name`` is ASCII. Control and bidi characters, the
    ``:`` of item ids and spaces go."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", name):
        if char in _KEPT or unicodedata.category(char)[0] in "LNM":
            out.append(char)
        elif not out or out[-1] != "\0":
            out.append("\0")  # a run of dropped characters, one "_" when joined
    return "".join(out).replace("\0", "_").strip("_")


def given_name_problem(name: str) -> str | None:
    """Why a source name given by hand (``--source``, the import dialog's Source name)
    cannot be used, naming the character at fault (None: it can). Checked as an export's
    ``source`` cell is, and for ``:``: the name leads each item id ``<source>:<post
    id>:<n>``, and ``a:b`` with post ``1`` made the id of source ``a``'s post ``b:1``.
    The front ends strip the name first ("" there means none given: named from the path);
    a name of spaces, or with spaces around it, is refused here (a notebook's
    ImportOptions), as it would lead every item id with them."""
    for char in name:
        if char == ":":
            return "holds ':', which separates the parts of an item id " \
                   "(<source>:<post id>:<n>)"
        if char in BIDI_CONTROLS:
            return f"holds the bidi control U+{ord(char):04X} " \
                   f"({unicodedata.name(char)}), which reorders the text after it"
        if unicodedata.category(char) == "Cc":
            return f"holds the control character U+{ord(char):04X}"
    if name and not name.strip():
        return "is empty (only spaces)"
    if name != name.strip():
        return "starts or ends with spaces"
    return source_cell_problem(name)


def _same_name(location: str | None, path: Path, name: str) -> bool:
    """Whether a source recorded at ``location`` was named from ``name`` as ``path``
    is: the same path, or one of the same name (the file or folder moved since)."""
    if location is None:
        return False
    if location == str(path.absolute()):
        return True
    stored = written_path(location)  # a project from Windows holds C:\... paths
    wanted = unicodedata.normalize("NFC", name)
    return wanted in {unicodedata.normalize("NFC", part) for part in (stored.name, stored.stem)}


def derived_source_name(store: Store, path: Path, name: str, fallback: str) -> str:
    """The name the posts of ``path`` go under in ``store``'s project, ``name`` being
    what it is named from (a file's stem, a folder's name); ``fallback`` where nothing
    of it is kept.

    The old ASCII name where the project recorded it for this file; else the readable
    name; where that lost characters and another name already took it, the readable
    name and a short hash of ``name`` (a name kept exactly is never suffixed: a source
    of that name is the same name's, merged with a warning as before).
    """
    readable = readable_name(name) or fallback
    old = _ASCII_FOLD.sub("_", name).strip("_") or fallback
    if old != readable and _same_name(store.source_location(old), path, name):
        return old
    exact = unicodedata.normalize("NFC", name)
    if readable == exact:
        return readable
    digest = hashlib.sha256(exact.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    suffixed = (f"{readable}-{digest}" + (f"-{n}" if n > 1 else "")
                for n in itertools.count(1))
    for candidate in itertools.chain([readable], suffixed):
        if (where := store.source_location(candidate)) is None or \
                _same_name(where, path, name):
            return candidate
    raise AssertionError("unreachable: the suffixes never run out")
