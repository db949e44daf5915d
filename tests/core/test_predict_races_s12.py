"""A predict run (the app's own Predict job, or ``crisisdesk predict`` in another process)
while the app lists a queue over predictions, and while another process trains the
image-only and text-only versions the "Image vs text disagree" queue compares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_training_job import _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.core import review
from crisisdesk.core.fusion import predict as predict_module
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.store import Prediction, Store

ITEMS, CHUNK = 90, 30
#: Every item, least confident damage prediction first: the order moves at each chunk
#: as items without a prediction yet (listed last) get one; its size does not.
BY_CONFIDENCE = {"queue": Queue("all"), "sort": "confidence", "confidence_task": "damage"}
DISAGREE = Queue("modalities_disagree", task="damage")
#: The heads' quality does not matter here, only that they predict.
QUICK = Recipe(optimizer="adamw", lr=5e-3, max_epochs=2, patience=1)


def _train(project: Project, variant: str = "guided_diff", activate: bool = True) -> None:
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  variant=variant, recipe=QUICK, activate=activate).run())


def _next_chunk(steps: Iterator[Progress]) -> None:
    """Run the predict job until it has written its next chunk of predictions."""
    for progress in steps:
        if progress.message.startswith("damage: ") and progress.message.endswith(
                " predicted"):
            return
    raise AssertionError("the job ended before another chunk")


class Listed:
    """What the app's item list does with a queue (crisisdesk/gui/item_model.py): each
    page is read with ``review.queue_stamp`` in one read transaction; a page read under
    another stamp than the pages held makes it read them all again (a refresh)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stamp: tuple[int, int, str] | None = None
        self.pages: dict[int, list[int]] = {}

    def _ids(self, page: int) -> list[int]:
        return review.queue_ids(self.store, offset=page * CHUNK, limit=CHUNK,
                                **BY_CONFIDENCE)

    def read(self, page: int) -> None:
        with self.store.snapshot():
            stamp, rows = review.queue_stamp(self.store), self._ids(page)
        if self.stamp not in (None, stamp):
            with self.store.snapshot():  # a refresh: every page held, and this one
                self.stamp = review.queue_stamp(self.store)
                self.pages = {held: self._ids(held) for held in [*self.pages, page]}
        else:
            self.stamp, self.pages[page] = stamp, rows

    def ids(self) -> list[int]:
        return [item for page in sorted(self.pages) for item in self.pages[page]]


