"""Shared test set-up: offscreen Qt, offline hubs, small project fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from crisisdesk.core.project import Project  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A new, empty project in a temporary folder."""
    return Project.open(tmp_path / "project", create=True)
