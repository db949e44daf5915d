"""Which project the app opens at launch.

``crisisdesk open PROJECT`` opens that project; ``crisisdesk`` alone opens the last
project if it can be opened, else the demo project (built in the user's data folder the
first time). The project opened is remembered for next time by the app.

A project "can be opened" when its store opens for reading and writing: a folder gone, a
damaged or foreign ``project.sqlite``, one written by a newer crisisdesk, a read-only or
unreadable file, folder or drive is refused here with :class:`ProjectNotOpened`, which
names the project and says why in one sentence, rather than failing later inside the
window. A store another program is writing (a CLI import) is in use, not broken: it opens.
A store of an older schema is upgraded as it opens, and keeps a note of it that the app
(:func:`take_upgrade`, :class:`Chosen`) or a command of the CLI (:func:`upgrade_note`)
takes: whichever window or program said it, it is said once. The demo's upgrade is taken
and never said: crisisdesk built it and upgrades it, nothing of the analyst's.
While an upgrade runs, the window or command says which step of how many
(:func:`upgrading_words`; a 100,000-post project takes seconds, its post times alone).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from crisisdesk.core.project import DB_NAME, Project, ProjectError
from crisisdesk.core.settings import last_project, remember_project, user_data_dir
from crisisdesk.core.store import Store
from crisisdesk.core.store.db import full_drive, rw_uri
from crisisdesk.core.store.schema import SCHEMA_VERSION
from crisisdesk.core.store.upgrades import REPORT, FailedUpgrade, failed_upgrade

__all__ = ["DEMO_BUILT", "DEMO_FOLDER", "Chosen", "DemoOpening", "ProjectError",
           "ProjectNotOpened", "check_project", "choose", "choose_project", "demo_built",
           "demo_opening", "demo_root", "is_built", "last_project",
           "not_saved_for_want_of_room", "open_checked", "project_to_open",
           "remember_project", "take_upgrade", "upgrade_note", "upgraded_words",
           "upgrading_words"]

logger = logging.getLogger(__name__)

#: The meta key the demo's build sets when it finished (crisisdesk.core.demo), and the
#: demo's folder in the user's data folder: here, not there, as the demo's module loads
#: torch and this one must not (the app looks for the demo before anything loads it).
DEMO_BUILT = "demo_built"
DEMO_FOLDER = "demo"
#: How long taking an upgrade's note waits for another program's write lock: not the
#: store's 30 s, for a note that the next open says as well.
_TAKE_WAIT_S = 5.0

#: What SQLite's primary result codes mean for an analyst opening a project.
_SQLITE_REASONS = {
    sqlite3.SQLITE_NOTADB: f"its {DB_NAME} is damaged or is not a SQLite database",
    sqlite3.SQLITE_CORRUPT: f"its {DB_NAME} is damaged",
    sqlite3.SQLITE_READONLY: f"its {DB_NAME} cannot be written: the file, its folder or "
                             "the drive is read-only",
    sqlite3.SQLITE_CANTOPEN: f"its {DB_NAME} cannot be opened, perhaps for want of "
                             "permission on it or its folder",
    sqlite3.SQLITE_PERM: f"permission to use its {DB_NAME} is denied",
}


class ProjectNotOpened(ProjectError):
    """A project that could not be opened: ``root`` and ``reason`` (a clause saying why)."""

    def __init__(self, root: Path, reason: str) -> None:
        super().__init__(f"{root} could not be opened: {reason}")
        self.root, self.reason = root, reason


class _Undo(Exception):
    """Raised inside the write check's transaction so that it rolls back."""


@dataclass(frozen=True)
class Chosen:
    """The project the app opens: its folder; why the last project could not be
    opened when the demo opens in its place (else None); and the schema its store was
    at before an upgrade not said yet (:func:`take_upgrade`; None: none to say)."""

    root: Path
    not_opened: ProjectNotOpened | None = None
    upgraded_from: int | None = None


def open_checked(path: Path | str) -> Path:
    """The folder of the project at ``path`` once its store has opened for reading and
    writing (running pending migrations, as opening it does anyway); ProjectNotOpened
    naming it and why when it cannot."""
    return check_project(path).root


