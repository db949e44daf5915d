"""The queue panel's counts say what the queues hold, also while another process writes:
a watch importing labelled posts, a colleague labelling, Predict writing its chunks."""

from __future__ import annotations

from pathlib import Path

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_counts, queue_size
from crisisdesk.core.store import LabelChange, Store


def _add_labelled_posts(store: Store, first: int, n: int) -> None:
    """``n`` text-only posts with an imported damage label, committed."""
    with store.transaction():
        store.ensure_source("src", "csv", "/src")
        items = [store.add_text_item(store.insert_post("src", str(i), text=f"post {i}"),
                                     "src", str(i)) for i in range(first, first + n)]
    store.add_labels([LabelChange(i, "damage", "mild_damage") for i in items],
                     annotator="importer", source="import")


def test_counts_are_of_one_state_while_another_process_imports(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    with project.open_store() as panel, project.open_store() as watch:
        _add_labelled_posts(panel, 0, 3)
        _add_labelled_posts(panel, 3, 2)
        panel.add_labels([LabelChange(4, "damage", None)], annotator="ana")  # cleared
        before = {queue: queue_size(panel, queue) for queue in
                  (Queue("all"), Queue("unlabelled", "damage"))}
        fired: list[str] = []

        def watch_commits_meanwhile(sql: str) -> None:
            # The watch's import lands once the count of all items is read, before the
            # labels are counted (the counts of 300,000 items take seconds).
            if "label_state" in sql and not fired:
                fired.append(sql)
                _add_labelled_posts(watch, 100, 5)

        panel.conn.set_trace_callback(watch_commits_meanwhile)
        try:
            counts = {c.queue: c.count for c in queue_counts(panel, ["damage"])}
        finally:
            panel.conn.set_trace_callback(None)
        assert fired, "the other process's import did not land during the count"
        # The counts are those of the project before the import (one snapshot), never a
        # mix: 5 items counted, then 9 labelled ones subtracted, said "Unlabelled: -4".
        assert counts[Queue("all")] == before[Queue("all")] == 5
        assert counts[Queue("unlabelled", "damage")] == before[Queue("unlabelled", "damage")] == 1
        # The next count sees the import.
        after = {c.queue: c.count for c in queue_counts(panel, ["damage"])}
        assert after[Queue("all")] == 10 and after[Queue("unlabelled", "damage")] == 1
