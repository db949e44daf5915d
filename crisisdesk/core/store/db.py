"""The project store's connection: opening, pragmas, transactions and small helpers.

One :class:`Store` per thread (SQLite connections must not cross threads). The store
runs in autocommit mode: a lone write is committed at once, and ``transaction()`` groups
writes that must land together or not at all.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

import sqlite_utils

from crisisdesk.core.store.folding import register_fold
from crisisdesk.core.store.relocate import (
    FILE_PATH_COLUMNS,
    PathMove,
    Relinked,
    apply_moves,
    follow_folder,
    planned_moves,
    written_path,
)
from crisisdesk.core.store.schema import StoreError, migrate
from crisisdesk.core.store.times import store_time, utc_now  # noqa: F401 - the store's API


def rw_uri(path: PurePath) -> str:
    """The SQLite URI that opens the existing database file at absolute ``path`` for
    reading and writing, never making it."""
    uri = path.as_uri()
    if not uri.startswith("file:///"):
        # A Windows share (\\server\share\...): pathlib names its server as the
        # URI's authority, which SQLite refuses ("invalid uri authority") unless built
        # to allow one (Python's is not); with an empty authority the path keeps it,
        # and SQLite's Windows VFS opens //server/share/... as that share.
        uri = "file:////" + uri.removeprefix("file://")
    return uri + "?mode=rw"


#: The longest file name SQLite's unix VFS opens (its MAX_PATHNAME, in bytes); the
#: journal's name, 8 bytes longer than the store's, must fit too.
SQLITE_MAX_PATHNAME = 512


def _foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables of a database that is not a crisisdesk store (none of ``meta``'s
    schema version), else []: a new, empty database is a store about to be made."""
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    if not tables:
        return []
    if "meta" in tables and conn.execute(
            "SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone() is not None:
        return []
    return tables


#: Fewer free bytes than this on a store's drive make SQLite's write and I/O errors a
#: full drive: it needs 32 KiB for the WAL index and a page or more of WAL per commit.
FULL_DRIVE_BYTES = 1 << 20


def full_drive(path: Path, *, said: bool = False) -> str | None:
    """Why nothing can be written to the store at ``path`` when its drive has (next to)
    no room left, saying what to do; None when the drive has room or cannot be asked.
    ``said``: SQLite said "database or disk is full" itself, so a reason is given even
    with room on the drive (a FAT32 drive's 4 GiB file size limit, a disk quota)."""
    try:
        free: int | None = shutil.disk_usage(path.parent).free
    except OSError:  # the folder gone too (a drive unplugged): not known to be full
        free = None
    if free is not None and free < FULL_DRIVE_BYTES:
        return (f"the drive holding {path.parent} is full ({free:,} bytes free): free "
                "some space on it, or copy the project folder to a drive with room, and "
                "try again")
    if not said:
        return None
    # In the analyst's words: not the library's name, nor its "database or disk is full".
    return (f"the drive holding {path.parent} is full, or {path.name} reached a size "
            "limit (4 GiB on a FAT32 drive) or a disk quota: free some space, or copy the "
            "project folder to a drive with room, and try again")


def _why_cannot_open(path: Path, exc: sqlite3.OperationalError) -> str | None:
    """What SQLite's bare "unable to open database file" or "disk I/O error" means at
    ``path``, when it can be told: a path too long for SQLite, a store on a read-only
    drive, where SQLite cannot make the WAL index beside it even to read, or on a full
    drive, where it has no room to make it. None otherwise."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return full_drive(path, said=code == sqlite3.SQLITE_FULL)
    if code != sqlite3.SQLITE_CANTOPEN:
        return None
    real = os.fsencode(os.path.realpath(path))  # SQLite follows links to the real name
    if len(real) + len("-journal") > SQLITE_MAX_PATHNAME:
        return (f"its path is too long for SQLite ({len(real)} bytes, with links "
                f"followed; SQLite opens up to {SQLITE_MAX_PATHNAME - len('-journal')}): "
                "move the project to a folder with a shorter path")
    if path.is_file() and not os.access(path.parent, os.W_OK):
        return (f"its folder {path.parent} is read-only (a write-protected drive?): "
                "crisisdesk writes beside its store even to read it; copy the project "
                "folder to a writable place and open the copy")
    return None


class StoreBase:
    """Connection, transactions and meta values; the domain methods live in mixins."""

    def __init__(self, path: Path | str, busy_timeout: float = 30.0, *,
                 create: bool = True, check_same_thread: bool = True) -> None:
        """Open (``create``: or make) the database at ``path``. Without ``create`` a
        missing file raises sqlite3.OperationalError instead of becoming a new one.
        ``check_same_thread=False``: a store its owner shares between threads, one at a
        time under its own lock (the item list's reader)."""
        self.path = Path(path)
        # isolation_level=None: no implicit transactions; we say BEGIN where we mean it.
        # busy_timeout: how long a write waits for another connection's (a CLI import's).
        conn: sqlite3.Connection | None = None
        try:
            if create:
                conn = sqlite3.connect(str(self.path), isolation_level=None,
                                       timeout=busy_timeout,
                                       check_same_thread=check_same_thread)
            else:
                # mode=rw: SQLite would otherwise make a new, empty database wherever the
                # name points, such as the old place of a project folder renamed while
                # open.
                conn = sqlite3.connect(rw_uri(self.path.absolute()), uri=True,
                                       isolation_level=None, timeout=busy_timeout,
                                       check_same_thread=check_same_thread)
            # Before the first write (WAL mode is one): another program's database,
            # named project.sqlite, took the whole schema and became an empty project.
            foreign = _foreign_tables(conn)
            mode = "" if foreign else conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            why = _why_cannot_open(self.path, exc)
            if why is None:
                raise
            raise StoreError(why) from exc
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        if foreign:
            conn.close()
            raise StoreError(
                f"its {self.path.name} is not a crisisdesk store: it holds another "
                f"program's tables ({', '.join(foreign[:5])}); give crisisdesk a folder "
                "of its own")
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: could not switch SQLite to WAL mode (got {mode})")
        conn.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit survives a power cut too, not only a killed process. Labels are
        # given at human pace and imports commit in batches, so the cost is small.
        conn.execute("PRAGMA synchronous=FULL")
        # The triggers that keep the searched texts' folded copies call it (also while
        # migrating an older project to them). Python cannot mark it innocuous, so a
        # SQLite built to distrust schema functions (SQLITE_TRUSTED_SCHEMA=0) would fail
        # every write of a text with "unsafe use of crisisdesk_fold()": trust them, as
        # SQLite does by default; the project's own functions are pure.
        register_fold(conn)
        conn.execute("PRAGMA trusted_schema=ON")
        self.migrated_from = migrate(self.db)
        #: The folder the project was in before it was moved or copied here (its paths
        #: were rewritten on this open), else None.
        self.moved_from = follow_folder(conn, self.path)
        self._depth = 0
        #: The error after which SQLite rolled back the transaction in hand, if any.
        self._lost: BaseException | None = None

    def close(self) -> None:
        """Close the connection (a WAL checkpoint happens when the last one closes)."""
        self.conn.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all commit together, or none do. Nested calls use savepoints.

        SQLite rolls a whole transaction back on its own after some errors (a full disk
        while it spills pages, an I/O error): the error that says so is raised as it
        is, and a nested call caught by its caller (an import's bad post) cannot let
        the writes after it commit one by one outside the transaction that is gone."""
        if self._depth == 0:
            self._lost = None
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self._check_open()
            self.conn.execute(f"SAVEPOINT sp{self._depth}")
        self._depth += 1
        try:
            yield
        except BaseException as exc:
            self._depth -= 1
            if not self.conn.in_transaction:
                # Nothing left to roll back: ROLLBACK's own error ("no transaction is
                # active") would hide the one that says why (a full disk).
                self._lost = self._lost or exc
                raise
            if self._depth == 0:
                self.conn.execute("ROLLBACK")
            else:
                self.conn.execute(f"ROLLBACK TO sp{self._depth}")
                self.conn.execute(f"RELEASE sp{self._depth}")
            raise
        self._depth -= 1
        self._check_open()
        if self._depth == 0:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute(f"RELEASE sp{self._depth}")

    def _check_open(self) -> None:
        """Raise when SQLite rolled the transaction in hand back after an error."""
        if not self.conn.in_transaction:
            raise sqlite3.OperationalError(
                f"{self.path}: the writes were rolled back after an error: "
                f"{self._lost or 'the transaction ended'}")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the database (a read transaction): what another
        connection commits meanwhile is seen after it. Inside a transaction, that one's."""
        if self._depth:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def meta(self, key: str) -> str | None:
        """A project-wide setting stored in the database."""
        return self._scalar("SELECT value FROM meta WHERE key = ?", [key])

    def set_meta(self, key: str, value: str) -> None:
        """Store a project-wide setting."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def salt(self) -> str:
        """The project's secret salt for hashing author handles, made on first use."""
        value = self.meta("author_salt")
        if value is None:
            value = secrets.token_hex(16)
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('author_salt', ?)", [value]
            )
            value = self.meta("author_salt")
        assert value is not None
        return value

    def relink(self, old: Path, new: Path) -> Relinked:
        """Point the stored image and checkpoint paths under folder ``old`` at the same
        files under ``new`` (a picture folder that moved, a drive letter that changed);
        only paths whose file is there change."""
        # The files are checked before the write lock is taken: on a large or network
        # folder that takes long, and every other writer (the app, a watch) would wait
        # for it until its busy timeout failed it.
        moves = planned_moves(self.conn, FILE_PATH_COLUMNS, [old], new)
        found: list[PathMove] = []
        missing: list[PathMove] = []
        for move in moves:
            (found if move.target.is_file() else missing).append(move)
        with self.transaction():
            moved = apply_moves(self.conn, found)
        folder = written_path(str(old))
        return Relinked(moved, [written_path(m.stored).relative_to(folder).as_posix()
                                for m in missing])

    def integrity_ok(self) -> bool:
        """True when SQLite's own integrity check passes."""
        return self._scalar("PRAGMA integrity_check") == "ok"
