"""Writing files so that a crash never leaves half of one, and hashing them."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_umask() -> int:
    # The umask can only be read by setting it: done once, at import, before the app
    # starts threads that could create files in between.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _final_mode(path: Path, mode: int | None) -> int:
    """``mode`` if given; else the mode of the file being replaced; else what a plain
    ``open`` would give (0666 less the umask): mkstemp's 0600 would hide an export from
    colleagues on a shared folder."""
    if mode is not None:
        return mode
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


#: Windows' codes for a file another program holds: access denied (Excel keeps a workbook
#: so while it is open), sharing violation, lock violation (a virus scanner or a sync
#: client reading the file a moment).
HELD_WINERRORS = frozenset({5, 32, 33})
#: Seconds waited before each new try to replace a held file (about 1.5 s in all): a
#: scanner or a sync client lets go within that; a file open in Excel stays held, and
#: then the analyst is told to close it rather than made to wait longer.
REPLACE_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)


class FileInUse(PermissionError):
    """A file that cannot be replaced because another program holds it open (Windows):
    the message names it and says what to do, then ``note`` (what became of the files
    written with it, for several)."""

    def __init__(self, path: Path, note: str = "") -> None:
        super().__init__(f"{path} is open in another program (Excel, a viewer, a sync "
                         "client) or is read-only: close it there and try again, or "
                         f"write to another name{note}")
        self.path = path


def replace_file(tmp: Path | str, path: Path) -> None:
    """``os.replace(tmp, path)``, tried again for a while when Windows says another
    program holds ``path``; FileInUse when it still does. Elsewhere (and for any other
    error) the first error is raised as it is: a folder without write permission does
    not change by waiting."""
    for pause in (*REPLACE_PAUSES, None):
        try:
            os.replace(tmp, path)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in HELD_WINERRORS:
                raise
            if pause is None:
                raise FileInUse(path) from exc
            time.sleep(pause)


@contextmanager
def atomic_write(path: Path, *, binary: bool = False, mode: int | None = None
                 ) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path`` (text, UTF-8; or ``binary``); rename it over
    ``path`` only on success. The file gets permissions ``mode`` when given, else those of
    the file it replaces, else the usual ones for a new file (0666 less the umask).

    A symlink is followed: renaming over the link would cut it from the file it names
    (a shared drive's file, ``/dev/stdout``). Anything other than a plain file in the
    way (a pipe, a device, a folder) raises OSError, and is left as it was. A file
    another program holds open (Excel, on Windows) raises FileInUse after a short wait
    (see replace_file); the temp file is removed and the old file stays."""
    path = _writable_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        opened = os.fdopen(fd, "wb") if binary else \
            os.fdopen(fd, "w", encoding="utf-8", newline="")
        with opened as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _final_mode(path, mode))
        replace_file(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_leftovers(path)


#: A temp file this old was left by a writer that died (SIGKILL, a power cut, the app
#: killed from the task manager): a write takes seconds to minutes, never an hour.
STALE_S = 3600.0


def remove_stale(folder: Path, pattern: str, age_s: float = STALE_S) -> list[Path]:
    """Delete the plain files in ``folder`` matching ``pattern`` (a glob) last written
    over ``age_s`` ago: what a process killed mid-write left, old enough not to be a
    running writer's. Returns those removed; one that cannot be removed stays (no reader
    takes a hidden temp name for a real file)."""
    now, removed = time.time(), []
    for path in Path(folder).glob(pattern):
        try:
            if path.is_file() and not path.is_symlink() and \
                    now - path.stat().st_mtime > age_s:
                path.unlink()
                removed.append(path)
        except OSError:
            pass  # gone meanwhile, or not ours to delete: left as it is
    return removed


def remove_leftovers(path: Path) -> None:
    """Remove the temp files (and files moved aside) that writes of ``path`` killed
    before their rename left beside it: each export killed mid-write left one, hidden,
    the size of the export, for good."""
    # mkstemp's own names only (8 of its characters): "*" also took an analyst's hidden
    # ".labels.csv.before-cleanup.old" beside the export for a dead writer's.
    for suffix in ("tmp", "old"):
        remove_stale(path.parent, f".{glob.escape(path.name)}.{_MKSTEMP_PART}.{suffix}")


#: The random part of a name tempfile.mkstemp makes (8 of a-z, 0-9 and "_"), as a glob.
_MKSTEMP_PART = "[a-z0-9_]" * 8


def _writable_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: ``path``, or the file its symlink names;
    OSError for anything other than a plain file in the way (see atomic_write)."""
    # Checked through the link first: /dev/stdout on a pipe resolves to "pipe:[N]", a
    # name that does not exist, while the path itself stats as the pipe it is.
    if path.exists() and not path.is_file():
        raise OSError(f"{path} is not a plain file (a folder, pipe or device); "
                      "give the name of a file")
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():  # a link into a folder not there (a drive unplugged)
            raise OSError(f"{path} is a link to {target}, whose folder does not exist")
        return target
    return path


@contextmanager
def atomic_writes(paths: Sequence[Path]) -> Iterator[list[IO[Any]]]:
    """atomic_write for several files that belong together (a CrisisMMD export's one
    file per task): a UTF-8 text handle per path, and on success every file replaced or
    none. A file another program holds (Excel, on Windows) raises FileInUse naming it
    and saying that none was replaced; those replaced before it are put back.

    Each file in place is first moved aside (Windows refuses to move a held file as it
    refuses to replace it, so the move finds the hold), then the new one takes its name;
    the old ones are deleted only once all are in place."""
    temps: list[tuple[Path, Path]] = []
    try:
        with ExitStack() as stack:
            handles = []
            for path in paths:
                path = _writable_target(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                           dir=path.parent)
                temps.append((Path(tmp), path))
                handles.append(stack.enter_context(
                    os.fdopen(fd, "w", encoding="utf-8", newline="")))
            yield handles
            for handle in handles:
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in temps:
            os.chmod(tmp, _final_mode(path, None))
        _replace_all(temps)
        for _, path in temps:
            remove_leftovers(path)
    finally:
        # Closed first (Windows deletes no open file); left only when something failed.
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def _replace_all(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each temp file over its path, all or none (see atomic_writes)."""
    done: list[tuple[Path, Path | None]] = []  # (path, where its old file was moved)
    try:
        for tmp, path in pairs:
            aside = None
            if path.exists():
                aside = path.with_name(f"{tmp.name[:-len('.tmp')]}.old")
                try:
                    replace_file(path, aside)
                except FileInUse as exc:  # it names ``aside``: the file held is ``path``
                    names = ", ".join(target.name for _, target in pairs)
                    raise FileInUse(path, f". None of the {len(pairs)} files was "
                                          f"written: {names} left as they were"
                                    ) from exc.__cause__
            done.append((path, aside))
            os.replace(tmp, path)  # nothing is at ``path`` now: nothing holds it
    except BaseException as exc:
        if lost := _put_back(done):
            raise OSError(f"{exc}; {lost}") from exc
        raise
    for _, aside in done:
        if aside is not None:
            aside.unlink(missing_ok=True)


def _put_back(done: list[tuple[Path, Path | None]]) -> str:
    """Undo _replace_all's steps: each old file back in place, or the new file removed
    where there was none. What could not be put back, said for the message ("" if all)."""
    lost = []
    for path, aside in reversed(done):
        try:
            if aside is None:
                path.unlink(missing_ok=True)
            elif aside.exists():
                replace_file(aside, path)
        except OSError:
            lost.append(f"{path} could not be put back: its earlier content is in {aside}")
    return "; ".join(lost)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON, all or nothing."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Half a surrogate pair quoted from a stranger's file (a post id in a problem):
        # no UTF-8 can hold it, and the report was lost; escaped, the JSON is the same.
        text = json.dumps(data, indent=2, ensure_ascii=True)
    with atomic_write(path) as handle:
        handle.write(text)


def new_report_path(folder: Path, kind: str) -> Path:
    """A report file's path named after the time, with ``-2``, ``-3``... when the name is
    taken: two jobs of one project stopped in the same instant (two windows, a script)
    would otherwise write one report over the other. The file is created at once, and
    exclusively, so that the name is this job's before the report replaces it."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    name, n = f"{kind}-{stamp}", 1
    while True:
        path = folder / f"{name}{f'-{n}' if n > 1 else ''}.json"
        try:
            path.open("x").close()
            return path
        except FileExistsError:
            n += 1


def save_report(folder: Callable[[], Path], kind: str, data: Any) -> tuple[Path | None, str]:
    """Write a job's report as JSON into a new file (``new_report_path``) of the folder
    ``folder()`` gives (the project's ``reports/``): ``(path, "")``, or ``(None, why)``
    when it cannot be written. Never raises: a report is written after the work is
    committed, often in a ``finally``; a full disk, a ``reports/`` folder that cannot be
    written or a project folder gone would otherwise end a finished import in a
    traceback that hides its summary (or replace the error that stopped it)."""
    path: Path | None = None
    try:
        path = new_report_path(folder(), kind)
        write_json_atomic(path, data)
        return path, ""
    except Exception as exc:  # noqa: BLE001 - OSError, or ProjectError for a folder gone
        if path is not None:
            try:
                path.unlink(missing_ok=True)  # the placeholder new_report_path made
            except OSError:
                pass
        return None, f"the {kind} report could not be saved: {exc}"
