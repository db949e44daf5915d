"""Checks that a deliberately broken fusion method makes a test fail (mutation audit,
session 14). Each test here pins one behaviour that no earlier test caught (or caught
only on a side path) when the code was broken on purpose in a scratch copy (the
audit's table is in the session report):

* early stopping on the validation split, the scored split left alone;
* temperature scaling fitted on the validation split too;
* the weights of the best epoch restored when training stops early (only a cancel
  test caught it before);
* the expected calibration error's bins ``(i / bins, (i + 1) / bins]``;
* ``crisisdesk eval`` printing the figures its ``--json`` gives;
* predictions stored as the head's softmax at its calibration temperature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_fusion_model import small_config
from test_fusion_train import learnable
from test_training_job import FAST, _project

from crisisdesk.cli import main
from crisisdesk.core.fusion import training
from crisisdesk.core.fusion.checkpoint import load_head
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.inputs import item_tensors
from crisisdesk.core.fusion.metrics import expected_calibration_error
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.train import Recipe, fit, predict_logits


def _train_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Train a text-only damage head on a small project, recording the splits the job
    drew, the validation data early stopping saw, the fitted result and what the
    temperature was fitted on."""
    seen: dict = {"val_given": [], "results": [], "temperature_fits": []}
    real_splits, real_iter_fit = training.training_splits, training.iter_fit
    real_fit_temperature = training.fit_temperature

    def splits(data, *args, **kwargs):
        train, val, scored, name = real_splits(data, *args, **kwargs)
        # The task's whole matrices as drawn: the job lets data.tensors go once its
        # splits are copied (memory), so they are kept here for the checks.
        seen.update(data=data, tensors=data.tensors, val=val, scored=scored)
        return train, val, scored, name

    def iter_fit(config, recipe, train, val, **kwargs):
        seen["val_given"].append(val)
        result = yield from real_iter_fit(config, recipe, train, val, **kwargs)
        seen["results"].append(result)
        return result

    def fit_temperature(logits, labels):
        seen["temperature_fits"].append((np.asarray(logits), np.asarray(labels)))
        return real_fit_temperature(logits, labels)

    monkeypatch.setattr(training, "training_splits", splits)
    monkeypatch.setattr(training, "iter_fit", iter_fit)
    monkeypatch.setattr(training, "fit_temperature", fit_temperature)
    job = training.TrainJob(_project(tmp_path, n=120), "damage", image_encoder=None,
                            text_encoder="txt-enc", recipe=FAST)
    list(job.run())
    return seen


def test_training_early_stops_on_the_validation_split_not_the_scored_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _train_recording(tmp_path, monkeypatch)
    tensors, val, scored = seen["tensors"], seen["val"], seen["scored"]
    assert len(scored) and not set(val.tolist()) & set(scored.tolist())
    (given,) = seen["val_given"]
    # The items early stopping watched are the validation split's, row for row.
    torch.testing.assert_close(given.text, tensors.subset(val).text, rtol=0, atol=0)
    torch.testing.assert_close(given.labels, tensors.labels[val], rtol=0, atol=0)


def test_the_temperature_is_fitted_on_the_validation_split_not_the_scored_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _train_recording(tmp_path, monkeypatch)
    tensors, val = seen["tensors"], seen["val"]
    (result,) = seen["results"]
    (logits, labels), = seen["temperature_fits"]
    # The head kept, on the validation items: the only logits a temperature may see.
    expected = predict_logits(result.model, tensors.subset(val)).numpy()
    np.testing.assert_array_equal(labels, tensors.labels[val].numpy())
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-6)


def test_an_early_stopped_fit_returns_the_weights_of_its_best_epoch() -> None:
    train, val = learnable(600, seed=0, noise=0.3), learnable(200, seed=1, noise=0.3)
    recipe = Recipe(optimizer="adamw", lr=1e-2, batch_size=64, max_epochs=40, patience=3)
    result = fit(small_config("concat_mlp", dropout=0.0), recipe, train, val)
    assert result.stopped_early and result.best_epoch < result.epochs_run
    best, last = result.history[result.best_epoch - 1], result.history[-1]
    assert last.val_loss > best.val_loss  # the case: the last epoch is not the best
    # The model handed back scores the best epoch's validation loss, not the last's.
    loss = float(F.cross_entropy(predict_logits(result.model, val), val.labels))
    assert loss == pytest.approx(best.val_loss, rel=1e-5)


def test_ece_bins_hold_their_upper_edge() -> None:
    # Two bins, (0, 0.5] and (0.5, 1]: a confidence of exactly 0.5 is in the first.
    # 0.5 (right) alone -> |1 - 0.5| * 1/2; 0.9 (wrong) alone -> |0 - 0.9| * 1/2.
    probs = np.array([[0.5, 0.5], [0.1, 0.9]])
    truth = np.array([0, 0])
    assert expected_calibration_error(probs, truth, bins=2) == pytest.approx(
        (0.5 + 0.9) / 2)


def test_eval_prints_the_figures_its_json_gives(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=120)
    # One short epoch: a head that errs, so that its scores differ from one another.
    undertrained = Recipe(optimizer="sgd", lr=1e-3, max_epochs=1)
    list(training.TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                           recipe=undertrained).run())
    root = str(project.root)
    capsys.readouterr()
    assert main(["eval", root, "--task", "damage", "--split", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["eval", root, "--task", "damage", "--split", "dev"]) == 0
    printed = capsys.readouterr().out
    with project.open_store() as store:
        figures = evaluate(store, "damage", "dev")
    assert len({figures["accuracy"], figures["macro_f1"], figures["weighted_f1"]}) == 3
    assert {key: report[key] for key in figures} == json.loads(json.dumps(figures))
    for score in ("accuracy", "macro_f1", "weighted_f1"):
        low, high = report["ci95"][score]
        words = score.replace("_", " ")
        assert f"{words} {report[score]:.1%} [{low:.1%}, {high:.1%}]" in printed, score
    assert f"ECE {report['ece']:.3f}" in printed
    for cls, row in report["per_class"].items():
        line = next(line for line in printed.splitlines() if line.strip().startswith(cls))
        assert line.split()[1:] == [f"{row['precision']:.1%}", f"{row['recall']:.1%}",
                                    f"{row['f1']:.1%}", str(row["support"])], cls


def test_predictions_are_the_heads_softmax_at_its_temperature(tmp_path: Path) -> None:
    project = _project(tmp_path, n=60)
    job = training.TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                            recipe=FAST)
    list(job.run())
    with project.open_store() as store:
        version = store.active_model_version("damage")
    # A temperature far from 1, so dividing by it, multiplying or leaving it out differ.
    sidecar_path = Path(version["path"])
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    sidecar["temperature"] = 2.5
    sidecar_path.write_text(json.dumps(sidecar), encoding="utf-8")
    list(PredictJob(project, ["damage"]).run())
    model, _ = load_head(sidecar_path)
    with project.open_store() as store:
        items = sorted(t.item for t in store.item_texts())
        stored = store.predictions_of(version["id"], items)
        tensors = item_tensors(store, items, image_encoder=None, text_encoder="txt-enc")
    expected = torch.softmax(predict_logits(model, tensors) / 2.5, dim=-1).numpy()
    classes = list(sidecar["classes"])
    got = np.array([[stored[item][c] for c in classes] for item in items])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
