"""A live collection grows to 200,000+ items and is retrained many times: what an
analyst does then must read what it needs, not the whole project.

* An "only corrected" export reads the items with a human label (label_state's index),
  not every item's post, labels and predictions to drop nearly all of them in Python
  (1,311 corrected items of 200,000: 14 s before).
* The detail panel's and the item list's predictions are read by item (the primary
  key), not by walking every prediction of the active versions to find a page's items
  (SQLite took the model_version index: 90 ms per item shown at 200,000 items).
* The queue panel's needs-review and model-disagrees counts, asked after every label,
  go from the task's labels (a few thousand) to their predictions, not from every
  prediction of the active version to its label (200 ms a task at 200,000 items).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from test_scale_hunt import build  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.review import Queue, item_detail, queue_counts, queue_page, queue_size
from crisisdesk.core.store import LabelChange, Store, queries


def test_only_corrected_export_reads_the_corrected_items_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = build(tmp_path / "p", n=90)  # item 7: a human damage label
    with project.open_store() as store:
        store.add_labels([LabelChange(20, "informative", "informative"),
                          LabelChange(40, "humanitarian", "other_relevant_information")],
                         annotator="ana")
    read: list[int] = []
    real = queries.QueriesMixin._export_chunk

    def chunk(self, rows, tasks, only_corrected):
        read.extend(row["id"] for row in rows)
        yield from real(self, rows, tasks, only_corrected)

    monkeypatch.setattr(queries.QueriesMixin, "_export_chunk", chunk)
    with project.open_store() as store:
        rows = list(store.export_items(["damage", "informative"], only_corrected=True))
    assert [r["item_id"] for r in rows] == ["big:7:0", "big:20:0"]
    # Item 40 was corrected in a task not exported; the 87 others never were.
    assert read == [7, 20]


def _prediction_lookups(store: Store, call: Callable[[], object]) -> list[str]:
    """The query plans of the statements ``call`` runs that look predictions up by
    item (``FROM predictions WHERE ... item IN``)."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        store.conn.set_trace_callback(None)
    lookups = [s for s in statements
               if re.search(r"FROM predictions WHERE .*\bitem IN", s)]
    assert lookups, statements
    return [" / ".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {s}"))
            for s in lookups]


@pytest.mark.parametrize("reader", ["detail", "page", "predictions_of"])
def test_predictions_of_a_page_or_an_item_are_read_by_item(tmp_path: Path,
                                                            reader: str) -> None:
    project = build(tmp_path / "p", n=90)
    with project.open_store() as store:
        calls = {
            "detail": lambda: item_detail(store, 7),
            "page": lambda: queue_page(store, Queue("all"), offset=0, limit=20),
            "predictions_of": lambda: store.predictions_of(
                store.active_model_version("damage")["id"], [3, 4, 5]),
        }
        plans = _prediction_lookups(store, calls[reader])
        assert item_detail(store, 7).tasks[0].probabilities  # still found
    for plan in plans:
        # The primary key (item, task, model_version), entered by item: a few rows per
        # item, where the model_version index walked all of a version's predictions.
        assert "sqlite_autoindex_predictions_1 (item=?" in plan, plan


def test_task_counts_go_from_the_labels_to_their_predictions(tmp_path: Path) -> None:
    project = build(tmp_path / "p", n=90)  # a third labelled on import, item 7 corrected
    with project.open_store() as store:
        store.add_labels([LabelChange(8, "damage", "severe_damage")], annotator="ana")
        store.undo(annotator="ana")  # item 8: labelled, then unlabelled again
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        try:
            counts = {c.queue: c.count for c in queue_counts(store, ["damage"])}
        finally:
            store.conn.set_trace_callback(None)
        for kind in ("needs_review", "model_disagrees", "unlabelled"):
            assert counts[Queue(kind, "damage")] == queue_size(store, Queue(kind, "damage"))
        assert counts[Queue("needs_review", "damage")] == 60
        joins = [s for s in statements if "predictions" in s and "label_state" in s]
        assert joins
        for sql in joins:
            plan = [row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
            # Driven by the task's labels (label_state's index), each label probing its
            # prediction by primary key; not a walk of all the version's predictions.
            assert "label_state" in plan[0] or plan[0].startswith("SEARCH s "), plan
