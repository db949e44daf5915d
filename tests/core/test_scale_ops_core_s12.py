"""``review.queue_ids``: a queue's ids a page at a time, for a label given to a selection
of a big queue (Ctrl+A over 100,000 items): the same items, in the same order, as the
rows ``queue_page`` gives, without building those rows (texts, predictions, labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import Prediction

N = review.DIRECT_ROWS + 700  # pages past DIRECT_ROWS come from the cached order


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """N text-only posts; damage and informative predicted in opposite confidence orders."""
    project = Project.open(tmp_path_factory.mktemp("ids") / "project", create=True)
    with project.open_store() as store, store.transaction():
        store.conn.execute("INSERT INTO sources VALUES ('s', 'csv', 's', '', '')")
        store.conn.executemany(
            "INSERT INTO posts (id, source, post_id, text, created_at, imported_at)"
            " VALUES (?, 's', ?, ?, ?, '')",
            ((i, str(i), f"post {i} {'fire' if i % 10 == 0 else 'flood'}",
              f"2024-01-{1 + i % 28:02d}T00:00:00Z") for i in range(1, N + 1)))
        store.conn.executemany("INSERT INTO items (id, uid, post, n) VALUES (?, ?, ?, 0)",
                               ((i, f"s:{i}:0", i) for i in range(1, N + 1)))
    schemes = builtin_schemes()
    with project.open_store() as store:
        for task, rising in (("damage", True), ("informative", False)):
            classes = schemes[task].classes
            version = store.add_model_version(task, f"{task}-v1", "x")
            store.add_predictions(version, [Prediction(i, task, {
                c: (top := 0.5 + 0.49 * ((i if rising else N - i) % 997) / 997)
                if k == 0 else (1 - top) / (len(classes) - 1)
                for k, c in enumerate(classes)}) for i in range(1, N + 1)])
    return project


@pytest.mark.parametrize(("queue", "search", "sort", "by"), [
    (Queue("all"), "", "priority", None),
    (Queue("all"), "flood", "time", None),
    (Queue("all"), "", "confidence", "informative"),
    (Queue("all"), "", "confidence", None),
    (Queue("needs_review", "damage"), "", "priority", None),
])
@pytest.mark.parametrize(("offset", "limit"), [(0, 64), (1_950, 100), (2_100, N)])
def test_queue_ids_are_the_ids_of_queue_page(predicted: Project, queue: Queue, search: str,
                                             sort: str, by: str | None, offset: int,
                                             limit: int, monkeypatch) -> None:
    with predicted.open_store() as store:
        rows = [r.id for r in review.queue_page(store, queue, offset=offset, limit=limit,
                                                search=search, sort=sort,
                                                confidence_task=by)]
    built: list[int] = []
    real_rows = review._rows
    monkeypatch.setattr(review, "_rows", lambda store, ids, actives: built.append(len(ids))
                        or real_rows(store, ids, actives))
    with predicted.open_store() as store:  # a new connection: no order cached yet
        ids = review.queue_ids(store, queue, offset=offset, limit=limit, search=search,
                               sort=sort, confidence_task=by)
        again = review.queue_ids(store, queue, offset=offset, limit=limit, search=search,
                                 sort=sort, confidence_task=by)  # from the cached order
    assert rows  # the case reads something
    assert ids == again == rows
    assert built == []  # no row was built for them