def check_project(path: Path | str) -> Chosen:
    """:func:`open_checked`'s folder as a :class:`Chosen` (the app's way in, see
    :func:`choose`)."""
    root = Path(path).expanduser().absolute()
    try:
        reason = _why_not_opened(root)
    except OSError as exc:  # a folder that may not be looked into, a drive gone mid-way
        reason = f"it cannot be read ({exc.strerror or exc})"
    if reason is not None:
        raise ProjectNotOpened(root, reason)
    return Chosen(root)


def take_upgrade(project: Project, *, finish: bool = True) -> int | None:
    """The schema ``project``'s store was at before an upgrade that nobody has said yet,
    taken (so said once, by one window or command, whichever ran the upgrade: two
    windows opening an old project at once each ran some of its steps); None when there
    is none, or when the project is the demo (taken, never said: crisisdesk built it).

    Read with a bare connection, not a :class:`Store`: the open that upgraded the store
    ran its checks. A store still short of this version (another open upgrading it at
    the same time, or a failed upgrade) is opened to finish the upgrade first, with
    ``finish``; without, nothing is taken (the next open says it)."""
    mark = _take_mark(project.db_path)
    if mark is _BEHIND and finish:
        with project.open_store():
            pass  # runs the steps left, waiting for the other open's
        mark = _take_mark(project.db_path)
    return None if mark is _BEHIND else mark


#: What :func:`_take_mark` returns for a store not upgraded to this version yet.
_BEHIND = "behind"


def _take_mark(db: Path) -> int | str | None:
    """Take the store's mark of an upgrade not said yet (see :func:`take_upgrade`):
    the schema it was upgraded from, :data:`_BEHIND`, or None (none, the demo's, or a
    store that cannot be read or written now: its mark stays for the next open)."""
    try:
        with closing(sqlite3.connect(rw_uri(db.absolute()), uri=True, isolation_level=None,
                                     timeout=_TAKE_WAIT_S)) as conn:
            meta = dict(conn.execute(
                "SELECT key, value FROM meta WHERE key IN"
                " ('schema_version', 'upgraded_from', ?)", [DEMO_BUILT]).fetchall())
            if "upgraded_from" not in meta:
                return None  # the usual case: nothing to write
            if int(meta.get("schema_version") or 0) < SCHEMA_VERSION:
                return _BEHIND  # the mark is for the upgrade still to finish
            # RETURNING: of two opens taking it at once, one gets it.
            row = conn.execute(
                "DELETE FROM meta WHERE key = 'upgraded_from' RETURNING value").fetchone()
    except (sqlite3.Error, ValueError):
        return None
    if row is None or DEMO_BUILT in meta or not str(row[0]).isdigit():
        return None
    return int(row[0])


def upgrade_note(path: Path | str) -> str | None:
    """What a command says when its own open upgraded the project at ``path``
    (:func:`upgraded_words`), taken once it ran; None when that did not upgrade it, or
    there is no store there. Never opens the project (so never upgrades it) itself: a
    command refused for its arguments leaves an older project as it was."""
    try:
        root = Path(path).expanduser().absolute()
        if not (root / DB_NAME).is_file():
            return None
    except (OSError, RuntimeError):  # RuntimeError: "~user" unknown; Project.open says
        return None
    upgraded = take_upgrade(Project(root), finish=False)
    return upgraded_words(Chosen(root, upgraded_from=upgraded))


def upgrading_words(done: int, total: int, what: str = "the project") -> str:
    """What to say while an upgrade of ``what`` runs, ``done`` of its ``total`` steps
    finished (as :func:`~crisisdesk.core.store.schema.upgrades_heard` hears them)."""
    return (f"upgrading {what} for this version of crisisdesk: step "
            f"{min(done + 1, total)} of {total}")


