"""The project database's schema version and its forward migrations: which there are,
and running them (the steps themselves: :mod:`crisisdesk.core.store.migrations`).

The schema version lives in ``meta.schema_version``. Each migration takes the database
from version N-1 to N; opening a project runs the ones it lacks, each in its own
transaction, so a project made by an older crisisdesk keeps working. Never edit a
migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlite_utils

# The steps (crisisdesk/core/store/migrations.py) by their names: tests find one to
# build a store as the schema before it left it.
from crisisdesk.core.store.migrations import (
    _v1,
    _v2,
    _v3,
    _v4_review_queues,
    _v5_live_collection,
    _v6_prediction_inputs,
    _v7_sensitive_media,
    _v8_watch_anchor,
    _v9_project_schemes,
    _v10_post_times,
    _v11_search_folding,
    _v12_lookups,
    _v13_fold_invisibles,
    _v14_fold_script_marks,
    _v15_fold_cyrillic_breve,
)
from crisisdesk.core.store.upgrades import FailedUpgrade


class StoreError(RuntimeError):
    """A project store this crisisdesk cannot open as it is (written by a newer one, or
    SQLite will not use WAL mode there): the message says why."""


class UpgradeError(StoreError):
    """A migration that failed with an error that is not SQLite's (a bug of ours):
    ``upgrade`` says where, the message all of it."""

    def __init__(self, upgrade: FailedUpgrade, cause: Exception) -> None:
        super().__init__(upgrade.says(f"{type(cause).__name__}: {cause}"))
        self.upgrade = upgrade


SPLITS = ("train", "dev", "test")
# "remote": a collector gave a URL that was not fetched yet (crisisdesk/core/media_fetch.py).
MEDIA_STATUSES = ("ok", "missing", "unreadable", "remote")
POST_RELATIONS = ("repost", "quote", "reply")
LABEL_SOURCES = ("human", "import", "model")
ACTION_KINDS = ("set", "undo", "redo")
JOB_STATES = ("running", "done", "cancelled", "failed")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1, _v2, _v3, _v4_review_queues, _v5_live_collection, _v6_prediction_inputs,
    _v7_sensitive_media, _v8_watch_anchor, _v9_project_schemes, _v10_post_times,
    _v11_search_folding, _v12_lookups, _v13_fold_invisibles, _v14_fold_script_marks,
    _v15_fold_cyrillic_breve,
]
SCHEMA_VERSION = len(MIGRATIONS)

#: Hears an upgrade's steps: (steps done, steps in all), before each and once at the end.
UpgradeListener = Callable[[int, int], None]
#: The listener of the upgrades that opens in this context run (see upgrades_heard).
_LISTENER: ContextVar[UpgradeListener | None] = ContextVar("upgrade_listener", default=None)


@contextmanager
def upgrades_heard(listener: UpgradeListener) -> Iterator[None]:
    """Within this block, an older store opened in this context (this thread: another
    thread starts without it) has ``listener`` hear each step of its upgrade, so the
    window or command that opens it can say it is upgrading and how far it is (a big
    project's upgrade takes seconds to minutes). Set where a project is opened, not
    passed down: the store is opened deep inside each command and job."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def schema_version(db: sqlite_utils.Database) -> int:
    """The version the database is at (0 for an empty database)."""
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database up to :data:`SCHEMA_VERSION`; return the version it was at.

    Raises StoreError for a database written by a newer crisisdesk, which this one
    must not touch, and UpgradeError for a migration that failed with an error not
    SQLite's; SQLite's own errors are raised as they are, tagged for
    :func:`~crisisdesk.core.store.upgrades.failed_upgrade`. Each migration is its own
    transaction: a failed one leaves the store at the version the last finished one made.
    The listener of :func:`upgrades_heard`, if any, hears each step of an upgrade.
    """
    start = schema_version(db)
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"this project was written by a newer crisisdesk (schema {start}, this version "
            f"knows up to {SCHEMA_VERSION}); upgrade crisisdesk to open it"
        )
    # A new store (schema 0) is being made, not upgraded: nothing to hear.
    listener = _LISTENER.get() if 0 < start < SCHEMA_VERSION else None
    # An upgrade stopped before and run again (the retry after a failed step, or the next
    # open) is said from where the first began: the release that wrote the store is
    # that one's, and it no longer opens a store that steps of this one's changed.
    origin = _upgraded_from(db, start) if 0 < start < SCHEMA_VERSION else start
    for version in range(start + 1, SCHEMA_VERSION + 1):
        if listener is not None:
            listener(version - start - 1, SCHEMA_VERSION - start)
        try:
            _migrate_to(db, version, start)
        except sqlite3.Error as exc:
            # SQLite's own errors keep their type and code (a busy, read-only or full
            # store is said as such), tagged with the upgrade they stopped.
            exc.crisisdesk_upgrade = _failed(origin, version)  # type: ignore[attr-defined]
            raise
        except Exception as exc:
            raise UpgradeError(_failed(origin, version), exc) from exc
    if listener is not None:
        listener(SCHEMA_VERSION - start, SCHEMA_VERSION - start)
    return start


def _upgraded_from(db: sqlite_utils.Database, start: int) -> int:
    """The schema the store's upgrade began at (the ``upgraded_from`` mark its first
    step wrote, kept until the upgrade is said), else ``start``."""
    row = db.execute("SELECT value FROM meta WHERE key = 'upgraded_from'").fetchone()
    mark = str(row[0]) if row is not None else ""
    return min(int(mark), start) if mark.isdigit() else start


def _failed(start: int, version: int) -> FailedUpgrade:
    """The upgrade from ``start`` stopped by the migration to ``version``."""
    return FailedUpgrade(start, SCHEMA_VERSION, version,
                         MIGRATIONS[version - 1].__name__.lstrip("_"))


def _migrate_to(db: sqlite_utils.Database, version: int, start: int) -> None:
    """Run the migration to ``version`` in a transaction of its own: a failed one
    leaves the store as the step before left it. A store that was at ``start`` > 0 keeps
    ``upgraded_from`` until launch.take_upgrade says it: once, whoever ran which step."""
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another connection may have migrated while this one waited for the write
        # lock (two threads or processes opening the project at once): look again.
        if schema_version(db) >= version:
            db.execute("COMMIT")
            return
        MIGRATIONS[version - 1](db)
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            [str(version)],
        )
        if start > 0:  # the oldest start stays: the first step's connection wrote it
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('upgraded_from', ?)",
                       [str(start)])
        db.execute("COMMIT")
    except BaseException:
        # SQLite has already rolled back after some errors (SQLITE_FULL): a second
        # ROLLBACK's "no transaction is active" would hide "database or disk is full".
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
