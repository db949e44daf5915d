"""Stores as an older release wrote them, for the migration tests."""

from __future__ import annotations

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