def _why_not_opened(root: Path) -> str | None:
    """Why the project at ``root`` cannot be opened, or None when it can."""
    db = root / DB_NAME
    if not db.is_file():
        if not root.exists():
            return "there is no such folder (moved or deleted?)"
        return f"it is not a crisisdesk project (no {DB_NAME} in it)"
    if db.stat().st_size == 0:
        # SQLite takes an empty file for an empty database and the store would write a
        # new schema into it: the analyst's project, silently become an empty one.
        return f"its {DB_NAME} is empty (0 bytes), not a crisisdesk store"
    try:
        # No wait for a lock: another program writing the project (a CLI import) holds
        # one for minutes, and the project is then in use, not broken.
        with Store(db, busy_timeout=0) as store, suppress(_Undo), store.transaction():
            # A write, undone: a read-only file or drive opens, and fails only at the
            # first label given.
            store.set_meta("write_check", "")
            raise _Undo
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        code = code & 0xFF if code is not None else -1
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return None  # the window's writes wait for the lock, as they always do
        upgrade = failed_upgrade(exc)
        if upgrade is not None:
            return _upgrade_failed(root, upgrade, code, exc)
        what = _SQLITE_REASONS.get(code, f"its {DB_NAME} cannot be opened")
        part = _read_only_part(root) if code == sqlite3.SQLITE_READONLY else None
        if part is not None:
            # SQLite says only "readonly database", though the store itself may be
            # writable: a -wal or -shm file another user's crashed crisisdesk left.
            what = (f"{part} cannot be written (read-only, or another user's): copy the "
                    "project folder to a place you can write to and open the copy")
        return f"{what} (SQLite: {exc})"
    except RuntimeError as exc:  # the store's own: a newer schema, no WAL mode
        return str(exc)
    return None


def _upgrade_failed(root: Path, upgrade: FailedUpgrade, code: int,
                    exc: sqlite3.Error) -> str:
    """Why the upgrade of the older project at ``root`` that SQLite's ``exc`` (primary
    result ``code``) stopped failed, what it left and what to do."""
    if code == sqlite3.SQLITE_READONLY:
        part = _read_only_part(root) or root / DB_NAME
        # Steps of an upgrade begun earlier saved: the release that wrote it refuses it.
        reader = (f"the crisisdesk release that wrote it (schema {upgrade.start})"
                  if upgrade.step == upgrade.start + 1 else
                  f"a crisisdesk release of schema {upgrade.step - 1} (an upgrade begun "
                  f"earlier left it there: the release that wrote it, schema "
                  f"{upgrade.start}, no longer opens it)")
        return (f"opening it needs an upgrade from schema {upgrade.step - 1} to "
                f"{upgrade.target}, which writes to it, and {part} cannot be written "
                "(read-only, or another user's): copy the project folder to a place you "
                "can write to and open the copy (it is upgraded there), or read it where "
                f"it is with {reader} (SQLite: {exc})")
    full = (full_drive(root / DB_NAME, said=code == sqlite3.SQLITE_FULL)
            if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR) else None)
    return upgrade.says(f"SQLite: {exc}", full or REPORT)


def _read_only_part(root: Path) -> Path | None:
    """The first of the project's folder, its store and the store's WAL files that is
    there and may not be written by this user, if any."""
    db = root / DB_NAME
    for path in (root, db, root / f"{DB_NAME}-wal", root / f"{DB_NAME}-shm"):
        if path.exists() and not os.access(path, os.W_OK):
            return path
    return None


def not_saved_for_want_of_room(project: Path | str | None,
                               exc: sqlite3.DatabaseError) -> str | None:
    """What a command on ``project`` says when SQLite refused its write for want of
    room ("database or disk is full": it rolled the write back), else None."""
    code = getattr(exc, "sqlite_errorcode", None)
    if failed_upgrade(exc) is not None:
        return None  # not a command's write: open_checked says the upgrade failed
    if not project or not ((code is not None and code & 0xFF == sqlite3.SQLITE_FULL)
                           # as the store's transaction passes it on after a rollback
                           or "database or disk is full" in str(exc)):
        return None
    root = Path(project).expanduser().absolute()
    return (f"{root}: what this command was writing was not saved (what it saved before "
            f"is kept): {full_drive(root / DB_NAME, said=True)}")


def project_to_open(arg: str | None, *, data_dir: Path | None = None) -> Path:
    """The folder of the project to open (ProjectError naming ``arg`` and why when it
    cannot be opened). ``data_dir`` overrides where the demo is built (default: the
    user's)."""
    return choose_project(arg, data_dir=data_dir)[0]


