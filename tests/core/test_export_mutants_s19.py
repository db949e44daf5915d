"""Checks that a deliberately broken exporter makes a test fail (mutation audit, session
19). Each test pins one behaviour that no earlier test caught when the code was broken
on purpose in a scratch copy (the audit's table is in the session report):

* with authors hashed, a post that names no author keeps an empty author cell: a
  pseudonym made from "no author" gave every authorless post one made-up author, read
  as one prolific account;
* an export of only corrected items counts its progress towards the items it writes,
  not every item of the project (a bar stuck at 1% that then jumps to done).
"""

from __future__ import annotations

import csv
from pathlib import Path

from test_label_journal import _items

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def test_hashed_authors_leave_a_post_without_author_without_one(
        tmp_path: Path, project: Project) -> None:
    with project.open_store() as store:
        store.ensure_source("src", "csv", "/data/src.csv")
        for post_id, author in (("1", "@alice"), ("2", None), ("3", "")):
            post = store.insert_post("src", post_id, text=f"post {post_id}", author=author)
            store.add_text_item(post, "src", post_id)
        out = Exporter(store, hash_authors=True).write(tmp_path / "labels.csv", "csv")[0]
    with out.open(encoding="utf-8", newline="") as handle:
        authors = {row["post_id"]: row["author"] for row in csv.DictReader(handle)}
    assert authors["1"].startswith("anon-") and "alice" not in authors["1"]
    assert authors["2"] == authors["3"] == ""


def test_an_only_corrected_export_counts_its_progress_in_the_items_it_writes(
        tmp_path: Path, project: Project) -> None:
    with project.open_store() as store:
        imported, corrected, untouched = _items(store, 3)
        store.add_labels([LabelChange(i, "damage", "mild_damage") for i in (imported,
                                                                             corrected)],
                         annotator="src", source="import")
        store.add_labels([LabelChange(corrected, "damage", "severe_damage")],
                         annotator="ana")
        exporter = Exporter(store, only_corrected=True)
        totals = {p.total for p in exporter.writing(tmp_path / "fixed.jsonl", "jsonl")}
    written = (tmp_path / "fixed.jsonl").read_text("utf-8").splitlines()
    assert len(written) == 1
    assert totals == {1}
