"""Training while the embed job is still running: in a live deployment posts are imported
and labelled all day, before Embed reaches them. A labelled item not embedded yet is
left out of a training (said, with how to include it), never trained as if it had no
image, and never keeps the task's other labels from training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from test_retrain import FAST, _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.checkpoint import load_head
from crisisdesk.core.fusion.data import NotEnoughLabels, task_data
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob, holdout_rows
from crisisdesk.core.store import LabelChange, Store

FUSION = {"image_encoder": "img-enc", "text_encoder": "txt-enc"}


def _unembed(store: Store, items: list[int], kind: str) -> None:
    """Delete the ``kind`` embeddings (img-enc / txt-enc) of ``items``: the embed job
    has not reached them yet."""
    if kind == "image":
        keys = [sha for sha, _ in store.item_images(items).values()]
    else:
        keys = [t.key for t in store.item_texts(items)]
    encoder = "img-enc" if kind == "image" else "txt-enc"
    store.conn.executemany("DELETE FROM embeddings WHERE kind = ? AND encoder = ? AND key = ?",
                           [(kind, encoder, key) for key in keys])


def _labelled(store: Store) -> list[int]:
    return [item for item, _, _ in store.labelled_items("damage")]


def _cli_train(project: Project) -> int:
    """``crisisdesk train`` of the damage fusion head, two epochs; its exit code."""
    return main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"])


def _trained(store: Store) -> set[int]:
    """The labelled items a training used: it stored a split for each (ensure_splits)."""
    return {item for item, _, split in store.labelled_items("damage") if split}


def test_train_uses_the_embedded_items_and_says_how_many_were_left_out(
        tmp_path, capsys) -> None:
    project = _project(tmp_path, n=80)
    with project.open_store() as store:
        left = _labelled(store)[:3]
        _unembed(store, left, "text")
    code = _cli_train(project)
    out = capsys.readouterr().out
    assert code == 0
    assert "3 labelled items left out, not embedded yet: 3 texts have no txt-enc " \
        "embedding" in out
    assert "crisisdesk embed PROJECT --encoder txt-enc --kind text" in out
    with project.open_store() as store:
        metrics = store.active_model_version("damage")["metrics"]
        assert _trained(store) == set(_labelled(store)) - set(left)
    assert metrics["left_out_not_embedded"] == 3


def test_an_item_whose_image_is_not_embedded_is_left_out_not_trained_as_image_less(
        tmp_path) -> None:
    project = _project(tmp_path, n=60)
    # Text-only posts (no image at all): these do train, with the missing-image token.
    src = tmp_path / "text_only.csv"
    with src.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "damage"]] + [
            [f"t{i}", f"text only {i}", "mild_damage"] for i in range(4)])
    list(ImportJob(project, [src], ImportOptions()).run())
    with project.open_store() as store:
        labelled = _labelled(store)
        text_only = [item for item, (sha, _) in store.item_images(labelled).items()
                     if sha is None]
        texts = store.item_texts(text_only)
        store.put_embeddings("text", "txt-enc", [t.key for t in texts],
                             torch.zeros(len(texts), 12).numpy())
        waiting = [item for item in labelled if item not in text_only][:2]
        _unembed(store, waiting, "image")
        data = task_data(store, "damage", **FUSION)
    assert len(text_only) == 4
    assert not set(waiting) & set(data.items)  # not trained as if it had no image
    assert set(text_only) <= set(data.items)  # no image at all: trained image-less
    present = dict(zip(data.items, data.tensors.image_present.tolist(), strict=True))
    assert not any(present[item] for item in text_only)
    assert (data.left_out.items, data.left_out.images, data.left_out.texts) == (2, 2, 0)
    assert "2 images have no img-enc embedding" in data.left_out.note()
    assert "--encoder img-enc --kind image" in data.left_out.note()


def test_too_few_embedded_items_give_a_refusal_naming_the_task(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=50, labelled=40)  # the 10 others are embedded
    with project.open_store() as store:
        _unembed(store, _labelled(store), "text")
    code = _cli_train(project)
    err = capsys.readouterr().err
    assert code == 2
    assert "damage: not enough labelled items to train: 40 labelled items left out, not " \
        "embedded yet" in err
    # A few embedded: the usual rules apply to them, and the refusal says what waits.
    with project.open_store() as store:
        labelled = store.labelled_items("damage")
        one_class = [item for item, label, _ in labelled if label == "severe_damage"][:4]
        texts = store.item_texts(one_class)
        store.put_embeddings("text", "txt-enc", [t.key for t in texts],
                             torch.ones(len(texts), 12).numpy())
    with pytest.raises(NotEnoughLabels, match=r"^damage: all \d labelled items to train on"
                       r" are severe_damage.*; 36 labelled items left out, not embedded"):
        list(TrainJob(project, "damage", recipe=FAST, **FUSION).run())
    # A retrain counts its 20 labels on what is embedded.
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    list(job.run())
    skipped = job.report.tasks["damage"].skipped
    assert skipped.startswith("4 labels of embedded items (all severe_damage); a retrain "
                              "needs at least 20 labels of two classes; 36 labelled items "
                              "left out, not embedded yet")


def _weights(project: Project) -> dict[str, torch.Tensor]:
    with project.open_store() as store:
        version = store.active_model_version("damage")
    return load_head(Path(version["path"]))[0].state_dict()


def test_a_seed_trains_the_same_head_as_if_the_items_not_embedded_were_unlabelled(
        tmp_path) -> None:
    waiting, unlabelled = _project(tmp_path / "a", n=90), _project(tmp_path / "b", n=90)
    with waiting.open_store() as store:
        left = _labelled(store)[::9]
        _unembed(store, left, "image")
    with unlabelled.open_store() as store:
        store.add_labels([LabelChange(item, "damage", None) for item in left],
                         annotator="ana")
    jobs = [TrainJob(project, "damage", recipe=FAST, **FUSION)
            for project in (waiting, unlabelled)]
    for job in jobs:
        list(job.run())
    assert jobs[0].report.left_out == len(left) and jobs[1].report.left_out == 0
    assert jobs[0].report.sizes == jobs[1].report.sizes
    assert jobs[0].report.seeds == jobs[1].report.seeds
    first, second = _weights(waiting), _weights(unlabelled)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    with waiting.open_store() as a, unlabelled.open_store() as b:
        hashes = [store.active_model_version("damage")["config"]["training_data_hash"]
                  for store in (a, b)]
    assert hashes[0] == hashes[1]


def test_a_retrain_trains_on_the_embedded_items_and_says_what_waits(tmp_path) -> None:
    project = _project(tmp_path, n=90)
    with project.open_store() as store:
        left = _labelled(store)[:2]
        _unembed(store, left, "text")
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    progress = list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.skipped is None and entry.candidate is not None
    with project.open_store() as store:
        assert _trained(store) == set(_labelled(store)) - set(left)
    assert entry.not_embedded.startswith("2 labelled items left out, not embedded yet")
    assert "2 labelled items left out, not embedded yet" in progress[-1].message
    assert json.dumps(job.report.as_dict())  # the job's stored result carries it


def test_holdout_items_not_embedded_are_left_out_of_both_versions_figures(tmp_path) -> None:
    # A fusion head scoring an item whose image is not embedded yet scores it as if it
    # had no image: neither version's figure may count it.
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", recipe=FAST, **FUSION).run())
    with project.open_store() as store:
        _, rows = holdout_rows(store, "damage")
        _unembed(store, [item for item, _ in rows[:3]], "image")
    job = RetrainJob(project, ["damage"], recipe=FAST, **FUSION)
    progress = list(job.run())
    entry = job.report.tasks["damage"]
    assert entry.current is not None and entry.new is not None
    assert entry.holdout_not_embedded == 3
    assert entry.new["n"] == entry.current["n"] == entry.holdout - 3
    assert "3 holdout items not embedded yet, left out of both versions' figures" in \
        progress[-1].message


def test_eval_leaves_out_items_whose_image_is_not_embedded_yet(tmp_path, capsys) -> None:
    # As training does: the predictor would score such an item as an image-less post.
    project = _project(tmp_path, n=80)
    assert _cli_train(project) == 0
    with project.open_store() as store:
        dev = [item for item, _, split in store.labelled_items("damage") if split == "dev"]
        _unembed(store, dev[:2], "image")
    capsys.readouterr()
    assert main(["eval", str(project.root), "--task", "damage", "--split", "dev",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["items"], report["unseen"]) == (len(dev), 2)
