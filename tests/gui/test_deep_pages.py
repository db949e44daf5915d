"""Deep pages of the item list (past review.DIRECT_ROWS) come from the queue's id order
that queue_page caches per connection. The list opened a new connection for every page,
so that order was read again for each one (1-2 s a page at 300,000 items). It now keeps
one connection: the order is read once, stays right after commits of other connections
(a version switched elsewhere), the project moved while open is still said, and the
connection closes with the window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from test_item_model import build_large_project
from window_helpers import open_window

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import Prediction
from crisisdesk.gui import style
from crisisdesk.gui.item_model import PAGE, ItemModel
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.worker import Background

NEEDS_REVIEW = Queue("needs_review", "damage")
N = review.DIRECT_ROWS + 4 * PAGE
DEEP = [review.DIRECT_ROWS // PAGE + k for k in (1, 2, 3)]  # pages past DIRECT_ROWS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """N text-only items, each predicted for damage by two versions whose confidences
    run opposite ways; the second one is active."""
    project = build_large_project(tmp_path_factory.mktemp("deep") / "p", N)
    classes = builtin_schemes()["damage"].classes
    with project.open_store() as store:
        for name, rising in (("v1", True), ("v2", False)):
            version = store.add_model_version("damage", name, "x")
            store.add_predictions(version, [Prediction(i, "damage", {
                classes[0]: .4 + .5 * (i if rising else N - i) / N,
                classes[1]: .6 - .5 * (i if rising else N - i) / N, classes[2]: 0.0})
                for i in range(1, N + 1)])
    return project


def bare_model(project: Project) -> tuple[Background, ItemModel]:
    """A model with no view: only the pages a test asks for are read."""
    background = Background()
    return background, ItemModel(project, background, ThumbnailCache(background,
                                                                      style.THUMB_SIZE))


def load_page(qtbot, background: Background, model: ItemModel, page: int) -> None:
    model.row_at(page * PAGE, fetch=True)
    qtbot.waitUntil(lambda: model.row_at(page * PAGE) is not None)
    qtbot.waitUntil(lambda: not background.busy())


def expected_page(project: Project, page: int) -> list[int]:
    with project.open_store() as store:
        return [r.id for r in review.queue_page(store, NEEDS_REVIEW, offset=page * PAGE,
                                                limit=PAGE)]


def held_page(model: ItemModel, page: int) -> list[int]:
    return [model.row_at(page * PAGE + n).id for n in range(PAGE)]


def test_the_deep_pages_after_the_first_do_not_read_the_queue_order_again(
        qtbot, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    orders: list[Queue] = []  # queue_page works out an ORDER BY for each query it runs
    real = review.order_by

    def counting(plan, queue, *args, **kwargs):
        orders.append(queue)
        return real(plan, queue, *args, **kwargs)

    monkeypatch.setattr(review, "order_by", counting)
    background, model = bare_model(project)
    model.set_query(NEEDS_REVIEW)
    qtbot.waitUntil(lambda: model.total == N and model.row_at(0) is not None)
    load_page(qtbot, background, model, DEEP[0])
    read = len(orders)  # the first page's query, then the first deep page's whole order
    for page in DEEP[1:]:
        load_page(qtbot, background, model, page)
    assert len(orders) == read  # the order read for the first deep page served the rest
    assert all(held_page(model, p) == expected_page(project, p) for p in DEEP)
    model.close()
    background.shutdown()


def test_a_version_switched_by_another_connection_reorders_the_deep_pages(
        qtbot, project: Project) -> None:
    background, model = bare_model(project)
    model.set_query(NEEDS_REVIEW)
    qtbot.waitUntil(lambda: model.total == N and model.row_at(0) is not None)
    for page in DEEP:
        load_page(qtbot, background, model, page)
    before = held_page(model, DEEP[0])
    with project.open_store() as store:  # another window or a CLI: no label, no item
        versions = {v["name"]: v["id"] for v in store.model_versions("damage")}
        active = store.active_model_version("damage")["name"]
        store.activate_model_version(versions["v1" if active == "v2" else "v2"])
    model.refresh()  # as a finished job or F5 asks for
    qtbot.waitUntil(lambda: not background.busy())
    assert held_page(model, DEEP[0]) != before
    assert all(held_page(model, p) == expected_page(project, p) for p in DEEP)
    model.close()
    background.shutdown()


def test_a_project_moved_while_open_is_said_not_read_on(qtbot, tmp_path: Path) -> None:
    project = build_large_project(tmp_path / "p", N)
    background, model = bare_model(project)
    model.set_query(Queue("all"))
    qtbot.waitUntil(lambda: model.row_at(0) is not None)
    load_page(qtbot, background, model, DEEP[0])
    (tmp_path / "p").rename(tmp_path / "moved")
    errors: list[str] = []
    model.failed.connect(errors.append)
    model.refresh()
    qtbot.waitUntil(lambda: bool(errors))
    assert "has no project.sqlite any more" in errors[0] and "moved" in errors[0]
    assert "ProjectError" not in errors[0]  # the status bar's words: no class name
    model.close()
    background.shutdown()


def _open_files(path: Path) -> list[str]:
    """This process's open files under ``path``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_closing_the_window_closes_the_item_lists_connection(qtbot, tmp_path: Path) -> None:
    project = build_large_project(tmp_path / "p", N)
    window = open_window(qtbot, project)
    load_page(qtbot, window.background, window.model, DEEP[0])
    assert _open_files(project.root)  # the list's connection, kept for the next page
    window.close()
    assert _open_files(project.root) == []
