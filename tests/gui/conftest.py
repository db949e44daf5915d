"""Fixtures of the GUI tests: offscreen Qt, per-test user folders, a small project, and
garbage collected on the GUI thread only.

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


@pytest.fixture(autouse=True)
def gui_thread_garbage(request: pytest.FixtureRequest):
    """Collect garbage on the GUI thread only while a test runs (as the app does, see
    crisisdesk/gui/gc_guard.py), then, once pytest-qt closed the test's widgets, delete
    them and collect what is left here, before the automatic collector comes back. A
    collection in a later test's worker thread then never meets this test's Qt objects
    (that killed the process with a segmentation fault, 1 run in ~5). The background
    calls its closed windows dropped end here too: a window's library preload left
    running raced the next test's job importing the same libraries."""
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        yield
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    from crisisdesk.gui import gc_guard
    from crisisdesk.gui.pool_drain import wait_for_dropped_calls

    request.getfixturevalue("qapp")  # the collector's timer needs the application
    gc_guard.install()
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    wait_for_dropped_calls(60_000)  # closing no longer waits for them (pool_drain)
    gc_guard.uninstall()


@pytest.fixture
def demo_like_project(tmp_path: Path) -> Project:
    """A small project imported from a folder of posts (5 image items, 1 text-only)."""
    project = Project.open(tmp_path / "demo_like", create=True)
    run_import(project, [build_posts_folder(tmp_path / "posts_src")])
    return project
