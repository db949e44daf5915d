"""Predictions redone when their inputs change: what each prediction keeps as having
seen, and which heads a new caption or image embedding concerns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_training_job import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.fusion import predict as predict_module
from crisisdesk.core.fusion import predict_plan
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project


def _inputs(project: Project) -> dict[int, str | None]:
    with project.open_store() as store:
        return {r[0]: r[1] for r in store.conn.execute(
            "SELECT item, inputs FROM predictions WHERE task = 'damage'")}


def _predicted(project: Project) -> int:
    job = PredictJob(project, ["damage"])
    list(job.run())
    return job.report.tasks["damage"]["predicted"]


def test_a_text_only_head_is_refreshed_by_its_text_whatever_the_images(tmp_path: Path
                                                                      ) -> None:
    """A text-only head trained with an image encoder named (``--variant text_only
    --encoder X``) never reads images: a caption embedded since refreshes its prediction
    even where the image has no embedding, and an image embedded since does not."""
    project = _project(tmp_path, n=60)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  variant="text_only", recipe=FAST).run())
    with project.open_store() as store:
        texts = {t.item: t for t in store.item_texts()}
        shas = store.item_images(list(texts))
        first, second = sorted(texts)[:2]
        vectors = store.get_embeddings("image", "img-enc", [shas[first][0], shas[second][0]])
        store.conn.execute("DELETE FROM embeddings WHERE kind = 'image' AND key IN (?, ?)",
                           [shas[first][0], shas[second][0]])
    assert _predicted(project) == 60
    with project.open_store() as store:
        store.add_caption(shas[first][0], texts[first].text, "llava-test", "v1",
                          "A flooded street.")
        key = store.item_texts([first])[0].key
        store.put_embeddings("text", "txt-enc", [key], np.full((1, 16), 3.0))
    assert _predicted(project) == 1  # the first item's caption; its image has no embedding
    assert _inputs(project)[first] == f"|{key}"
    with project.open_store() as store:
        store.put_embeddings("image", "img-enc", [shas[second][0]],
                             np.stack([vectors[shas[second][0]]]))
    assert _predicted(project) == 0  # an image the head does not read


def test_the_inputs_kept_are_those_read_before_an_embedding_lands_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An embed job running beside predict (the app runs them at once) may store a
    caption's text embedding while a chunk is predicted: the prediction keeps what the
    head read (no text), so the next predict redoes it with the caption."""
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    with project.open_store() as store:
        texts = {t.item: t for t in store.item_texts()}
        shas = store.item_images(list(texts))
        first = sorted(texts)[0]
        store.add_caption(shas[first][0], texts[first].text, "llava-test", "v1",
                          "A flooded street.")
        key = store.item_texts([first])[0].key  # not embedded yet: the head sees no text
    real = predict_module.predictor_for

    def racing(store: Any, task: str, version: dict[str, Any]) -> Any:
        predict = real(store, task, version)

        def then_embed(items: Sequence[int], keys: Any = None) -> Any:
            out = predict(items, keys)
            with project.open_store() as other:  # the embed job's own connection
                other.put_embeddings("text", "txt-enc", [key], np.full((1, 16), 3.0))
            return out

        return then_embed

    monkeypatch.setattr(predict_module, "predictor_for", racing)
    assert _predicted(project) == 30
    assert _inputs(project)[first] == f"{shas[first][0]}|"
    monkeypatch.setattr(predict_module, "predictor_for", real)
    assert _predicted(project) == 1
    assert _inputs(project)[first] == f"{shas[first][0]}|{key}"


def test_an_image_only_head_says_it_read_no_text(tmp_path: Path) -> None:
    """An image-only head trained with a text encoder named reads no text: its sidecar's
    text_source is None, not the captions of texts it never read."""
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        item = store.item_texts()[0]
        sha = store.item_images([item.item])[item.item][0]
        store.add_caption(sha, item.text, "llava-test", "v1", "A flooded street.")
        key = store.item_texts([item.item])[0].key
        store.put_embeddings("text", "txt-enc", [key], np.full((1, 16), 3.0))
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  variant="image_only", recipe=FAST).run())
    with project.open_store() as store:
        assert store.active_model_version("damage")["config"]["text_source"] is None


def test_predict_says_it_is_planning_each_task_and_can_be_cancelled_there(
        tmp_path: Path) -> None:
    """Finding stale predictions reads every item: the job reports it per task, and a
    cancel at that point stops before anything is predicted."""
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    run = PredictJob(project, ["damage"]).run()
    first = next(run)
    assert first.total == 0 and "damage: finding the items to predict" in first.message
    run.close()
    with project.open_store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 0


