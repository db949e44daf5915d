"""Ways to spoil a project's project.sqlite, for the tests of what the app and the CLI
say about a project that cannot be opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def spoil_zero_bytes(db: Path) -> None:
    db.write_bytes(b"")


def spoil_random(db: Path) -> None:
    db.write_bytes(bytes(range(256)) * 20)


def spoil_truncated(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:4096])


def spoil_newer_schema(db: Path) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
