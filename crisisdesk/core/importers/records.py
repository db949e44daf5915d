"""What importers produce: post records to write, and problems to report.

An importer only parses its source into :class:`PostRecord` objects (and
:class:`Problem` lines for what it could not use); one shared writer turns records into
posts, items, media, labels and splits. A new kind of source (a collector's export, a
watched folder) is a new parser yielding the same records.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple

from crisisdesk.core.files import write_json_atomic
from crisisdesk.core.importers.archive_names import fold_name as _fold
from crisisdesk.core.importers.archive_names import renamed_entry
from crisisdesk.core.words import IMAGES_FOLDER, plural


@dataclass(frozen=True)
class Where:
    """The place in a source a record or problem comes from: file, and row or line."""

    file: str
    row: int | None = None

    def __str__(self) -> str:
        return f"{self.file} row {self.row}" if self.row is not None else self.file


@dataclass
class MediaRef:
    """An image a record names: as written, and resolved inside the source (or not)."""

    declared: str
    path: Path | None = None
    n: int | None = None  # explicit media index (CrisisMMD's <tweet id>_<n>); else next free
    status: str | None = None  # 'missing', 'unreadable' or 'remote' (a URL) before any file access
    reason: str | None = None
    quiet: bool = False  # the parser reports this media's status itself, in a summary
    external_id: str | None = None  # the source's own id of the pair (CrisisMMD image_id)
    alt_text: str | None = None  # the poster's own description of the image
    note: str | None = None  # found under another spelling than declared (find_inside)
    # Said in the parser's summary when stored missing, not row by row (see MissingTally).
    tally: MissingTally | None = field(default=None, compare=False, repr=False)


@dataclass
class LabelRef:
    """A label a source gives to the items of a record, with its split if any, and who
    gave it when the source says (crisisdesk's own exports do: ``<task>_label_source``,
    ``<task>_annotator``, ``<task>_labelled_at``); else it is recorded as imported."""

    task: str
    label: str
    split: str | None = None
    source: str | None = None
    annotator: str | None = None
    labelled_at: str | None = None


@dataclass
class PostRecord:
    """One post (or one more image and labels of a post) as read from a source."""

    post_id: str
    where: Where
    text: str = ""
    platform: str | None = None
    author: str | None = None
    created_at: str | None = None
    language: str | None = None
    url: str | None = None
    event: str | None = None
    media: list[MediaRef] = field(default_factory=list)
    labels: list[LabelRef] = field(default_factory=list)
    # A repost, quote or reply: the platform id of the post it links to (collectors).
    original_post_id: str | None = None
    relation: str | None = None  # repost / quote / reply
    # Marked sensitive by the poster or the platform (graphic, nudity); None: not said.
    sensitive: bool | None = None
    # The project source a row of crisisdesk's own export names (its ``source`` column),
    # and whether the post is filed under it rather than the import's source: an export
    # of several sources is, so that posts of two sources sharing an id stay apart and
    # item ids stay what they were.
    source: str | None = None
    own_source: bool = False

    def post_fields(self) -> dict[str, str | bool | None]:
        """The fields stored on the post row."""
        return {"platform": self.platform, "author": self.author,
                "created_at": self.created_at, "text": self.text,
                "language": self.language, "url": self.url, "event": self.event,
                "original_post_id": self.original_post_id, "relation": self.relation,
                "sensitive": self.sensitive}


@dataclass(frozen=True)
class Expected:
    """A parser's estimate of how many records it will yield (for progress totals)."""

    count: int


@dataclass(frozen=True)
class Problem:
    """One line of an import report."""

    where: Where
    message: str
    severity: str = "error"  # error: something was not imported; warning: imported, but look

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


class MissingTally:
    """The images of one file a parser says in a summary (how many, how to attach them)
    rather than one line each. Only the writer knows which of them it stored as missing
    (a row of a post already stored matches an image stored earlier, which may be ok,
    or said to stay missing by the import), so it tells the tally each one
    (:meth:`add`) and the import asks for the lines once the writer is done
    (:meth:`finish`): counted when the file was read, one image was said twice, or
    said missing although stored ok."""

    def add(self, record: PostRecord, ref: MediaRef) -> None:
        """``ref``, an image of ``record``, is stored as missing by this import."""
        raise NotImplementedError

    def finish(self) -> Iterator[Problem]:
        """The report's lines about the images added."""
        raise NotImplementedError


# What a parser yields.
Parsed = PostRecord | Problem | Expected


