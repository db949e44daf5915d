"""Zip archives of any importable source, extracted safely into the project.

Extracted files land in the project's ``media/<source>/`` folder (another archive of that
source name gets its own: see archive_place), so the images the
store points at outlive the import. Entries that would leave that folder (``../``,
absolute paths, drive letters), symlinks, oversized or over-compressed entries, and
encrypted or damaged ones are skipped with a report line; an archive with too many
entries, or one zipfile cannot list, is refused whole. A zip inside is unpacked as a file
and named in the report (its posts are not imported).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from crisisdesk.core.importers.archive_names import NAMES_FILE, plan_names, save_names
from crisisdesk.core.importers.records import Problem, Where
from crisisdesk.core.project import FETCHED_MEDIA

#: The file in an archive's folder under media/ that names the archive it holds (its
#: identity: see archive_place). Hidden: extract_zip's listing skips it.
ARCHIVE_MARKER = ".crisisdesk-archive"


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may hold."""

    max_entries: int = 50_000
    max_entry_bytes: int = 200 * 1024 * 1024
    max_total_bytes: int = 20 * 1024 * 1024 * 1024
    # Ratio of uncompressed to compressed size above which an entry is a zip bomb.
    max_ratio: int = 200


def _safe_name(name: str) -> PurePosixPath | None:
    """The entry's relative path, or None when it would leave the extraction folder."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return None
    parts = PurePosixPath(text).parts
    if any(part == ".." for part in parts):
        return None
    clean = [p for p in parts if p not in ("", ".")]
    return PurePosixPath(*clean) if clean else None


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its maker wrote it. zipfile reads a name without the UTF-8
    flag as code page 437, but macOS's Finder and Info-ZIP's ``zip`` write UTF-8 names
    without that flag: read so, ``Café.jpg`` unpacked as ``Caf├⌐.jpg`` and the post
    naming it found no image. Bytes that are no UTF-8 stay code page 437 (Windows)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def _entry_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Each entry's name as :func:`_entry_name` reads it, unless that lands on the path
    of another entry: then as zipfile reads it (code page 437), as all such names were
    read before. ``Café.jpg`` written with the UTF-8 flag and again without it was
    unpacked as one file, the second replacing the first without a word."""
    names = [_entry_name(info) for info in infos]
    paths = Counter(_safe_name(name) for name in names)
    return [name if name == info.filename or paths[_safe_name(name)] == 1 else info.filename
            for info, name in zip(infos, names, strict=True)]


def _mac_metadata(rel: PurePosixPath) -> bool:
    """Whether an entry is metadata macOS's Finder adds to every zip it makes (resource
    forks in ``__MACOSX/``, ``._`` AppleDouble files), never a post or an image: unpacked,
    the ``__MACOSX`` folder beside the archive's one top folder hid that folder's
    manifest, and each post's images were imported as posts of their own."""
    return rel.parts[0] == "__MACOSX" or rel.name.startswith("._")


@dataclass(frozen=True)
class ArchivePlace:
    """Where an archive unpacks (``folder``) and what marks the folder as its
    (``identity``: a hash of its table of contents; None when zipfile cannot list it)."""

    folder: Path
    identity: str | None


