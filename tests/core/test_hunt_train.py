"""Bug hunt on training, scoring and checkpoints of the fusion heads: each test names a
behaviour that was wrong once (training that diverged, figures of the wrong epoch...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_fusion_checkpoint import edit_sidecar, sidecar_for
from test_fusion_model import small_config
from test_fusion_train import learnable
from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion import training
from crisisdesk.core.fusion.checkpoint import CheckpointError, load_head, read_sidecar, save_head
from crisisdesk.core.fusion.metrics import fit_temperature
from crisisdesk.core.fusion.model import FusionConfig, FusionHead
from crisisdesk.core.fusion.train import Recipe, TrainingDiverged, fit
from crisisdesk.core.project import Project

#: A learning rate at which SGD blows the weights up to NaN in the first epoch.
DIVERGING = {"optimizer": "sgd", "lr": 1e6, "batch_size": 32, "max_epochs": 3,
             "patience": 5}


@pytest.mark.parametrize("select", ["loss", "macro_f1"])
def test_training_that_diverges_is_refused_not_saved_as_the_untrained_head(select) -> None:
    # Before: with select "loss" every epoch's NaN loss lost to the initial +inf, so the
    # untrained initial weights came back as "best epoch 0"; with "macro_f1" the NaN
    # weights were picked and temperature scaling later failed on NaN logits.
    with pytest.raises(TrainingDiverged, match=r"diverged.*--lr"):
        fit(small_config("concat_mlp"), Recipe(**DIVERGING, select=select),
            learnable(200, 0), learnable(60, 1))


def test_fit_temperature_of_right_and_very_confident_logits_is_the_lower_bound() -> None:
    # Every item right with a wide margin: the NLL keeps falling as T -> 0. Before, the
    # slope E_p[z] - z_true lost its tiny negative part to rounding (E_p[z] == z_true in
    # float64), read as "flat", and the fit answered T_MAX: "no information".
    logits = np.array([[4000.0, 0.0, 10.0], [0.0, 4000.0, -5.0]])
    assert fit_temperature(logits, [0, 1]) == pytest.approx(0.01)
    assert fit_temperature(logits + 1e4, [0, 1]) == pytest.approx(0.01)


def test_a_seeds_validation_loss_is_that_of_the_epoch_whose_weights_are_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Selecting on macro F1 keeps an early epoch (F1 1.0 at once on separable data) while
    # the loss goes on falling; the seed's val_loss (sidecar metrics) was the lowest of
    # any epoch, a figure of weights that were thrown away.
    results = []
    real_iter_fit = training.iter_fit

    def capturing(*args, **kwargs):
        result = yield from real_iter_fit(*args, **kwargs)
        results.append(result)
        return result

    monkeypatch.setattr(training, "iter_fit", capturing)
    recipe = Recipe(optimizer="adamw", lr=5e-3, max_epochs=10, patience=10,
                    select="macro_f1")
    job = training.TrainJob(_project(tmp_path, n=120), "damage", image_encoder=None,
                            text_encoder="txt-enc", recipe=recipe)
    list(job.run())
    (result,) = results
    kept = result.history[result.best_epoch - 1]
    assert result.best_epoch < len(result.history)  # the case: later epochs had lower loss
    assert job.report.seeds[0]["val_loss"] == kept.val_loss
    assert job.report.seeds[0]["val_macro_f1"] == kept.val_macro_f1


def _saved_fusion_head(folder: Path, variant: str = "guided_diff") -> Path:
    config = FusionConfig(n_classes=3, image_dim=16, text_dim=12, variant=variant,
                          hidden=16, tokens=2, heads=2)
    return save_head(folder, f"damage-{variant}", FusionHead(config), sidecar_for(config))


def test_a_sidecar_whose_n_classes_is_not_a_number_says_so(tmp_path: Path) -> None:
    # Before: "config has 3 classes but the sidecar lists 3" (the string "3" != 3).
    path = _saved_fusion_head(tmp_path)
    edit_sidecar(path, config={**read_sidecar(path)["config"], "n_classes": "3"})
    with pytest.raises(CheckpointError, match=r"damage-guided_diff\.json: config n_classes "
                       r"must be an integer, not '3'"):
        load_head(path)


@pytest.mark.parametrize(("variant", "kind"), [("guided_diff", "image"),
                                               ("concat_mlp", "text"),
                                               ("image_only", "image")])
def test_a_sidecar_that_drops_an_encoder_its_head_reads_is_refused(
        tmp_path: Path, variant: str, kind: str) -> None:
    # Before: the sidecar passed, predict and eval built 1-d inputs for the modality and
    # the head failed with a matrix-shape RuntimeError traceback.
    path = _saved_fusion_head(tmp_path, variant)
    edit_sidecar(path, **{f"{kind}_encoder": None, f"{kind}_dim": None})
    with pytest.raises(CheckpointError, match=rf"damage-{variant}\.json: a {variant} head "
                       rf"reads {kind} embeddings, but {kind}_encoder is null"):
        read_sidecar(path)


def test_eval_of_an_unknown_task_says_the_task_is_unknown(tmp_path: Path, capsys) -> None:
    # Before: "no nope model in this project yet: label some items and train one".
    project = Project.open(tmp_path / "p", create=True)
    assert main(["eval", str(project.root), "--task", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "damage, humanitarian, informative" in err


def _without_test_split(tmp_path: Path) -> Project:
    """A project labelled in train and dev only (as CrisisMMD setting A is imported)."""
    project = _project(tmp_path, n=120)
    with project.open_store() as store, store.transaction():
        store.conn.execute("UPDATE splits SET split = 'dev' WHERE split = 'test'")
    return project


def test_training_that_has_nothing_to_score_says_so_and_eval_warns_on_its_dev(
        tmp_path: Path, capsys) -> None:
    # --val-from dev scores on test; without test items the summary said "test 0 items"
    # and showed no figure, and a plain `eval` (split dev by default) then scored the
    # split that had early-stopped and calibrated the head, with no word of it.
    project = _without_test_split(tmp_path)
    root = str(project.root)
    assert main(["train", root, "--task", "damage", "--text-encoder", "txt-enc",
                 "--val-from", "dev", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "no labelled test items, so nothing was scored" in out
    assert main(["eval", root, "--task", "damage"]) == 0
    out = capsys.readouterr().out
    assert "optimistic: this head early-stopped and was calibrated on dev" in out
    assert main(["eval", root, "--task", "damage", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "early-stopped and was calibrated on dev" in report["optimistic"]


def test_eval_on_a_split_the_head_never_tuned_on_has_no_warning(tmp_path: Path,
                                                                capsys) -> None:
    project = _project(tmp_path, n=120)
    root = str(project.root)
    assert main(["train", root, "--task", "damage", "--text-encoder", "txt-enc",
                 "--epochs", "3"]) == 0  # --val-from train: early-stops on train's slice
    assert "nothing was scored" not in capsys.readouterr().out
    assert main(["eval", root, "--task", "damage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["optimistic"] is None


def test_weights_that_hold_nan_are_refused_naming_the_file(tmp_path: Path) -> None:
    # Before: a head whose weights were NaN loaded, "predicted" its first class for every
    # item and eval printed an accuracy with "ECE nan" (and --json wrote NaN).
    config = FusionConfig(n_classes=3, image_dim=16, text_dim=12, hidden=16, tokens=2,
                          heads=2)
    head = FusionHead(config)
    with torch.no_grad():
        head.classifier.weight.fill_(float("nan"))
    path = save_head(tmp_path, "damage-nan", head, sidecar_for(config))
    with pytest.raises(CheckpointError, match=r"damage-nan\.safetensors: .*NaN or infinite"
                       r".*classifier\.weight"):
        load_head(path)


@pytest.mark.parametrize("power", [float("nan"), float("inf"), -0.5])
def test_a_class_weight_power_that_is_no_usable_number_is_refused(power) -> None:
    with pytest.raises(ValueError, match="class_weight_power must be a number from 0 up"):
        Recipe(class_weighted=True, class_weight_power=power)