@dataclass
class ImportReport:
    """What an import did and what it could not do; saved as JSON in the project."""

    sources: list[dict[str, str]] = field(default_factory=list)
    records: int = 0
    # Records that added nothing (post, items, labels, splits all there before this
    # import): a second import of a file said "0 new posts" alone, not why.
    records_known: int = 0
    posts_added: int = 0
    items_added: int = 0
    media_added: dict[str, int] = field(default_factory=dict)
    media_attached: int = 0
    labels_added: int = 0
    splits_added: int = 0
    problems: list[Problem] = field(default_factory=list)
    cancelled: bool = False
    unusable_sources: int = 0

    def add(self, where: Where, message: str, severity: str = "error") -> None:
        """Record a problem."""
        self.problems.append(Problem(where, message, severity))

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def counts(self) -> dict[str, Any]:
        """The report's numbers (stored with the job record)."""
        return {"records": self.records, "posts_added": self.posts_added,
                "items_added": self.items_added, "media_added": dict(self.media_added),
                "media_attached": self.media_attached, "labels_added": self.labels_added,
                "splits_added": self.splits_added, "errors": self.errors,
                "warnings": self.warnings}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [
            {"file": p.where.file, "row": p.where.row, "severity": p.severity,
             "message": p.message} for p in self.problems
        ]
        return data

    def save(self, path: Path) -> None:
        """Write the report as JSON (temp file + rename, like every file we write)."""
        write_json_atomic(path, self.to_json())

    def summary(self, max_problems: int = 20, stopped: str = "Cancelled") -> str:
        """A few lines for a terminal: counts, then the first problems. ``stopped``: the
        first word when the job was stopped (a watch's normal end says "Stopped")."""
        media = ", ".join(f"{n:,} {s}" for s, n in sorted(self.media_added.items())) or "none"
        lines = [
            f"{stopped if self.cancelled else 'Imported'}: "
            f"{plural(self.posts_added, 'new post')}, {plural(self.items_added, 'new item')}, "
            f"media added: {media}"
            + (f", {plural(self.media_attached, 'image')} attached" if self.media_attached
               else "")
            + (f"; {plural(self.records_known, 'row')} already in the project"
               if self.records_known else ""),
            f"{plural(self.labels_added, 'label')} and {plural(self.splits_added, 'split')} "
            f"added; {plural(self.errors, 'error')}, {plural(self.warnings, 'warning')}",
        ]
        for problem in self.problems[:max_problems]:
            lines.append(f"  {problem}")
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more in the report")
        return "\n".join(lines)


def unstorable_name(path: Path | str) -> str | None:
    """Why a file's name cannot be stored (None: it can): bytes that are not UTF-8 (a zip
    or a disk written under another encoding), which Python keeps as lone surrogates and
    SQLite refuses, ending the whole import in a traceback."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return (f"file name is not valid UTF-8 ({shown_name(text)}): rename it (or unpack "
                "the zip with the encoding it was made in), then import again")
    return None


def shown_name(path: Path | str) -> str:
    """A path as reports can write it: bytes that are not UTF-8 as ``\\xe9``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resolve_inside(root: Path, declared: str) -> tuple[Path | None, str | None]:
    """Resolve a path written in a source against the source's root folder.

    Returns (path, None) for a path that stays inside ``root`` after following
    ``..`` and symlinks, else (None, reason). Absolute paths are accepted only when
    they point inside ``root`` (or, written on another machine, when their last parts
    name one file under it). A name that differs from the file's as other systems
    allow is matched: see :func:`find_inside`.
    """
    found = find_inside(root, declared)
    return found.path, found.reason


class Located(NamedTuple):
    """Where a path written in a source leads: the file (``note`` says how, when it was
    found under another spelling than the one written), or None and why (``missing``:
    no file, or two, rather than a path refused)."""

    path: Path | None
    reason: str | None = None
    note: str | None = None
    missing: bool = False