def test_one_predict_run_reads_each_item_once_for_tasks_sharing_encoders(
        tmp_path: Path, monkeypatch) -> None:
    """The stale check reads what every item looks like (~2 s per 100,000 items): tasks
    whose versions read the same encoders share that reading within one run (once per
    modality: the image-only and text-only versions share it too)."""
    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    list(PredictJob(project, ["damage"]).run())
    read: list[int] = []
    real = predict_plan.item_inputs

    def counting(store, items, **encoders):
        read.append(len(list(items)))
        return real(store, items, **encoders)

    monkeypatch.setattr(predict_plan, "item_inputs", counting)
    seen_now: dict = {}
    with project.open_store() as store:
        version = store.active_model_version("damage")
        first = _drained(predict_plan.items_to_predict(store, "damage", version, seen_now))
        again = _drained(predict_plan.items_to_predict(store, "damage", version, seen_now))
    assert first == again == [] and read == [30, 30]  # the images, the texts; not again


def _drained(plan: Any) -> Any:
    """What a planning generator returns, its progress messages passed over."""
    while True:
        try:
            next(plan)
        except StopIteration as stop:
            return stop.value


def test_predict_reads_each_chunks_embedding_keys_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Each chunk's image and text keys (media rows; texts with their captions, hashed)
    are read once, for what the prediction saw and for the head alike."""

    project = _project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    reads = counted_key_reads(monkeypatch)
    assert _predicted(project) == 30  # one chunk, nothing predicted before: no stale check
    assert sorted(reads) == ["item_images", "item_texts"]


def _with_modality_versions(tmp_path: Path, n: int) -> Project:
    """A project whose damage task has an image-only and a text-only version (inactive)
    and an active fusion head."""
    project = _project(tmp_path, n=n)
    for variant in ("image_only", "text_only"):
        list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                      variant=variant, recipe=FAST, activate=False).run())
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    return project


def test_predict_also_fills_the_image_only_and_text_only_versions_behind_their_queue(
        tmp_path: Path) -> None:
    """The "image vs text disagree" queue compares the task's newest image-only and
    text-only versions: predict fills (and refreshes) their predictions too, not only the
    active version's, so the queue holds every item where they part."""
    from crisisdesk.core import review
    from crisisdesk.core.review import Queue

    project = _with_modality_versions(tmp_path, 60)
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 60
    assert {v: e["predicted"] for v, e in job.report.modalities["damage"].items()} == {
        "image_only": 60, "text_only": 60}
    with project.open_store() as store:
        counts = dict(store.conn.execute(
            "SELECT model_version, COUNT(*) FROM predictions GROUP BY model_version"))
        assert sorted(counts.values()) == [60, 60, 60]
        size = review.queue_size(store, Queue("modalities_disagree", task="damage"))
        image_only, text_only = (store.predictions_of(v, range(1, 61)) for v in sorted(
            v for v in counts if v != store.active_model_version("damage")["id"]))
    parted = sum(max(image_only[i], key=image_only[i].get) !=
                 max(text_only[i], key=text_only[i].get) for i in image_only)
    assert size == parted
    again = PredictJob(project, ["damage"])
    list(again.run())
    assert again.report.tasks["damage"]["predicted"] == 0
    assert all(e["predicted"] == 0 for e in again.report.modalities["damage"].values())


def test_the_cli_says_what_predict_did_for_the_image_vs_text_versions(tmp_path: Path,
                                                                      capsys) -> None:
    from crisisdesk.cli import main

    project = _with_modality_versions(tmp_path, 30)
    assert main(["predict", str(project.root), "--task", "damage"]) == 0
    out = capsys.readouterr().out
    assert "damage: 30 items predicted by damage-guided_diff" in out
    assert "image-only (for the image vs text queue): 30 items predicted by " \
        "damage-image_only" in out
    assert "text-only (for the image vs text queue): 30 items predicted" in out


def test_a_broken_image_only_version_does_not_stop_the_active_ones_predictions(
        tmp_path: Path, capsys) -> None:
    """The image-only and text-only versions are predicted for a queue only: one whose
    checkpoint is gone is reported, and the task's own predictions are made."""
    from crisisdesk.cli import main

    project = _with_modality_versions(tmp_path, 30)
    with project.open_store() as store:
        broken = next(v for v in store.model_versions("damage")
                      if v["config"]["config"]["variant"] == "image_only")
    Path(broken["path"]).with_suffix(".safetensors").unlink()
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] == 30
    assert job.report.modalities["damage"]["text_only"]["predicted"] == 30
    image_only = job.report.modalities["damage"]["image_only"]
    assert image_only["predicted"] == 0 and "safetensors" in image_only["error"]
    capsys.readouterr()
    assert main(["predict", str(project.root), "--task", "damage"]) == 0
    assert "image-only (for the image vs text queue): not predicted:" in \
        capsys.readouterr().out


def counted_key_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the Store key reads (item_images, item_texts) made from now on."""
    from crisisdesk.core.store import Store

    reads: list[str] = []
    for method in ("item_images", "item_texts"):
        real = getattr(Store, method)

        def counting(self: Store, *args: Any, _real: Any = real, _name: str = method,
                     **kwargs: Any) -> Any:
            reads.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Store, method, counting)
    return reads
