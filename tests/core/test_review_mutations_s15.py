"""Checks that a deliberately broken review queue makes a test fail (mutation audit,
session 15). Each test pins one behaviour that no earlier test caught when the code was
broken on purpose in a scratch copy (the audit's table is in the session report):

* "Corrected" holds a person's label that confirms the import against the model;
* a search by caption finds the post the caption was written for, not another post of
  the same picture;
* deep pages of a queue of no task, sorted by confidence, follow the task asked for;
* the item list shows the active version's prediction, not a newer inactive one's;
* a cleared label leaves the row without a label for the task;
* the detail panel names no model version for a task it did not predict;
* every list whose items or order a prediction write moves gets a new list stamp;
* an image-only version predicts no item whose image is not embedded yet;
* an active version that is also the task's newest text-only one is predicted once;
* a predict whose active version cannot be loaded keeps the older versions' predictions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_predict_refresh import _with_modality_versions
from test_review import DAMAGE, POSTS, _all, _predict, _probs, store  # noqa: F401 (fixture)
from test_training_job import FAST, _project

from crisisdesk.core import review
from crisisdesk.core.fusion.predict import NoModel, PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.review import (
    SORTS,
    Queue,
    item_detail,
    list_stamp,
    queue_counts,
    queue_page,
    queue_size,
)
from crisisdesk.core.store import LabelChange, Prediction, Store

S, M, L = DAMAGE


def _count(store: Store, queue: Queue) -> int:  # noqa: F811
    """The count the queue panel lists for ``queue``."""
    return next(c.count for c in queue_counts(store, ("damage",)) if c.queue == queue)


def test_a_person_confirming_the_import_against_the_model_is_a_correction(
        store: Store) -> None:  # noqa: F811
    # Item 4: imported "severe", the model says "mild"; ana first agrees with the model,
    # then sets "severe" again. Her label differs from the prediction: it corrects the
    # model, though it equals the imported one.
    assert item_detail(store, 4).row.predicted["damage"][0] == M
    store.add_labels([LabelChange(4, "damage", M)], annotator="ana")
    store.add_labels([LabelChange(4, "damage", S)], annotator="ana")
    queue = Queue("corrected", "damage")
    assert 4 in _all(store, queue)
    assert _count(store, queue) == queue_size(store, queue) == len(_all(store, queue))


def test_a_caption_search_finds_only_the_post_the_caption_describes(
        store: Store) -> None:  # noqa: F811
    # The same photo posted again with another tweet: captions are kept per (image,
    # tweet text), and item 1's caption was written with item 1's tweet.
    with store.transaction():
        post = store.insert_post("src", "8", text="Sharing this again", event="quake")
        store.add_media_item(post, "src", "8", 0, path="/img/8.jpg", declared_path="8.jpg",
                             status="ok", sha256="sha1")
    assert _all(store, Queue("all"), search="collapsed bridge") == [1]
    assert queue_size(store, Queue("all"), "collapsed bridge") == 1


def test_deep_pages_sorted_by_confidence_follow_the_task_asked_for(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # "All items" by confidence, the analyst's task switched from damage to informative:
    # the deep pages must be in informative's order, as the first pages are.
    informative = store.add_model_version("informative", "inf", "x",
                                          config={"config": {"variant": "text_only"}})
    store.add_predictions(informative, [
        Prediction(i, "informative", {"informative": c, "not_informative": 1 - c})
        for i, c in {1: .95, 2: .6, 3: .99, 4: .7, 5: .52, 6: .8, 7: .9}.items()])
    queue = Queue("all")
    wanted = {task: _all(store, queue, sort="confidence", confidence_task=task)
              for task in ("damage", "informative")}
    assert wanted["damage"] != wanted["informative"]
    monkeypatch.setattr(review, "DIRECT_ROWS", 0)  # every page from the cached order
    for task in ("damage", "informative", "damage"):
        deep = [r.id for r in queue_page(store, queue, offset=2, limit=10,
                                         sort="confidence", confidence_task=task)]
        assert deep == wanted[task][2:], task


def test_the_item_list_shows_the_active_versions_prediction_only(
        store: Store) -> None:  # noqa: F811
    # A retrain kept inactive ("keep the active one"): its predictions are in the store
    # until predict drops them, and must not show as the prediction of the list's rows.
    newer = store.add_model_version("damage", "retrained", "x", active=False,
                                    config={"config": {"variant": "guided_diff"}})
    _predict(store, newer, {i: (L, .99) for i in POSTS})
    rows = queue_page(store, Queue("all"), offset=0, limit=100)
    for row in rows:
        shown = {t.task: t for t in item_detail(store, row.id).tasks}["damage"]
        if shown.predicted is None:
            assert "damage" not in row.predicted
        else:
            assert row.predicted["damage"] == (
                shown.predicted, pytest.approx(shown.probabilities[shown.predicted]))


def test_a_cleared_label_leaves_the_row_without_a_label(store: Store) -> None:  # noqa: F811
    store.add_labels([LabelChange(2, "damage", None)], annotator="ana")
    assert 2 in _all(store, Queue("unlabelled", "damage"))
    (row,) = [r for r in queue_page(store, Queue("all"), offset=0, limit=100) if r.id == 2]
    assert "damage" not in row.labels
    assert item_detail(store, 2).row.labels == {}


def test_the_detail_names_no_version_for_a_task_it_did_not_predict(
        store: Store) -> None:  # noqa: F811
    # Item 6 has no prediction from the active damage version.
    damage = {t.task: t for t in item_detail(store, 6).tasks}["damage"]
    assert damage.probabilities == {} and damage.predicted is None
    assert damage.model_version is None and damage.no_prediction


def _lists(store: Store) -> dict[tuple[Queue, str], list[int]]:
    return {(count.queue, sort): _all(store, count.queue, sort=sort,
                                      confidence_task="damage")
            for count in queue_counts(store, ("damage",)) for sort in SORTS}


def test_a_prediction_write_that_moves_a_list_changes_its_stamp(
        store: Store) -> None:  # noqa: F811
    # The item list reads its pages again when its stamp moves; a list a predict chunk
    # reordered or refilled under an unchanged stamp repeats or skips rows.
    before = _lists(store)
    stamps = {key: list_stamp(store, *key) for key in before}
    active = store.active_model_version("damage")["id"]
    # Item 2 (ana: little or no damage) now predicted "mild": a disagreement, and a
    # correction of the model; item 3 surer of its class.
    store.add_predictions(active, [Prediction(2, "damage", _probs(M, .8)),
                                   Prediction(3, "damage", _probs(L, .95))])
    after = _lists(store)
    moved = [key for key in before if before[key] != after[key]]
    assert (Queue("corrected", "damage"), "priority") in moved
    for key in moved:
        assert list_stamp(store, *key) != stamps[key], key


def test_an_image_only_version_predicts_no_item_whose_image_is_not_embedded(
        tmp_path: Path) -> None:
    # Three pictures not embedded yet (an embed job still running): the image-only
    # version has nothing of theirs to read. A prediction from its learned "missing"
    # input would put them in "Image vs text disagree" on no evidence.
    project = _with_modality_versions(tmp_path, 20)
    with project.open_store() as store:
        items = sorted(t.item for t in store.item_texts())[:3]
        shas = [sha for sha, _ in store.item_images(items).values()]
        store.conn.execute(f"DELETE FROM embeddings WHERE kind = 'image' AND key IN"
                           f" ({','.join('?' * len(shas))})", shas)
    job = PredictJob(project, ["damage"])
    list(job.run())
    image_only = job.report.modalities["damage"]["image_only"]
    assert (image_only["predicted"], image_only["skipped"]) == (17, 3)
    with project.open_store() as store:
        version = review.modality_versions(store, "damage")[0]
        assert store.predictions_of(version, items) == {}
        disagree = _all(store, Queue("modalities_disagree", "damage"))
    assert not set(items) & set(disagree)


def test_an_active_text_only_version_is_predicted_once(tmp_path: Path) -> None:
    # The analyst made the text-only head the active one: it is also the newest
    # text-only version the "image vs text" queue reads, and predict must not run it
    # twice over every item (twice the time, and a report listing it twice).
    project = _project(tmp_path, n=20)
    for variant, activate in (("image_only", False), ("text_only", True)):
        list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                      variant=variant, recipe=FAST, activate=activate).run())
    job = PredictJob(project, ["damage"])
    totals = [p.total for p in job.run() if p.message == "planning predictions"]
    assert totals == [40]  # 20 items for the active version, 20 for the image-only one
    assert job.report.tasks["damage"]["predicted"] == 20
    assert list(job.report.modalities["damage"]) == ["image_only"]


def test_a_predict_failing_on_a_lost_active_version_keeps_the_others_predictions(
        tmp_path: Path) -> None:
    # The version just made active has lost its checkpoint: predict fails for it. The
    # analyst makes the earlier one active again, and its predictions must still be
    # there (the queues show them at once; deleted, 300,000 items wait for a predict).
    project = _project(tmp_path, n=20)

    def train() -> dict:
        list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                      variant="text_only", recipe=FAST).run())
        with project.open_store() as store:
            return store.active_model_version("damage")

    earlier = train()
    list(PredictJob(project, ["damage"]).run())
    Path(train()["path"]).unlink()
    with pytest.raises(NoModel):
        list(PredictJob(project, ["damage"]).run())
    with project.open_store() as store:
        store.activate_model_version(earlier["id"])
        items = [t.item for t in store.item_texts()]
        assert len(store.predictions_of(earlier["id"], items)) == 20
