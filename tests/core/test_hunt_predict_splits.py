"""Bug hunt on predict and the stored splits: each test names a behaviour that was wrong
once (one task's lost checkpoint failing every task's Predict; labelled items that a
`crisisdesk train` trained on, moved into the holdout by a later import)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_training_job import FAST, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.cli import main
from crisisdesk.core.fusion import predict as predict_module
from crisisdesk.core.fusion.data import ensure_splits, task_data, training_splits
from crisisdesk.core.fusion.predict import NoModel, PredictJob
from crisisdesk.core.fusion.training import TrainJob, data_hash
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange

N = 60


def _two_heads(tmp_path: Path) -> tuple[Project, dict]:
    """A project with trained damage and informative heads; the damage version."""
    project = _project(tmp_path, n=N)
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        store.add_labels([LabelChange(item, "informative",
                                      "informative" if k % 2 else "not_informative")
                          for k, item in enumerate(items)], annotator="ana")
    for task in ("damage", "informative"):
        list(TrainJob(project, task, image_encoder=None, text_encoder="txt-enc",
                      recipe=FAST).run())
    with project.open_store() as store:
        return project, store.active_model_version("damage")


def _predicted(project: Project) -> dict[str, int]:
    with project.open_store() as store:
        return dict(store.conn.execute(
            "SELECT task, COUNT(*) FROM predictions GROUP BY task").fetchall())


def _break(version: dict, how: str) -> str:
    """Damage the version's checkpoint ``how``; the file the message must name."""
    sidecar = Path(version["path"])
    weights = sidecar.with_suffix(".safetensors")
    if how == "sidecar gone":
        sidecar.unlink()
        return sidecar.name
    weights.write_bytes(b"not a safetensors file")
    return weights.name


@pytest.mark.parametrize("how", ["sidecar gone", "weights damaged"])
def test_a_task_whose_active_version_cannot_load_is_reported_and_the_others_predicted(
        tmp_path: Path, how: str) -> None:
    # Before: the CheckpointError of damage's head ended the whole job; informative,
    # whose head is fine, got no prediction either (the app's Predict, predict --task all).
    project, damage = _two_heads(tmp_path)
    file = _break(damage, how)
    job = PredictJob(project, ["damage", "informative"])
    with pytest.raises(NoModel) as raised:
        list(job.run())
    assert _predicted(project) == {"informative": N}
    assert job.report.tasks["informative"]["predicted"] == N
    error = job.report.tasks["damage"]["error"]
    assert job.report.tasks["damage"]["predicted"] == 0
    for words in (damage["name"], file, "Make another damage version active",
                  "crisisdesk versions PROJECT --activate ID",
                  "crisisdesk train PROJECT --task damage"):
        assert words in error and words in str(raised.value)
    assert "informative (60 items predicted)" in str(raised.value)
    with project.open_store() as store:
        state, message, result = store.conn.execute(
            "SELECT state, error, result FROM jobs WHERE kind = 'predict'").fetchone()
    assert state == "failed" and damage["name"] in message
    assert json.loads(result)["tasks"]["damage"]["error"] == error


def test_a_task_whose_shipped_head_is_missing_does_not_stop_the_others(
        tmp_path: Path, monkeypatch) -> None:
    # The shipped head a task started from is not in this installation (a trimmed
    # package): NoModel from loading it failed every task's predictions.
    project, damage = _two_heads(tmp_path)
    with project.open_store() as store:
        store.add_model_version("damage", "bundled-txt-enc-damage", "bundled:damage",
                                encoder="txt-enc", config=damage["config"], active=True)
    monkeypatch.setattr(predict_module, "bundled_head_path", lambda task, stack: None)
    job = PredictJob(project, ["damage", "informative"])
    with pytest.raises(NoModel, match="bundled-txt-enc-damage cannot be loaded"):
        list(job.run())
    assert "bundled:damage is not in this installation" in job.report.tasks["damage"][
        "error"]
    assert _predicted(project) == {"informative": N}


def test_predict_all_on_the_cli_predicts_the_others_and_says_what_failed(
        tmp_path: Path, capsys) -> None:
    project, damage = _two_heads(tmp_path)
    Path(damage["path"]).with_suffix(".safetensors").unlink()
    capsys.readouterr()
    # Done with problems (1): the other tasks were predicted and saved.
    assert main(["predict", str(project.root), "--task", "all"]) == 1
    printed = capsys.readouterr()
    err, out = printed.err, printed.out
    assert err.startswith("error: damage not predicted:")
    assert "Traceback" not in err
    for words in (damage["name"], ".safetensors", "crisisdesk train PROJECT --task damage"):
        assert words in err
    assert "informative: 60 items predicted by" in out
    assert "humanitarian: not predicted:" in out
    assert _predicted(project) == {"informative": N}
    # Once damage has a head again, predict ends well and fills damage only.
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())
    assert main(["predict", str(project.root), "--task", "all"]) == 0
    assert _predicted(project) == {"informative": N, "damage": N}