def find_inside(root: Path, declared: str) -> Located:
    """As :func:`resolve_inside`, saying how a file was found under another spelling
    than the one written.

    A sheet made on Windows or macOS names files as those systems find them: in another
    letter case (``Photo.JPG`` for ``photo.jpg``), in another Unicode form (macOS keeps
    names decomposed, a sheet typed in Excel composed), with trailing dots or spaces
    (Windows drops them), or by a path on the maker's disk (``C:\\Users\\ana\\img\\1.jpg``,
    found by its last parts under ``root``). One such file is taken; two candidates are
    never guessed between: the reason names them. A path naming no file at
    all is returned as written (the writer reports it missing).
    """
    text = declared.strip()
    if not text:
        return Located(None, "empty path")
    if "\x00" in text:
        return Located(None, f"path contains a NUL byte: {text!r}")
    try:
        text.encode("utf-8")  # the store's too: a name with \udc80 fails there
    except UnicodeEncodeError:  # else os.path.realpath raised it and ended the import
        return Located(None, f"path holds half of a UTF-16 surrogate pair: {text!r}")
    # Backslashes are separators in exports made on Windows.
    posix = text.replace("\\", "/")
    real_root = Path(os.path.realpath(root))
    windows = bool(PureWindowsPath(text).drive)
    absolute = windows or posix.startswith("/")
    if absolute:
        candidate = Path(posix)
    else:
        candidate = real_root / PurePosixPath(posix)
    real = Path(os.path.realpath(candidate))
    # A drive path (C:\...) is relative on a POSIX machine: realpath put it under the
    # working folder, inside the root whenever the import ran from there.
    inside = candidate.is_absolute() and (real == real_root or real_root in real.parents)
    # An archive's entry unpacked under another name (img_1.jpg beside IMG_1.jpg): its
    # own file, before the name as written (on macOS and Windows, IMG_1.jpg's file).
    if inside and (renamed := renamed_entry(real_root, real.relative_to(real_root).parts)):
        return Located(renamed)
    if inside and os.path.lexists(real):
        return Located(real)
    found: list[Path] = []
    if inside:
        found = _spellings(real_root, real.relative_to(real_root).parts)
    elif absolute:  # the maker's absolute path: its last parts, longest first, under the root
        parts = (PureWindowsPath(text) if windows else PurePosixPath(posix)).parts[1:]
        for start in range(len(parts)):
            found += [p for p in _spellings(real_root, parts[start:]) if p not in found]
    if len(found) > 1:
        names = ", ".join(p.relative_to(real_root).as_posix() for p in found[:5])
        return Located(None, (f"file not found as written: {declared}; {len(found)} files under "
                      f"{root} match it but for letter case, accents or the folders above "
                      f"({names}): rename them apart or write the one meant"), missing=True)
    if found:
        rel = found[0].relative_to(real_root).as_posix()
        return Located(found[0], note=f"found as {rel} under {root} ({_how(text, rel)})")
    if inside:
        return Located(real)
    if absolute and (windows or not os.path.lexists(candidate)):  # not this machine's
        return Located(None, (f"a path on another computer: {declared}; no file under "
                              f"{root} ends with its last parts: give as the images folder "
                              f"the one that holds its images' folder ({IMAGES_FOLDER})"),
                            missing=True)
    return Located(None, f"path leaves the source folder: {declared} (refused)")


@functools.lru_cache(maxsize=64)
def _folder_names(folder: str, mtime_ns: int) -> dict[str, tuple[str, ...]]:
    """A folder's entries by folded name (cached while the folder is unchanged: a sheet
    of 10,000 rows naming every photo in capitals lists the folder once)."""
    names: dict[str, tuple[str, ...]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            key = _fold(entry.name)
            names[key] = (*names.get(key, ()), entry.name)
    return names


def _spellings(real_root: Path, parts: tuple[str, ...]) -> list[Path]:
    """The files under ``real_root`` that ``parts`` names, a part matching an entry of
    the same folded name when no entry has the part's exact name; each found file's real
    path stays inside ``real_root`` (a symlink out is not a candidate)."""
    folders = [real_root]
    for part in parts:
        if part in ("", ".", "..") or not _fold(part):
            return []
        step: list[Path] = []
        for folder in folders:
            if os.path.lexists(folder / part):
                step.append(folder / part)
                continue
            try:
                listed = _folder_names(str(folder), folder.stat().st_mtime_ns)
            except OSError:
                continue
            step += [folder / name for name in listed.get(_fold(part), ())
                     if not unstorable_name(name)]
        folders = step
    found: list[Path] = []
    for path in folders:
        real = Path(os.path.realpath(path))
        if real.is_file() and real_root in real.parents and real not in found:
            found.append(real)
    return found


def _how(declared: str, found: str) -> str:
    """What the written path and the found one differ in, for the report."""
    written = PurePosixPath(declared.replace("\\", "/")).parts
    ways: list[str] = []
    if len(written) > len(PurePosixPath(found).parts):
        ways.append("taken by its last parts")
    for mine, theirs in zip(reversed(written), reversed(PurePosixPath(found).parts),
                            strict=False):
        if mine.rstrip(". ") != mine and "trailing dots or spaces" not in ways:
            ways.append("trailing dots or spaces")
        mine_nfc, theirs_nfc = (unicodedata.normalize("NFC", n) for n in (mine, theirs))
        if (mine_nfc != mine or theirs_nfc != theirs) and mine != theirs \
                and "Unicode form" not in ways:
            ways.append("Unicode form")
        if mine_nfc.rstrip(". ") != theirs_nfc and "letter case" not in ways:
            ways.append("letter case")
    return ", ".join(ways) or "spelling"