def test_pages_read_across_predict_chunks_never_repeat_or_skip_items(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list read its first page after the job's first chunk and the next ones after
    the following chunks: each chunk reordered the queue (items predicted move up), the
    stamp did not change, and the pages read by their offsets repeated items of the
    first page and never listed others, until the job's closing refresh."""
    project = _project(tmp_path, n=ITEMS)
    _train(project)
    monkeypatch.setattr(predict_module, "CHUNK", CHUNK)
    steps = PredictJob(project, ["damage"]).run()
    with project.open_store() as reader:
        listed = Listed(reader)
        for page in range(ITEMS // CHUNK):
            _next_chunk(steps)
            listed.read(page)
        list(steps)
        order = review.queue_ids(reader, offset=0, limit=2 * ITEMS, **BY_CONFIDENCE)
    assert len(order) == ITEMS
    assert listed.ids() == order  # each item once, in the queue's order


def test_the_stamp_moves_with_the_predictions_the_queues_read_and_only_those(
        tmp_path: Path) -> None:
    """Predictions written (or redone in their rows) for the active version or the
    newest image-only and text-only ones move the stamp; those of versions no queue
    reads (an older image-only one, an inactive head) leave it, as a predict run's
    removal of them does. A list of a queue that does not read predictions is not
    made to read its pages again by any of them."""
    project = _project(tmp_path, n=4)
    with project.open_store() as store:
        def version(name: str, variant: str, active: bool = False) -> int:
            return store.add_model_version("damage", name, f"/models/{name}",
                                           config={"config": {"variant": variant}},
                                           active=active)

        def write(version: int) -> tuple[int, int, str]:
            store.add_predictions(version, [Prediction(1, "damage", {"none": 1.0})])
            return review.queue_stamp(store)

        older, head = version("i1", "image_only"), version("old", "guided_diff")
        active = version("v", "guided_diff", active=True)
        image, text = version("i2", "image_only"), version("t", "text_only")
        assert review.modality_versions(store, "damage") == (image, text)
        stamp = review.queue_stamp(store)
        for unread in (older, head):
            assert write(unread) == stamp
            assert store.remove_predictions("damage", unread, 10) == 1
            assert review.queue_stamp(store) == stamp
        unlabelled = review.list_stamp(store, Queue("unlabelled", "damage"), "priority")
        for read in (active, active, image, text):  # active twice: redone in its row
            assert write(read) != stamp
            stamp = review.queue_stamp(store)
        # A queue whose items and order do not depend on predictions: its list stays.
        assert review.list_stamp(store, Queue("unlabelled", "damage"), "priority") == \
            unlabelled
        assert review.list_stamp(store, Queue("unlabelled", "damage"), "confidence") == \
            stamp


def _counts(store: Store) -> dict[int, int]:
    return dict(store.conn.execute(
        "SELECT model_version, COUNT(*) FROM predictions GROUP BY model_version"))


def test_predict_keeps_the_image_and_text_versions_another_process_trained_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While this job predicted, another process trained an image-only and a text-only
    version (``crisisdesk train --no-activate``) and predicted them: this job, which
    planned without them, then deleted their predictions as "older versions'", and the
    "Image vs text disagree" queue was empty until the next predict."""
    project = _project(tmp_path, n=ITEMS)
    _train(project)
    monkeypatch.setattr(predict_module, "CHUNK", CHUNK)
    job = PredictJob(project, ["damage"])
    steps = job.run()
    for _ in range(ITEMS // CHUNK):
        _next_chunk(steps)  # all of this job's predictions are written
    # Meanwhile, in another process:
    _train(project, "image_only", activate=False)
    _train(project, "text_only", activate=False)
    other = PredictJob(project, ["damage"])
    list(other.run())
    assert {e["predicted"] for e in other.report.modalities["damage"].values()} == {ITEMS}
    with project.open_store() as store:
        pair = review.modality_versions(store, "damage")
        assert pair is not None
        shown = review.queue_size(store, DISAGREE)
    list(steps)  # this job ends: it removes the predictions no queue reads
    with project.open_store() as store:
        counts = _counts(store)
        assert [counts.get(v, 0) for v in pair] == [ITEMS, ITEMS]
        assert review.queue_size(store, DISAGREE) == shown
    assert "removed" not in job.report.tasks["damage"]


def test_predict_still_removes_the_versions_no_queue_reads(tmp_path: Path) -> None:
    """An image-only version superseded by a newer one is no longer compared: its
    predictions go, while the newest pair and the active version's stay."""
    project = _project(tmp_path, n=ITEMS)
    for variant in ("image_only", "text_only"):
        _train(project, variant, activate=False)
    _train(project)
    list(PredictJob(project, ["damage"]).run())
    with project.open_store() as store:
        first = review.modality_versions(store, "damage")
        assert first is not None
    _train(project, "image_only", activate=False)  # the newer image-only version
    job = PredictJob(project, ["damage"])
    list(job.run())
    with project.open_store() as store:
        counts = _counts(store)
        pair = review.modality_versions(store, "damage")
        active = store.active_model_version("damage")
    assert pair is not None and active is not None and pair[0] != first[0]
    assert first[0] not in counts
    assert all(counts[v] == ITEMS for v in (*pair, active["id"]))
    assert job.report.tasks["damage"]["removed"] == ITEMS
