"""A project: a folder holding ``project.sqlite`` and its ``models/``, ``exports/``,
``cache/``, ``media/`` (files copied out of archives) and ``reports/`` (import reports)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from crisisdesk.core.job_locks import mark_interrupted
from crisisdesk.core.store import Store
from crisisdesk.core.store.schema import StoreError

DB_NAME = "project.sqlite"
SUBFOLDERS = ("models", "exports", "cache", "media", "reports")
#: The folder under media/ that fetched media are stored in (no archive unpacks there).
FETCHED_MEDIA = "fetched"


class ProjectError(Exception):
    """A folder that is not (and cannot become) a project."""


@dataclass(frozen=True)
class Project:
    """A project folder. ``open_store()`` gives a connection for the calling thread."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def folder(self, name: str) -> Path:
        """One of the project's subfolders (created if missing)."""
        if name not in SUBFOLDERS:
            raise ValueError(f"unknown project folder {name!r}")
        path = self.root / name
        try:
            # Not parents=True: a project folder moved while open (a drive unplugged)
            # would be built again where it was, and a job's files saved outside it.
            path.mkdir(exist_ok=True)
        except FileNotFoundError as exc:
            raise self._gone() from exc
        return path

    def open_store(self) -> Store:
        """Open the database (runs pending migrations). One gone since the project was
        opened raises ProjectError: it is never made anew, empty, under the old name."""
        try:
            return Store(self.db_path, create=False)
        except sqlite3.OperationalError as exc:
            if self.db_path.is_file():
                raise
            raise self._gone() from exc

    def _gone(self) -> ProjectError:
        return ProjectError(f"{self.root} has no {DB_NAME} any more: the project folder "
                            "was moved, renamed or deleted while open (or its drive "
                            "unplugged); open it where it is now")

    @classmethod
    def open(cls, root: Path | str, *, create: bool = False) -> Project:
        """Open the project at ``root``; with ``create``, make it when it does not exist.
        A folder that cannot be looked into raises ProjectError naming it and why."""
        try:
            root = Path(root).expanduser().absolute()
        except RuntimeError as exc:  # "~name/..." of a user this machine does not know
            raise ProjectError(f"{root}: {exc} (no such user?)") from exc
        try:
            return cls._open(root, create)
        except OSError as exc:
            # A folder the user may not enter (a colleague's share), a name too long, a
            # network drive gone stale: Python's is_file() and exists() raise these.
            raise ProjectError(f"{root} cannot be read ({exc.strerror or exc})") from exc

    @classmethod
    def _open(cls, root: Path, create: bool) -> Project:
        if (root / DB_NAME).is_file():
            if (root / DB_NAME).stat().st_size == 0:
                # SQLite takes an empty file for an empty database: the next store
                # opened would write a new schema into it, and a project cut to nothing
                # (a full disk, a failed copy) would carry on as an empty one, unsaid.
                raise ProjectError(f"{root}: its {DB_NAME} is empty (0 bytes), not a "
                                   "crisisdesk store; restore it from a backup, or move "
                                   "it away to start a new project there")
            # Jobs of a process killed meanwhile said "running" for ever: now failed,
            # interrupted (another process's running jobs are left alone).
            mark_interrupted(root, root / DB_NAME)
            return cls(root)
        if not create:
            raise ProjectError(f"{root} is not a crisisdesk project (no {DB_NAME} in it)")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} exists and is not a folder")
        if root.is_dir() and any(root.iterdir()):
            raise ProjectError(
                f"{root} is a folder with other files in it; give a new or empty folder"
            )
        made = folders_to_make(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            for name in SUBFOLDERS:
                (root / name).mkdir(exist_ok=True)
        except OSError as exc:  # a file on the way, no permission, a read-only disk
            raise ProjectError(f"cannot make the project folder {root}: "
                               f"{exc.strerror or exc}") from exc
        try:
            Store(root / DB_NAME).close()
        except (sqlite3.Error, StoreError) as exc:  # a path too long for SQLite
            # Take back what was made: a half-made project (folders, no store) was
            # refused by the next try as "a folder with other files in it".
            remove_made(root, made)
            raise ProjectError(f"cannot make the project folder {root}: {exc}") from exc
        return cls(root)


def folders_to_make(root: Path) -> list[Path]:
    """The folders making a project at ``root`` creates: ``root`` and its parents that
    are not there yet (for :func:`remove_made`)."""
    return [folder for folder in (root, *root.parents) if not folder.exists()]


def remove_made(root: Path, made: list[Path]) -> None:
    """Take back a project made for nothing at ``root`` (a new or empty folder before,
    as :meth:`Project.open` makes one only there): its store files, its subfolders with
    what they hold, then the folders in ``made``, each only when empty. Nothing else is
    touched."""
    for path in [root / f"{DB_NAME}{end}" for end in ("", "-wal", "-shm", "-journal")]:
        with suppress(OSError):
            path.unlink(missing_ok=True)
    for name in SUBFOLDERS:
        shutil.rmtree(root / name, ignore_errors=True)
    for folder in made:
        with suppress(OSError):
            folder.rmdir()
