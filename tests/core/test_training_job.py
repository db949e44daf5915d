"""Training from a project, scoring, predicting, and the zero-shot and bundled starts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core.fusion.checkpoint import CheckpointError
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project

CLASSES = ("severe_damage", "mild_damage", "little_or_no_damage")


def _project(tmp_path: Path, n: int = 240, dim: int = 16, seed: int = 0) -> Project:
    """Posts whose damage class is readable from image and text embeddings together:
    the image says which of two groups, the text which class within it."""
    rng = np.random.default_rng(seed)
    src = tmp_path / "src"
    src.mkdir(parents=True)
    labels = rng.integers(0, 3, n)
    splits = ["train"] * int(n * 0.7) + ["dev"] * int(n * 0.15)
    splits += ["test"] * (n - len(splits))
    rows = [["id", "text", "image", "damage", "split"]]
    for i in range(n):
        Image.new("RGB", (8, 8), (i % 256, i // 256, 9)).save(src / f"{i}.png")
        rows.append([str(i), f"post {i}", f"{i}.png", CLASSES[labels[i]], splits[i]])
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    project = Project.open(tmp_path / "project", create=True)
    list(ImportJob(project, [src / "posts.csv"], ImportOptions()).run())
    centres_img = rng.normal(size=(3, dim))
    centres_txt = rng.normal(size=(3, dim))
    with project.open_store() as store:
        texts = {t.item: t.key for t in store.item_texts()}
        shas = store.item_images(texts)
        order = sorted(texts)
        image = np.stack([centres_img[labels[k]] + 0.3 * rng.normal(size=dim)
                          for k in range(n)])
        text = np.stack([centres_txt[labels[k]] + 0.3 * rng.normal(size=dim)
                         for k in range(n)])
        store.put_embeddings("image", "img-enc", [shas[i][0] for i in order], image)
        store.put_embeddings("text", "txt-enc", [texts[i] for i in order], text)
    return project


FAST = Recipe(optimizer="adamw", lr=5e-3, max_epochs=30, patience=3)


def test_train_registers_a_calibrated_version_and_scores_the_holdout(tmp_path) -> None:
    project = _project(tmp_path)
    job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=FAST, seeds=2)
    progress = list(job.run())
    assert progress and progress[-1].done <= progress[-1].total
    report = job.report
    assert report.variant == "guided_diff" and report.scored_split == "dev"
    assert len(report.seeds) == 2
    # The progress names each seed as the report does (0 and 1), with how many there are.
    assert [s["seed"] for s in report.seeds] == [0, 1]
    messages = [p.message for p in progress]
    assert any(m.startswith("damage seed 0 (1 of 2): epoch 1,") for m in messages)
    assert "damage seed 1 done" in messages
    for seed in report.seeds:
        assert seed["scored"]["accuracy"] > 0.8
        assert seed["temperature"] > 0
        assert "ece_validation_before" in seed and "ece_validation_after" in seed
    assert set(report.summary) >= {"accuracy", "macro_f1", "weighted_f1"}
    with project.open_store() as store:
        version = store.active_model_version("damage")
        assert version["name"] == report.model_name
        assert Path(version["path"]).is_file()
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'train'").fetchone()
        assert state == "done"
        result = evaluate(store, "damage", "test")
    assert result["accuracy"] > 0.8 and result["model_version"] == report.model_name


def test_val_from_dev_scores_on_test(tmp_path) -> None:
    project = _project(tmp_path)
    job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=FAST, val_from="dev")
    list(job.run())
    assert job.report.scored_split == "test"
    assert job.report.sizes["validation"] == 36


def test_cancelling_training_makes_no_version(tmp_path) -> None:
    project = _project(tmp_path, n=120)
    run = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=FAST).run()
    next(run)
    run.close()
    with project.open_store() as store:
        assert store.active_model_version("damage") is None
        (state,) = store.conn.execute("SELECT state FROM jobs WHERE kind = 'train'").fetchone()
    assert state == "cancelled"


def test_a_head_is_refused_on_embeddings_of_another_encoder(tmp_path) -> None:
    trained = _project(tmp_path / "a", dim=16)
    list(TrainJob(trained, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    other = _project(tmp_path / "b", dim=8)  # same encoder names, other vectors
    with trained.open_store() as store:
        version = store.active_model_version("damage")
    with other.open_store() as store:
        store.add_model_version("damage", version["name"], version["path"],
                                config=version["config"])
    with pytest.raises(CheckpointError, match="img-enc"):
        list(PredictJob(other, ["damage"]).run())


def test_two_trainings_in_the_same_second_keep_their_own_checkpoints(tmp_path,
                                                                     monkeypatch) -> None:
    from crisisdesk.core.fusion import training
    from crisisdesk.core.fusion.checkpoint import load_head

    monkeypatch.setattr(training, "_stamp", lambda: "20261127-120000")
    project = _project(tmp_path, n=60)
    versions = []
    for epochs in (1, 6):
        job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                       recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=epochs,
                                     patience=3, seed=epochs))
        list(job.run())
        versions.append(job.report.model_version)
    with project.open_store() as store:
        first, second = (store.model_version(v) for v in versions)
    assert first["name"] == "damage-guided_diff-20261127-120000"
    assert second["name"] == "damage-guided_diff-20261127-120000-2"
    assert first["path"] != second["path"]
    (one, one_sidecar), (two, two_sidecar) = (load_head(v["path"]) for v in (first, second))
    assert one_sidecar["recipe"]["max_epochs"] == 1 and two_sidecar["recipe"]["max_epochs"] == 6
    a, b = one.state_dict(), two.state_dict()
    assert any(not torch.equal(a[key], b[key]) for key in a)


def test_training_with_no_train_split_names_the_splits_and_the_fix(tmp_path, capsys) -> None:
    # CrisisMMD's dev file imported alone: every label is in dev, nothing to train on.
    project = _project(tmp_path, n=30)
    with project.open_store() as store, store.transaction():
        store.conn.execute("UPDATE splits SET split = 'dev' WHERE task = 'damage'")
    code = main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--val-from", "train", "--epochs", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "0 to train on" in err
    assert "labelled items by split: train 0, dev 30, test 0" in err
    assert "import a train split" in err



def test_training_on_images_when_no_labelled_item_has_one_is_refused(tmp_path, capsys) -> None:
    # CrisisMMD imported without --images-root: every image is missing. A head "on" the
    # image encoder would never see an image (and be built for 1-d image vectors).
    project = _project(tmp_path, n=60)
    with project.open_store() as store, store.transaction():
        store.conn.execute("UPDATE media SET status = 'missing'")
    with pytest.raises(ValueError, match="no labelled damage item has a usable image"):
        list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                      recipe=FAST).run())
    code = main(["train", str(project.root), "--task", "damage", "--encoder", "img-enc",
                 "--text-encoder", "txt-enc", "--epochs", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "60 missing" in err and "--images-root" in err
    with project.open_store() as store:
        assert store.model_versions("damage") == []
    # A text-only head on the same project still trains.
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())

def test_training_without_embeddings_says_how_to_make_them(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=30)
    code = main(["train", str(project.root), "--task", "damage", "--encoder", "clip-vit-b-32",
                 "--text-encoder", "txt-enc", "--epochs", "2"])
    assert code == 2
    assert "crisisdesk embed PROJECT --encoder clip-vit-b-32" in capsys.readouterr().err


def test_train_options_reach_the_recipe_and_the_sidecar(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=120)
    code = main(["train", str(project.root), "--task", "damage", "--text-encoder", "txt-enc",
                 "--optimizer", "adamw", "--lr", "0.005", "--weight-decay", "0.1",
                 "--class-weights", "sqrt", "--label-smoothing", "0.05",
                 "--select", "macro_f1", "--patience", "2", "--epochs", "6",
                 "--batch-size", "16", "--head", "linear"])
    assert code == 0, capsys.readouterr().err
    with project.open_store() as store:
        sidecar = store.active_model_version("damage")["config"]
    recipe = sidecar["recipe"]
    assert (recipe["optimizer"], recipe["lr"], recipe["weight_decay"]) == ("adamw", 0.005, 0.1)
    assert (recipe["class_weighted"], recipe["class_weight_power"]) == (True, 0.5)
    assert (recipe["label_smoothing"], recipe["select"]) == (0.05, "macro_f1")
    assert (recipe["patience"], recipe["max_epochs"], recipe["batch_size"]) == (2, 6, 16)
    assert sidecar["config"]["single_head"] == "linear"
    assert sidecar["config"]["variant"] == "text_only"
    assert all("val_macro_f1" in seed for seed in sidecar["metrics"]["seeds"])


def test_defaults_are_the_text_recipe_for_text_heads_and_the_papers_for_fusion(tmp_path) -> None:
    from crisisdesk.core.fusion.train import named_recipe

    project = _project(tmp_path, n=60)
    text = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc")
    assert text.recipe == named_recipe("text")
    assert text.config_overrides["single_head"] == "mlp"
    fusion = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc")
    assert fusion.recipe == Recipe() and fusion.config_overrides == {}
    mine = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                    recipe=FAST, config={"single_head": "attention"})
    assert mine.recipe == FAST and mine.config_overrides["single_head"] == "attention"


def test_the_registered_seed_is_recorded_and_can_be_picked_on_the_scored_split(tmp_path) -> None:
    project = _project(tmp_path, n=120)
    job = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                   recipe=FAST, seeds=2, pick_seed_on="scored")
    list(job.run())
    with project.open_store() as store:
        metrics = store.active_model_version("damage")["config"]["metrics"]
    scores = {s["seed"]: s["scored"]["accuracy"] + s["scored"]["macro_f1"]
              for s in job.report.seeds}
    assert metrics["seed_picked_on"] == "scored"
    assert scores[metrics["active_seed"]] == max(scores.values())
    with pytest.raises(ValueError, match="pick_seed_on"):
        TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                 pick_seed_on="test")


def test_the_sidecar_says_which_texts_the_head_was_trained_on(tmp_path) -> None:
    """"tweet" when no training text holds a caption; the captioner and how many items
    had one when some did (their text was the tweet followed by the caption)."""
    project = _project(tmp_path / "plain")
    job = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                   recipe=FAST)
    list(job.run())
    with project.open_store() as store:
        assert store.active_model_version("damage")["config"]["text_source"] == "tweet"

    project = _project(tmp_path / "captioned")
    with project.open_store() as store:
        texts = store.item_texts()
        shas = store.item_images([t.item for t in texts])
        for t in texts[:30]:
            store.add_caption(shas[t.item][0], t.text, "llava-test@4bit", "v1",
                              f"A photo for item {t.item}.")
        # the captioned texts are new texts: embed them (random vectors do for this)
        rng = np.random.default_rng(1)
        new = [t.key for t in store.item_texts([t.item for t in texts[:30]])]
        store.put_embeddings("text", "txt-enc", new, rng.normal(size=(30, 16)))
    job = TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                   recipe=FAST)
    list(job.run())
    with project.open_store() as store:
        source = store.active_model_version("damage")["config"]["text_source"]
    # every labelled item is used (train, dev and test alike), 30 of 240 with a caption
    assert source == "tweet+caption:llava-test@4bit (30 of 240 labelled items)"

    image_only = TrainJob(project, "damage", image_encoder="img-enc", text_encoder=None,
                          variant="image_only", recipe=FAST)
    list(image_only.run())
    with project.open_store() as store:
        assert store.active_model_version("damage")["config"]["text_source"] is None


def test_the_train_summary_reads_as_sentences_not_python(tmp_path, capsys) -> None:
    """Sizes and options as words; a mean and spread only over several seeds."""
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder", "txt-enc",
                 "--head", "mlp", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "}" not in out, out
    assert "trained on train 76 / validation 8 / dev 18 items" in out
    assert "single head mlp" in out
    assert "mean of" not in out  # one seed: its own line says its figures
    assert main(["train", str(project.root), "--task", "damage", "--text-encoder", "txt-enc",
                 "--epochs", "2", "--seeds", "2"]) == 0
    assert "mean of 2 seeds on dev:" in capsys.readouterr().out


def test_a_version_name_is_reserved_until_its_checkpoint_is_registered(tmp_path) -> None:
    """Two retrains at once (the app's two windows, its Retrain pressed twice) both found
    the same name free before either had saved, and the second checkpoint replaced the
    first one's weights ("not the ones its sidecar was written with")."""
    from crisisdesk.core.fusion.training import free_version_name, release_version_name

    project = _project(tmp_path, n=10)
    folder = project.folder("models")
    with project.open_store() as store:
        first = free_version_name(store, folder, "damage-guided_diff-20261127-120000")
        second = free_version_name(store, folder, "damage-guided_diff-20261127-120000")
        assert (first, second) == ("damage-guided_diff-20261127-120000",
                                   "damage-guided_diff-20261127-120000-2")
        release_version_name(folder, first)
        assert free_version_name(store, folder, "damage-guided_diff-20261127-120000") == first
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        f"{first}.reserved", f"{second}.reserved"])


