"""What the item list's kept connection relies on: a store that may cross threads (one
at a time), and queue orders cached compactly, since that connection now keeps up to
review.CACHED_ORDERS of them for as long as its window is open."""

from __future__ import annotations

import sqlite3
import threading
import tracemalloc
from pathlib import Path

import pytest

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page
from crisisdesk.core.store import Store

N = 20_000


def _bulk_project(root: Path, n: int) -> Project:
    """``n`` text-only items written with bulk inserts."""
    project = Project.open(root, create=True)
    with project.open_store() as store, store.transaction():
        store.conn.execute("INSERT INTO sources (name, kind, location, first_imported,"
                           " last_imported) VALUES ('bulk', 'csv', 'bulk.csv', '', '')")
        store.conn.executemany(
            "INSERT INTO posts (id, source, post_id, text, imported_at)"
            " VALUES (?, 'bulk', ?, ?, '')", ((i, str(i), f"post {i}") for i in range(1, n + 1)))
        store.conn.executemany("INSERT INTO items (id, uid, post, n) VALUES (?, ?, ?, 0)",
                               ((i, f"bulk:{i}:0", i) for i in range(1, n + 1)))
    return project


def _in_thread(fn) -> BaseException | None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return errors[0] if errors else None


def test_a_store_shared_between_threads_is_usable_from_another_one(tmp_path: Path) -> None:
    project = _bulk_project(tmp_path / "p", 3)
    with Store(project.db_path, create=False, check_same_thread=False) as shared:
        assert _in_thread(lambda: shared.conn.execute("SELECT 1")) is None
    with project.open_store() as own:  # the default stays one store per thread
        error = _in_thread(lambda: own.conn.execute("SELECT 1"))
        assert isinstance(error, sqlite3.ProgrammingError)


def test_a_cached_queue_order_takes_about_8_bytes_an_item(tmp_path: Path) -> None:
    project = _bulk_project(tmp_path / "p", N)
    with project.open_store() as store:
        queue_page(store, Queue("all"), offset=0, limit=10)  # indexes, schemes: warm
        tracemalloc.start()
        try:
            rows = queue_page(store, Queue("all"), offset=N // 2, limit=64, sort="time")
            held, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(rows) == 64
        assert len(review._ORDERS[store]) == 1  # the order is kept for the next page
    # A list of Python ints took 36 bytes an item (pointer and int object).
    assert held / N < 16, f"{held / N:.1f} bytes an item held"


@pytest.mark.parametrize("offset", [review.DIRECT_ROWS + 7, N - 5])
def test_pages_of_a_cached_order_are_the_queues_rows(tmp_path: Path, offset: int) -> None:
    project = _bulk_project(tmp_path / "p", N)
    with project.open_store() as store:
        first = [r.id for r in queue_page(store, Queue("all"), offset=offset, limit=64)]
        again = [r.id for r in queue_page(store, Queue("all"), offset=offset, limit=64)]
        whole = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id DESC")]
    assert first == again == whole[offset:offset + 64]
