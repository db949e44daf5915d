"""Stores as an older release wrote them, for the migration tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import Store, schema

#: The schema version that added the label_schemes table (a project's own tasks).
PROJECT_SCHEMES_VERSION = 9


def as_schema(patch: pytest.MonkeyPatch, version: int) -> None:
    """Within ``patch``, stores are created and migrated only up to ``version``, and read
    label schemes as that release did (the built-in ones only, before the table)."""
    patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    patch.setattr(schema, "SCHEMA_VERSION", version)
    if version < PROJECT_SCHEMES_VERSION:
        patch.setattr(Store, "schemes", lambda self: builtin_schemes())


def folded_the_old_way(path: Path, monkeypatch: pytest.MonkeyPatch, refold: Callable,
                       posts: dict[str, tuple[str, str | None]]) -> int:
    """A store at ``path`` as the schema before ``refold`` (a migration that folds the
    search's copies again) wrote it: a text-only post per id of ``posts`` (its text,
    and its folded copy as the earlier fold wrote it; None: as today's). Returns that
    schema version, the one the store opened again is migrated from."""
    version = schema.MIGRATIONS.index(refold)
    with monkeypatch.context() as patch:
        as_schema(patch, version)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/src")
            for post_id, (text, folded) in posts.items():
                old.add_text_item(old.insert_post("src", post_id, text=text), "src", post_id)
                if folded is not None:
                    old.conn.execute("UPDATE posts SET text_folded = ? WHERE post_id = ?",
                                     [folded, post_id])
    return version
