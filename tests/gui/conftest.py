"""Fixtures of the GUI tests: offscreen Qt, per-test user folders, a small project.

``QT_QPA_PLATFORM=offscreen`` is set before anything imports Qt, so the tests run
without a display.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# The import builders live with the core tests; the GUI tests reuse them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from import_helpers import build_posts_folder, run_import  # noqa: E402

from crisisdesk.core.project import Project  # noqa: E402


@pytest.fixture(autouse=True)
def user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Settings and data folders of the test's own (never the real user's)."""
    config, data = tmp_path / "config", tmp_path / "data"
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(config))
    monkeypatch.setenv("CRISISDESK_DATA_DIR", str(data))
    return {"config": config, "data": data}


@pytest.fixture
def demo_like_project(tmp_path: Path) -> Project:
    """A small project imported from a folder of posts (5 image items, 1 text-only)."""
    project = Project.open(tmp_path / "demo_like", create=True)
    run_import(project, [build_posts_folder(tmp_path / "posts_src")])
    return project