def _contents(archive: Path) -> list[tuple[str, int, int]] | None:
    """The archive's files as (name, CRC, size), sorted; None when it cannot be listed
    (extract_zip then says why)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            return sorted((i.filename, i.CRC, i.file_size) for i in zf.infolist()
                          if not i.is_dir())
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None


def archive_place(archive: Path, media: Path, name: str) -> ArchivePlace:
    """The folder under ``media`` that ``archive`` of source ``name`` unpacks into.

    ``media/<name>/`` when free, or already this archive's (its marker says so, or, for
    a folder unpacked before markers existed, it holds every entry at its size); else
    ``media/<name>-<identity prefix>/``. Two archives in one folder mixed: the second's
    posts were read from the first's files. Never the fetched media's folder. The table
    of contents is read once, not the whole archive.
    """
    contents = _contents(archive)
    if contents is None:
        return ArchivePlace(media / name, None)  # extract_zip refuses the archive
    identity = hashlib.sha256(repr(contents).encode("utf-8")).hexdigest()
    bare = media / name
    if name != FETCHED_MEDIA and (not bare.exists() or _holds(bare, contents, identity)):
        return ArchivePlace(bare, identity)
    return ArchivePlace(media / f"{name}-{identity[:12]}", identity)


def _holds(folder: Path, contents: list[tuple[str, int, int]], identity: str) -> bool:
    """Whether ``folder`` holds the archive of ``contents`` unpacked (by its marker, else
    its files)."""
    try:
        marker = folder / ARCHIVE_MARKER
        if marker.is_file():
            return marker.read_text("utf-8").strip() == identity
        return bool(contents) and all(
            (path := folder / name).is_file() and path.stat().st_size == size
            for name, _, size in contents)
    except (OSError, UnicodeError, ValueError):
        return False  # a folder it cannot read is not taken for the archive's


def mark_archive_folder(place: ArchivePlace, archive: Path, problems: list[Problem]) -> None:
    """Write the marker that says ``place.folder`` holds ``archive`` (a report line if
    not)."""
    if place.identity is None or not place.folder.is_dir():
        return
    try:
        (place.folder / ARCHIVE_MARKER).write_text(place.identity + "\n", "utf-8")
    except OSError as exc:
        problems.append(Problem(Where(str(archive)), f"could not mark {place.folder} as "
                                f"this archive's ({exc}); a re-import may unpack it again",
                                "warning"))


def extract_zip(archive: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()
                ) -> tuple[Path | None, list[Problem]]:
    """Extract ``archive`` into ``dest``; return (folder to import, problems).

    The folder is ``dest`` itself, or its only subfolder when the archive wraps
    everything in one top folder. None when the archive is unusable.
    """
    problems: list[Problem] = []
    where = Where(str(archive))
    try:
        zf = zipfile.ZipFile(archive)
    # Also what zipfile cannot list: a newer zip version (NotImplementedError), an entry
    # name marked UTF-8 that is not (UnicodeDecodeError, a ValueError).
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        reason = "an entry's name is marked UTF-8 but is not valid UTF-8" if isinstance(
            exc, UnicodeDecodeError) else str(exc)
        return None, [Problem(where, f"not a readable zip archive: {reason}")]
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            return None, [Problem(where, f"archive has {len(infos):,} entries; the limit is "
                                  f"{limits.max_entries:,} (split the archive, or import "
                                  "the unpacked folder)")]
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            return None, [Problem(where, f"archive would unpack to {total / 2**30:.1f} GB; "
                                  f"the limit is {limits.max_total_bytes / 2**30:.1f} GB")]
        dest.mkdir(parents=True, exist_ok=True)
        names = _entry_names(infos)
        # Names Windows or macOS cannot hold, or cannot keep apart (IMG_1.jpg and
        # img_1.jpg), are unpacked as others, on every system: see archive_names.
        plan, changes = plan_names(
            (rel for rel in map(_safe_name, names) if rel is not None
             and not _mac_metadata(rel)), reserved=(ARCHIVE_MARKER, NAMES_FILE))
        for entry_path, written in changes:
            problems.append(Problem(Where(f"{archive}!{entry_path}"), _renamed(written),
                                    "warning"))
        for info, name in zip(infos, names, strict=True):
            entry = Where(f"{archive}!{name}")
            if name != _entry_name(info):
                problems.append(Problem(entry, "name read as code page 437: read as UTF-8 "
                                        f"it is another entry's ({_entry_name(info)})",
                                        "warning"))
            rel = _safe_name(name)
            if rel is None:
                if name.strip("/."):
                    problems.append(Problem(entry, "entry path leaves the archive "
                                            "(absolute or '..'); skipped"))
                continue
            if _mac_metadata(rel):
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                problems.append(Problem(entry, "symlink entry skipped"))
                continue
            target = dest / plan[rel]
            if info.is_dir():
                try:
                    target.mkdir(parents=True, exist_ok=True)
                except OSError as exc:  # a file entry of that name came first
                    problems.append(Problem(entry, f"cannot extract: {exc}; skipped"))
                continue
            if info.file_size > limits.max_entry_bytes:
                problems.append(Problem(entry, f"entry too large ({info.file_size / 2**20:.0f}"
                                        " MB unpacked); skipped"))
                continue
            if info.flag_bits & 0x1:
                problems.append(Problem(entry, "encrypted (password-protected) entry; "
                                        "skipped"))
                continue
            if info.compress_size and info.file_size > 1024 * 1024 and \
                    info.file_size / info.compress_size > limits.max_ratio:
                problems.append(Problem(entry, "compression ratio "
                                        f"{info.file_size / info.compress_size:.0f}:1 looks "
                                        "like a zip bomb; skipped"))
                continue
            tmp = _temp_beside(target)
            try:
                # Inside the try: a file entry may already hold a folder's name.
                target.parent.mkdir(parents=True, exist_ok=True)
                # "x": created here or not at all, never an entry's file written over.
                with zf.open(info) as src, tmp.open("xb") as out:
                    # Never trust the header's size: copy at most what it promised.
                    copied = 0
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > info.file_size:
                            raise ValueError("entry is larger than its header says")
                        out.write(chunk)
                tmp.replace(target)
            # zlib.error: damaged compressed data; NotImplementedError: a compression
            # method zipfile lacks (Deflate64, which Windows writes for large files).
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error,
                    NotImplementedError) as exc:
                with contextlib.suppress(OSError):  # no folder to hold it, maybe
                    tmp.unlink(missing_ok=True)
                problems.append(Problem(entry, f"cannot extract: {exc}; skipped"))
                continue
            if rel.suffix.lower() == ".zip":
                problems.append(Problem(entry, "an archive inside the archive is not "
                                        f"imported; it is unpacked to {target}: import "
                                        "that file by itself", "warning"))
    try:
        save_names(dest, plan)
    except OSError as exc:
        problems.append(Problem(where, f"could not record the entries unpacked under "
                                f"other names ({exc}); their posts may lack their images"))
    children = [c for c in dest.iterdir() if not c.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        return children[0], problems
    return dest, problems


def _temp_beside(target: Path) -> Path:
    """The temp file an entry is unpacked into before it takes ``target``'s name: hidden
    and with a random part, so that no entry has its name (``x.jpg.part``, an entry's
    own name, was once written over with x.jpg's bytes and then renamed away)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")


def _renamed(written: str) -> str:
    """The report line of an entry unpacked under another name."""
    return (f"unpacked as {written}: Windows or macOS cannot hold its name, or cannot "
            "tell it from another entry's (letter case, accents); its posts still get "
            "it as their image")


def clear_extraction(dest: Path) -> None:
    """Remove an extraction folder (used when an archive turns out unusable)."""
    shutil.rmtree(dest, ignore_errors=True)
