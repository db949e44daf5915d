"""Fixtures of the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisisdesk.core.project import Project


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """A new project in the test's folder (the import tests' name for it)."""
    return Project.open(tmp_path / "proj", create=True)
