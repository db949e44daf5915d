"""Review-queue cases found by exercising the queues as an analyst would: a selection of
more rows than SQLite takes host parameters in one statement (Shift-click across a large
queue, then a key)."""

from __future__ import annotations

import sqlite3

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_page, queue_size
from crisisdesk.core.store import LabelChange, Prediction

DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")


def test_a_page_larger_than_sqlites_parameter_limit_is_read_whole(project: Project) -> None:
    # The app resolves a Shift-click selection of rows not loaded yet as one queue_page
    # whose limit is the selection's size; SQLite builds allow 32,766 host parameters in
    # one statement (999 before 3.32), and the page's rows were read with one IN (...)
    # per page: "too many SQL variables". Here the limit is lowered to make that small.
    n = 1200
    with project.open_store() as store:
        with store.transaction():
            store.ensure_source("src", "csv", "/src")
            for i in range(1, n + 1):
                post = store.insert_post("src", str(i), text=f"post {i}")
                store.add_text_item(post, "src", str(i))
        version = store.add_model_version("damage", "v", "x")
        store.add_predictions(version, [
            Prediction(i, "damage", dict(zip(DAMAGE, (.6, .3, .1), strict=True)))
            for i in range(1, n + 1)])
        store.add_labels([LabelChange(i, "damage", DAMAGE[1]) for i in range(1, n + 1, 2)],
                         annotator="ana")
        store.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        rows = queue_page(store, Queue("all"), offset=0, limit=n)
        assert [r.id for r in rows] == list(range(n, 0, -1))
        assert all(r.predicted["damage"][0] == DAMAGE[0] for r in rows)
        assert sum(r.labels.get("damage") == DAMAGE[1] for r in rows) == n // 2
        assert len(queue_page(store, Queue("needs_review", "damage"), offset=0,
                              limit=n)) == queue_size(store, Queue("needs_review", "damage"))
