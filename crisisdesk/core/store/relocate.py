"""Stored file paths that follow the files: a project folder that was moved or copied,
and images whose folder moved (``crisisdesk media relink``).

The store keeps absolute paths (images unpacked or fetched into the project's
``media/``, checkpoints in ``models/``, images in the analyst's own folders). The meta
table records the folder the project was last opened in; the first open somewhere else
rewrites the paths under the old folder to the new one (:func:`follow_folder`), so a
copy points at its own files and leaves the original's alone. Paths are compared by
their parts: ``/data/img`` is not a folder of ``/data/images/a.jpg``.

Functions here take a bare connection: they run while the store is being opened.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PureWindowsPath

FOLDER_KEY = "project_folder"
# Imported images are stored under the folder's real name (symlinks followed), the rest
# under the name it was opened by: both are recorded, and both follow a move.
REAL_FOLDER_KEY = "project_folder_real"

#: Columns holding paths of the project's own files (may lie inside its folder).
#: sources.location: a folder imported from inside the project (the demo's images);
#: left stale, a re-import would warn that the source name was used elsewhere.
PROJECT_PATH_COLUMNS = (("media", "path"), ("model_versions", "path"),
                        ("sources", "location"))
#: Columns holding paths of files that ``relink`` checks exist at their new place.
FILE_PATH_COLUMNS = (("media", "path"), ("model_versions", "path"))


@dataclass
class Relinked:
    """What a relink did: paths rewritten, and those under the old folder whose file
    is not at the new place (left as they were), relative to the old folder."""

    moved: int = 0
    not_found: list[str] = field(default_factory=list)


#: A path written on Windows: a drive (``C:\...``) or a share (``\\server\...``).
WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\[^\\])")


def written_path(text: str) -> PurePath:
    """A stored path read as the system that wrote it reads it: a project copied from a
    colleague on Windows holds ``C:\\...`` paths, which a Path here would take for one
    relative file name; one from Linux or macOS holds ``/...`` paths, which Windows
    reads as rooted on the current drive."""
    return PureWindowsPath(text) if WINDOWS_PATH.match(text) else Path(text)


def rebased(stored: str, old: Path, new: Path) -> Path | None:
    """``stored`` moved from under ``old`` to under ``new``; None when it is not under
    ``old`` (compared by path parts) or is not a file path at all ("bundled:...")."""
    path, folder = written_path(stored), written_path(str(old))
    # A rooted path, not only an absolute one: on Windows a path written on Linux has
    # a root but no drive.
    if not path.anchor or not folder.anchor or not path.is_relative_to(folder):
        return None
    return new.joinpath(*path.relative_to(folder).parts)


@dataclass(frozen=True)
class PathMove:
    """One stored path under an old folder, and the same place under the new one."""

    table: str
    column: str
    rowid: int
    stored: str
    target: Path


def planned_moves(conn: sqlite3.Connection, columns: Sequence[tuple[str, str]],
                  olds: Sequence[Path], new: Path) -> list[PathMove]:
    """The stored paths under any of ``olds``, each with its place under ``new``; reads
    only, so a caller may check the targets before it takes the write lock."""
    moves = []
    for table, column in columns:
        # Every non-empty path is looked at in Python: a SQL prefix test would compare
        # strings, not path parts. This runs only when a folder moved.
        rows = conn.execute(
            f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
        for rowid, stored in rows:
            for old in olds:
                target = rebased(stored, old, new)
                if target is not None:
                    moves.append(PathMove(table, column, rowid, stored, target))
                    break
    return moves


def apply_moves(conn: sqlite3.Connection, moves: Sequence[PathMove]) -> int:
    """Write ``moves``; returns how many paths changed. A path changed since it was
    planned (by another connection) is left as it is now. The caller holds the
    transaction."""
    done = 0
    for move in moves:
        done += conn.execute(
            f"UPDATE {move.table} SET {move.column} = ? WHERE rowid = ? AND {move.column} = ?",
            [str(move.target), move.rowid, move.stored]).rowcount
    return done


def rewrite_paths(conn: sqlite3.Connection, columns: Sequence[tuple[str, str]],
                  olds: Sequence[Path], new: Path) -> int:
    """Rewrite the paths under any of ``olds`` to the same place under ``new``, without
    looking at the files; the caller holds the transaction."""
    return apply_moves(conn, planned_moves(conn, columns, olds, new))


def recorded_folder(conn: sqlite3.Connection) -> tuple[Path, Path] | None:
    """The folder the project was last opened in (as opened, and its real name), or
    None for a project that never recorded one."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                             [FOLDER_KEY, REAL_FOLDER_KEY]).fetchall())
    if FOLDER_KEY not in rows:
        return None
    return Path(rows[FOLDER_KEY]), Path(rows.get(REAL_FOLDER_KEY, rows[FOLDER_KEY]))


def _same_project(recorded: tuple[Path, Path] | None, db_path: Path) -> bool:
    """True when the recorded folder is where the project is, or holds this very
    database file (the folder reached by another name: a symlink, another mount)."""
    if recorded is None:
        return False
    folder = recorded[0]
    if folder == db_path.parent:
        return True
    try:
        return os.path.samefile(folder / db_path.name, db_path)
    except OSError:  # the old folder is gone: the project was moved
        return False


def follow_folder(conn: sqlite3.Connection, db_path: Path) -> Path | None:
    """On opening: when the project's folder is not the recorded one, rewrite the paths
    under the old folder to this one and record it. Returns the old folder, or None
    when nothing moved (a project from before this only records its folder)."""
    db_path = db_path.absolute()
    # The usual case reads without the write lock, so an unmoved project opens as before.
    if _same_project(recorded_folder(conn), db_path):
        return None
    here = db_path.parent
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another connection may have followed the move while this one waited for the
        # write lock (the app's threads opening the project at once): look again.
        recorded = recorded_folder(conn)
        moved_from = None
        if not _same_project(recorded, db_path):
            if recorded is not None:
                # The longer of the two names first, should one hold the other.
                olds = sorted(set(recorded), key=lambda p: len(p.parts), reverse=True)
                rewrite_paths(conn, PROJECT_PATH_COLUMNS, olds, here)
                moved_from = recorded[0]
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [(FOLDER_KEY, str(here)),
                              (REAL_FOLDER_KEY, os.path.realpath(here))])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself after SQLITE_FULL
            conn.execute("ROLLBACK")
        raise
    return moved_from
