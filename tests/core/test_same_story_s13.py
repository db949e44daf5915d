"""The CLI tells the same story as the app: ``crisisdesk info``'s counts per event are
the counts the queue panel shows for the event queues."""

from __future__ import annotations

import json
from pathlib import Path

from import_helpers import run_import

from crisisdesk.cli import main
from crisisdesk.core import review
from crisisdesk.core.project import Project

HEADER = "event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"


def _crisismmd(folder: Path) -> Path:
    """A CrisisMMD split file: a flood tweet with two images, one with one, a fire
    tweet with one (flood: 2 posts, 3 items)."""
    rows = [("flood", "1", "1_0"), ("flood", "1", "1_1"), ("flood", "2", "2_0"),
            ("fire", "3", "3_0")]
    path = folder / "task_informative_text_img_train.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(
        f"{event}\t{tweet}\t{image}\ttweet {tweet}\tdata_image/{image}.jpg\tinformative\n"
        for event, tweet, image in rows), encoding="utf-8")
    return path


def test_info_counts_each_event_as_the_event_queue_does(
        proj: Project, tmp_path: Path, capsys) -> None:
    # Before: info counted posts (flood 2) and the queue panel items (flood 3): one
    # project, two figures for the same event.
    run_import(proj, [_crisismmd(tmp_path / "src")])
    with proj.open_store() as store:
        queues = {c.queue.value: c.count for c in review.queue_counts(store)
                  if c.queue.kind == "event"}
        listed = {event: review.queue_size(store, review.Queue("event", value=event))
                  for event in queues}
    assert queues == listed  # each count is its queue's length in the item list
    assert main(["info", str(proj.root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["events"] == queues
    assert sum(info["events"].values()) == info["items"]
    assert main(["info", str(proj.root)]) == 0
    events_line = next(line for line in capsys.readouterr().out.splitlines()
                       if line.strip().startswith("events:"))
    assert all(f"{event} {n:,}" in events_line for event, n in queues.items())