def choose_project(arg: str | None, *, data_dir: Path | None = None
                   ) -> tuple[Path, ProjectNotOpened | None]:
    """:func:`project_to_open`'s folder, and why the last project could not be opened
    when the demo opens in its place (else None): the app says so in its window."""
    chosen = choose(arg, data_dir=data_dir)
    return chosen.root, chosen.not_opened


def choose(arg: str | None, *, data_dir: Path | None = None,
           build_demo: bool = True) -> Chosen:
    """The project the app opens (see :class:`Chosen`): ``arg``, else the last project
    when it can be opened, else the demo, built first unless not ``build_demo`` (the
    app builds it as a job with its steps in view: see :func:`demo_built`)."""
    if arg:
        return check_project(arg)
    demo = demo_project if build_demo else demo_root
    last = last_project()
    if last is not None:
        try:
            return check_project(last)
        except ProjectNotOpened as exc:
            # Fall back to the demo, as on a first run, and say why (with no handler
            # set up, logging prints a warning on stderr), so the analyst does not take
            # the demo for their own project gone empty.
            logger.warning("%s; opening the demo project instead", exc)
            return Chosen(demo(data_dir), exc)
    return Chosen(demo(data_dir))


def demo_root(data_dir: Path | None = None) -> Path:
    """Where the demo project lives: ``<user data folder>/demo``."""
    return (data_dir or user_data_dir()) / DEMO_FOLDER


def is_built(root: Path) -> bool:
    """Whether the demo project at ``root`` finished building."""
    if not (root / DB_NAME).is_file():
        return False
    with Project(root).open_store() as store:
        return store.meta(DEMO_BUILT) is not None


def demo_built(root: Path) -> bool:
    """:func:`is_built`, False for a demo whose store cannot be read (its build then
    says what is wrong with it)."""
    try:
        return is_built(root)
    except (OSError, sqlite3.Error, RuntimeError):
        return False


@dataclass(frozen=True)
class DemoOpening:
    """How ``crisisdesk`` alone comes to open the demo: in place of ``instead_of``, the
    last project, not found (None: none was remembered), and whether the demo is
    ``built`` already (else its build comes first)."""

    instead_of: Path | None
    built: bool


def demo_opening(data_dir: Path | None = None, *,
                 looking: Callable[[Path], None] | None = None) -> DemoOpening | None:
    """How ``crisisdesk`` alone opens the demo, or None when it opens the last project,
    which is there (:func:`choose` may still refuse its store, and open the demo then).

    Looks into the last project's folder, which may be on a drive that hangs: for a
    background thread, never the UI thread. ``looking`` is told that folder first (read
    from the settings, in the user's own folder: quick), so that the app can say what
    it waits on."""
    try:
        last = last_project()
    except Exception:  # noqa: BLE001 - an unreadable setting just means "no last project"
        last = None
    demo = demo_root(data_dir)
    if last is not None:
        if looking is not None:
            looking(last)
        try:
            if (Path(last) / DB_NAME).is_file():
                return None
        except OSError:
            pass  # a folder that may no longer be entered, a network drive gone stale
        if Path(last).absolute() == demo.absolute():
            last = None  # the demo itself, deleted to reset it: nothing else to name
    return DemoOpening(last, demo_built(demo))


def demo_project(data_dir: Path | None = None) -> Path:
    """The demo project's folder, built the first time (see crisisdesk.core.demo).

    Imported here, not at the top: building it loads torch (seconds), which every
    command checking its project with :func:`upgrade_note` would pay for."""
    from crisisdesk.core.demo import demo_project as demo

    return demo(data_dir)


def upgraded_words(chosen: Chosen) -> str | None:
    """What the app says of a project its open upgraded (None: not upgraded): after
    the upgrade, the release that made it refuses it, so whoever shares the folder
    with that release must know why."""
    if chosen.upgraded_from is None:
        return None
    return (f"{chosen.root} was made by an older version of crisisdesk and has been "
            f"upgraded for this one (schema {chosen.upgraded_from} to {SCHEMA_VERSION}); "
            "every label is kept. Older versions can no longer open it: whoever shares "
            "this project folder needs this version of crisisdesk or a newer one.")