def _late_posts(tmp_path: Path, project: Project, ids: range) -> None:
    """Labelled posts with no split, imported after the project's splits (new
    corrections), with their text embeddings."""
    late = tmp_path / "late.csv"
    with late.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "damage"]] + [
            [str(i), f"post {i}", "mild_damage"] for i in ids])
    assert main(["import", str(project.root), str(late), "--source", "posts"]) == 0
    with project.open_store() as store:
        keys = list(store.missing_keys("text", "txt-enc",
                                       [t.key for t in store.item_texts()]))
        store.put_embeddings("text", "txt-enc", keys,
                             np.random.default_rng(3).normal(size=(len(keys), 16)))


def _splits(project: Project) -> dict[str, str | None]:
    """Each labelled damage item's split, by post id."""
    with project.open_store() as store:
        return {store.item_uid_of(item).split(":")[1]: split
                for item, _, split in store.labelled_items("damage")}


def test_items_crisisdesk_train_trained_on_never_move_into_the_holdout(
        tmp_path: Path, capsys) -> None:
    # Before: the late posts trained with no split stored (only the retrain stored one);
    # a colleague's export naming split=test for them then put 20 items the active head
    # had trained on into the frozen test split.
    project = _project(tmp_path, n=N)
    late = range(1000, 1020)
    _late_posts(tmp_path, project, late)
    before = _splits(project)
    assert {before[str(i)] for i in late} == {None}
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder",
                 "txt-enc", "--epochs", "3", "--val-from", "train"]) == 0
    with project.open_store() as store:
        (result,) = store.conn.execute(
            "SELECT result FROM jobs WHERE kind = 'train'").fetchone()
    sizes = json.loads(result)["sizes"]
    trained = _splits(project)
    # The same items train as before (the unsplit ones among them); only the split of
    # the late ones is new.
    assert sizes["train"] + sizes["validation"] == list(trained.values()).count("train")
    assert trained == {pid: split or "train" for pid, split in before.items()}
    colleague = tmp_path / "colleague.csv"
    with colleague.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text", "damage", "split"]] + [
            [str(i), f"post {i}", "mild_damage", "test"] for i in late])
    assert main(["import", str(project.root), str(colleague), "--source", "posts"]) == 0
    assert _splits(project) == trained


def test_the_train_split_is_stored_and_changes_none_of_what_trains(tmp_path: Path) -> None:
    # What is stored is the in-memory "train" the unsplit items trained by before; the
    # --val-from train slice and every seed's draw stay those of before.
    project = _project(tmp_path, n=N)
    _late_posts(tmp_path, project, range(1000, 1020))
    with project.open_store() as store:
        data = task_data(store, "damage", image_encoder=None, text_encoder="txt-enc")
        unsplit = list(data.splits)
        data = ensure_splits(store, data)
        assert data.splits == [s or "train" for s in unsplit]
        stored = {item: split for item, _, split in store.labelled_items("damage")}
        assert [stored[item] for item in data.items] == data.splits
        again = ensure_splits(store, task_data(store, "damage", image_encoder=None,
                                               text_encoder="txt-enc"))
    assert data_hash(again) == data_hash(data)
    for val_from in ("train", "dev"):
        for seed in (0, 1, 2):
            first = training_splits(data, val_from, seed)
            second = training_splits(again, val_from, seed)
            assert all(np.array_equal(a, b) for a, b in zip(first[:3], second[:3],
                                                            strict=True))


def test_a_split_stored_meanwhile_is_the_one_the_item_trains_by(tmp_path: Path) -> None:
    # An import beside the training stored split=test for a late item after the training
    # read its labels: the first split stored wins, so the item must not train.
    project = _project(tmp_path, n=N)
    _late_posts(tmp_path, project, range(1000, 1004))
    with project.open_store() as store, project.open_store() as other:
        data = task_data(store, "damage", image_encoder=None, text_encoder="txt-enc")
        late = [item for item, split in zip(data.items, data.splits, strict=True)
                if split is None]
        other.set_split(late[0], "damage", "test")
        data = ensure_splits(store, data)
        splits = dict(zip(data.items, data.splits, strict=True))
        stored = {item: split for item, _, split in store.labelled_items("damage")}
    assert splits[late[0]] == stored[late[0]] == "test"
    assert {splits[item] for item in late[1:]} == {stored[item] for item in late[1:]} \
        == {"train"}


def test_a_split_stored_meanwhile_wins_over_the_first_draw_too(tmp_path: Path) -> None:
    # A task's first training draws the holdout; an import beside it stored splits for
    # some items after the training read its labels. The first split stored wins, and
    # the training must score and train by it (it kept its own draw in memory).
    project = _project(tmp_path, n=N)
    with project.open_store() as store, project.open_store() as other:
        store.conn.execute("DELETE FROM splits WHERE task = 'damage'")
        data = task_data(store, "damage", image_encoder=None, text_encoder="txt-enc")
        assert all(split is None for split in data.splits)
        early = data.items[:10]
        for item in early:
            other.set_split(item, "damage", "dev")
        data = ensure_splits(store, data)
        splits = dict(zip(data.items, data.splits, strict=True))
        stored = {item: split for item, _, split in store.labelled_items("damage")}
    assert splits == stored
    assert {splits[item] for item in early} == {"dev"}
