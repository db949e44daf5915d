"""The predict job's planning (which items each version is to predict) at scale: what it
reads, how often it lets a cancel in, and what it keeps once predicting starts."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import pytest
from test_predict_refresh import (  # tests/core/ is on sys.path
    _with_modality_versions,
    counted_key_reads,
)

from crisisdesk.core.fusion import predict_plan
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store


def _without_images(project: Project, count: int) -> list[int]:
    """Make the first ``count`` items' images unreadable (as a broken file is): those
    items have no usable image, only their text."""
    with project.open_store() as store:
        items = sorted(t.item for t in store.item_texts())[:count]
        for sha, _ in store.item_images(items).values():
            store.mark_media_unreadable(sha, "broken file")
    return items


def test_an_image_only_version_is_never_planned_items_without_an_image(
        tmp_path: Path) -> None:
    """The image-only version kept for the "image vs text disagree" queue can never
    predict an item without a usable image: predict does not plan it, run after run
    (it was planned, read and "skipped" at every run: 150,000 items at 300,000)."""
    project = _with_modality_versions(tmp_path, 40)
    _without_images(project, 10)
    first = PredictJob(project, ["damage"])
    list(first.run())
    assert first.report.tasks["damage"]["predicted"] == 40
    assert first.report.modalities["damage"]["image_only"] == {
        "model_version": first.report.modalities["damage"]["image_only"]["model_version"],
        "predicted": 30, "skipped": 0}
    assert first.report.modalities["damage"]["text_only"]["predicted"] == 40
    again = PredictJob(project, ["damage"])
    totals = [p.total for p in again.run() if p.message == "planning predictions"]
    assert totals == [0]
    assert again.report.modalities["damage"]["image_only"]["skipped"] == 0


def test_planning_reads_each_modality_once_for_a_tasks_three_versions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The active, image-only and text-only versions read the same image and text keys:
    the stale check reads each once (it read them per version: 18-25 s at 300,000)."""
    project = _with_modality_versions(tmp_path, 30)
    list(PredictJob(project, ["damage"]).run())
    reads = counted_key_reads(monkeypatch)
    for progress in PredictJob(project, ["damage"]).run():
        if progress.message == "planning predictions":
            break
    assert sorted(reads) == ["item_images", "item_texts"]


def test_planning_lets_a_cancel_in_between_slices_of_items(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two progress messages the stale check reads at most PLAN_SLICE items (it
    read every item of a task at once: a cancel waited ~20 s at 300,000)."""
    project = _with_modality_versions(tmp_path, 30)
    list(PredictJob(project, ["damage"]).run())
    monkeypatch.setattr(predict_plan, "PLAN_SLICE", 8)
    since_yield = [0]
    most = [0]
    real = predict_plan.item_inputs

    def counting(store: Store, items: Any, **encoders: Any) -> Any:
        since_yield[0] += len(items)
        most[0] = max(most[0], since_yield[0])
        return real(store, items, **encoders)

    monkeypatch.setattr(predict_plan, "item_inputs", counting)
    run = PredictJob(project, ["damage"]).run()
    planning = 0
    for progress in run:
        if progress.message == "planning predictions":
            break
        planning += 1
        since_yield[0] = 0
    assert most[0] <= 8 and planning >= 30 // 8 * 2  # the images, then the texts


class _Seen:
    """item_inputs' (fingerprint, complete) pair, but weakly referable: to tell whether
    the planning's reading of the items is still held."""

    def __init__(self, pair: tuple[str, bool]) -> None:
        self.pair = pair

    def __getitem__(self, index: int) -> Any:
        return self.pair[index]

    def __iter__(self) -> Any:
        return iter(self.pair)


def test_what_planning_read_of_the_items_is_dropped_before_predicting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stale check's per-item reading (~300 MB at 300,000 items) is needed for the
    planning only: none of it is held once the job predicts."""
    project = _with_modality_versions(tmp_path, 30)
    list(PredictJob(project, ["damage"]).run())
    held: list[weakref.ref[_Seen]] = []
    real = predict_plan.item_inputs
    planning = [True]

    def tracked(store: Store, items: Any, **encoders: Any) -> Any:
        out = real(store, items, **encoders)
        if not planning[0]:
            return out
        seen = {item: _Seen(pair) for item, pair in out.items()}
        held.extend(weakref.ref(one) for one in seen.values())
        return seen

    monkeypatch.setattr(predict_plan, "item_inputs", tracked)
    run = PredictJob(project, ["damage"]).run()
    for progress in run:
        if progress.message == "planning predictions":
            planning[0] = False
            alive = sum(ref() is not None for ref in held)
            break
    run.close()
    assert held and alive == 0


def test_a_prediction_redone_is_updated_in_its_row(tmp_path: Path) -> None:
    """A stale prediction redone is written over in its row (an upsert): a replace
    deleted and re-inserted it in the table and its indexes, ~30% of saving 300,000
    redone ones. What the readers see is the new prediction, whole."""
    from test_training_job import _project

    from crisisdesk.core.store import Prediction

    project = _project(tmp_path, n=6)
    with project.open_store() as store:
        items = sorted(t.item for t in store.item_texts())
        version = store.add_model_version("damage", "v", "/nowhere")
        store.add_predictions(version, [
            Prediction(item, "damage", {"a": 0.9, "b": 0.1}, "old|") for item in items])
        rowids = dict(store.conn.execute("SELECT item, rowid FROM predictions"))
        store.add_predictions(version, [Prediction(items[0], "damage",
                                                   {"a": 0.25, "b": 0.75}, "new|")])
        assert dict(store.conn.execute("SELECT item, rowid FROM predictions")) == rowids
        assert tuple(store.conn.execute(
            "SELECT label, confidence, probs, inputs FROM predictions WHERE item = ?",
            [items[0]]).fetchone()) == ("b", 0.75, '{"a": 0.25, "b": 0.75}', "new|")
        assert store.predictions_of(version, items[:2]) == {
            items[0]: {"a": 0.25, "b": 0.75}, items[1]: {"a": 0.9, "b": 0.1}}
        assert [row[0] for row in store.conn.execute(  # the class queue's index
            "SELECT item FROM predictions INDEXED BY idx_predictions_class"
            " WHERE model_version = ? AND task = 'damage' AND label = 'b'",
            [version]).fetchall()] == [items[0]]