def test_a_training_leaves_no_reservation_behind(tmp_path) -> None:
    project = _project(tmp_path, n=60)
    job = TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                   recipe=Recipe(optimizer="adamw", lr=5e-3, max_epochs=1, patience=1))
    list(job.run())
    names = sorted(p.name for p in project.folder("models").iterdir())
    assert names == [f"{job.report.model_name}.json", f"{job.report.model_name}.safetensors"]


def test_an_encoder_the_project_has_no_embeddings_of_is_named_with_those_it_has(
        tmp_path, capsys) -> None:
    """A typo in --text-encoder: said as such, with the encoders the project has, not as
    "N texts have no embedding yet; run embed" (which would fail on an unknown model)."""
    project = _project(tmp_path)
    code = main(["train", str(project.root), "--task", "damage", "--text-encoder", "txt-enk"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no text embeddings of 'txt-enk'" in err
    assert "txt-enc" in err


def test_train_without_encoders_uses_those_the_project_has(tmp_path, capsys) -> None:
    """Neither --encoder nor --text-encoder: the project's embeddings decide (a
    text-only project trained an image_only head before, and failed asking for CLIP)."""
    project = _project(tmp_path)
    code = main(["train", str(project.root), "--task", "damage", "--epochs", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "encoders (from the project's embeddings): image img-enc, text txt-enc" in out
    with project.open_store() as store:
        version = store.active_model_version("damage")
    assert version["config"]["image_encoder"] == "img-enc"
    assert version["config"]["text_encoder"] == "txt-enc"
