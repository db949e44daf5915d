"""Training the fusion head (crisisdesk.core.fusion.train): fitting, early stopping,
recipes, one-modality heads, and the synthetic benchmark at small size.

Small configurations (from test_fusion_model) so the file runs in seconds on two CPU cores.
"""


import sys
from pathlib import Path

import pytest
import torch
from test_fusion_model import (
    IMAGE_DIM,
    N_CLASSES,
    TEXT_DIM,
    head,
    inputs,
    small_config,
)

from crisisdesk.core.fusion.model import (
    FusionHead,
)
from crisisdesk.core.fusion.train import (
    EpochLog,
    Recipe,
    Tensors,
    class_weights,
    fit,
    iter_fit,
    macro_f1,
    named_recipe,
    predict_logits,
)

BENCH = Path(__file__).resolve().parents[2] / "bench"


# --- training -------------------------------------------------------------------------

def learnable(n: int, seed: int, noise: float = 0.05) -> Tensors:
    """Class = argmax of a fixed linear map of image and text (fixed across seeds), with a
    fraction ``noise`` of labels flipped so the validation loss eventually rises."""
    image, text = inputs(n, seed=seed)
    weights = torch.randn(IMAGE_DIM + TEXT_DIM, N_CLASSES,
                          generator=torch.Generator().manual_seed(99))
    labels = (torch.cat([image, text], 1) @ weights).argmax(1)
    g = torch.Generator().manual_seed(seed + 1)
    flip = torch.rand(n, generator=g) < noise
    labels[flip] = torch.randint(0, N_CLASSES, (int(flip.sum()),), generator=g)
    ones = torch.ones(n, dtype=torch.bool)
    return Tensors(image, text, ones, ones.clone(), labels)


FAST = Recipe(optimizer="adamw", lr=3e-3, batch_size=64, max_epochs=60, patience=3)


def accuracy(model: FusionHead, data: Tensors) -> float:
    return float((predict_logits(model, data).argmax(1) == data.labels).float().mean())


def test_fit_learns_and_stops_early() -> None:
    train, val = learnable(1500, seed=0), learnable(300, seed=1)
    test = learnable(400, seed=2, noise=0.0)
    recipe = Recipe(optimizer="adamw", lr=1e-3, batch_size=64, max_epochs=60, patience=3)
    result = fit(small_config("guided_diff"), recipe, train, val)
    assert result.stopped_early and result.epochs_run < recipe.max_epochs
    assert result.epochs_run == len(result.history) == result.best_epoch + recipe.patience
    assert min(result.history, key=lambda log: log.val_loss).epoch == result.best_epoch
    assert not result.model.training
    assert accuracy(result.model, test) > 0.9


def test_on_epoch_returning_false_cancels_and_keeps_the_best_so_far() -> None:
    seen: list[EpochLog] = []

    def on_epoch(log: EpochLog) -> bool:
        seen.append(log)
        return log.epoch < 2

    result = fit(small_config("concat_mlp"), FAST, learnable(300, 0), learnable(100, 1),
                 on_epoch=on_epoch)
    assert [log.epoch for log in seen] == [1, 2]
    assert result.epochs_run == 2 and result.cancelled and not result.stopped_early
    assert result.best_epoch in (1, 2) and not result.model.training


def test_same_seed_same_weights_and_the_global_rng_is_left_alone() -> None:
    train, val = learnable(200, 0), learnable(100, 1)
    recipe = Recipe(optimizer="sgd", lr=1e-2, batch_size=32, max_epochs=2, patience=5, seed=7)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    one = fit(small_config(), recipe, train, val).model.state_dict()
    assert torch.equal(torch.rand(1), before)
    two = fit(small_config(), recipe, train, val).model.state_dict()
    other = fit(small_config(), Recipe(**{**recipe.__dict__, "seed": 8}), train, val)
    assert all(torch.equal(one[name], two[name]) for name in one)
    assert any(not torch.equal(one[name], other.model.state_dict()[name]) for name in one)


def test_iter_fit_yields_epoch_logs_and_returns_what_fit_returns() -> None:
    train, val = learnable(200, 0), learnable(100, 1)
    recipe = Recipe(optimizer="adamw", lr=3e-3, batch_size=32, max_epochs=3, seed=4)
    fitting = iter_fit(small_config(), recipe, train, val)
    logs = []
    while True:
        try:
            logs.append(next(fitting))
        except StopIteration as stop:
            result = stop.value
            break
        torch.rand(10)  # the caller's own RNG use between epochs changes nothing
    assert [log.epoch for log in logs] == [1, 2, 3] and result.history == logs
    reference = fit(small_config(), recipe, train, val).model.state_dict()
    assert all(torch.equal(reference[k], v) for k, v in result.model.state_dict().items())
    fitting = iter_fit(small_config(), recipe, train, val)
    next(fitting)
    with pytest.raises(StopIteration) as stop:
        fitting.send(False)
    assert stop.value.value.cancelled and stop.value.value.epochs_run == 1


def test_class_weighted_training_runs_with_inverse_frequency_weights() -> None:
    labels = torch.tensor([0, 0, 0, 1])
    torch.testing.assert_close(class_weights(labels, 3), torch.tensor([4 / 9, 4 / 3, 4 / 3]))
    recipe = Recipe(optimizer="adamw", lr=3e-3, batch_size=64, max_epochs=2,
                    class_weighted=True)
    result = fit(small_config("guided"), recipe, learnable(200, 0), learnable(100, 1))
    assert all(log.val_loss == log.val_loss for log in result.history)  # not NaN


def test_predict_logits_batches_and_handles_no_items() -> None:
    model = head("guided_diff").train()
    data = learnable(50, 0)
    whole = predict_logits(model, data)
    torch.testing.assert_close(predict_logits(model, data, batch_size=7), whole,
                               atol=1e-5, rtol=0)
    assert model.training  # its mode is restored
    empty = data.subset(torch.zeros(0, dtype=torch.long))
    assert len(empty) == 0 and predict_logits(model, empty).shape == (0, N_CLASSES)
    unlabelled = Tensors(data.image, data.text, data.image_present, data.text_present,
                         torch.zeros(0, dtype=torch.long))
    assert len(unlabelled.subset([1, 2])) == 2
    with pytest.raises(ValueError):
        fit(small_config(), FAST, unlabelled, data)


def test_recipe_defaults_are_the_papers() -> None:
    recipe = Recipe()
    assert (recipe.optimizer, recipe.lr, recipe.batch_size, recipe.max_epochs,
            recipe.patience) == ("sgd", 1e-3, 32, 50, 5)
    with pytest.raises(ValueError):
        Recipe(optimizer="lbfgs")


# --- the synthetic benchmark, small -----------------------------------------------------

@pytest.fixture
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import fusion_synthetic

        yield fusion_synthetic
    finally:
        sys.path.remove(str(BENCH))


def test_synthetic_classes_need_both_modalities(bench) -> None:
    info = bench.modality_information(20000)
    assert info["image"] < 0.01 and info["text"] < 0.01 and info["both"] > 1.99
    train, val, test = bench.make_synthetic(1000, image_dim=4, text_dim=4)
    assert (len(train), len(val), len(test)) == (700, 150, 150)
    assert train.image.shape == (700, 4) and set(train.labels.tolist()) == {0, 1, 2, 3}


def test_synthetic_benchmark_guided_diff_fuses(bench) -> None:
    # Small on purpose (4-dim inputs, hidden 32, 2000 items, 3 seeds, ~13 s): at this size
    # guided_diff and concat_mlp are within about 2 points per seed either way (seeds 0-2:
    # 91.1% vs 91.7% mean); both single modalities sit at chance (~25%).
    accuracy = bench.run(2000, seeds=(0, 1, 2), epochs=40, optimizer="adamw", lr=3e-3,
                         batch_size=64, image_dim=4, text_dim=4,
                         variants=("image_only", "text_only", "concat_mlp", "guided_diff"),
                         config_overrides={"hidden": 32, "heads": 2})
    assert accuracy["guided_diff"] >= accuracy["image_only"] + 0.20
    assert accuracy["guided_diff"] >= accuracy["text_only"] + 0.20
    assert accuracy["guided_diff"] >= accuracy["concat_mlp"] - 0.02


# --- one-modality head shapes, selection, class weights, named recipes -------------------

@pytest.mark.parametrize("shape", ["linear", "mlp"])
@pytest.mark.parametrize("variant", ["text_only", "image_only"])
def test_plain_one_modality_heads_learn_and_ignore_the_other_modality(variant, shape) -> None:
    model = head(variant, single_head=shape)
    image, text = inputs(6)
    logits = model(image, text)
    assert logits.shape == (6, N_CLASSES)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p is not model.missing)
    model.eval()
    other = (torch.randn_like(image), text) if variant == "text_only" else \
        (image, torch.randn_like(text))
    torch.testing.assert_close(model(*other), model(image, text))  # the other is not read
    absent = torch.zeros(6, dtype=torch.bool)
    present = torch.ones(6, dtype=torch.bool)
    if variant == "text_only":
        out = model(image, torch.full_like(text, float("nan")), present, absent)
    else:
        out = model(torch.full_like(image, float("nan")), text, absent, present)
    assert torch.isfinite(out).all()  # the learned "missing" vector stands in


def test_a_linear_head_is_one_linear_map_of_the_embedding() -> None:
    model = head("text_only", single_head="linear").eval()
    assert [name for name, _ in model.named_parameters()] == [
        "missing", "classifier.weight", "classifier.bias"]
    image, text = inputs(4)
    torch.testing.assert_close(model(image, text), model.classifier(text))


def test_single_head_must_be_known() -> None:
    with pytest.raises(ValueError, match="single_head"):
        small_config("text_only", single_head="deep")


def test_select_macro_f1_keeps_the_epoch_of_the_best_validation_macro_f1() -> None:
    train, val = learnable(600, seed=0), learnable(200, seed=1)
    recipe = Recipe(optimizer="adamw", lr=3e-3, batch_size=64, max_epochs=25, patience=3,
                    select="macro_f1")
    result = fit(small_config("concat_mlp"), recipe, train, val)
    f1s = [log.val_macro_f1 for log in result.history]
    assert result.best_epoch == 1 + f1s.index(max(f1s))
    if result.stopped_early:
        assert result.epochs_run == result.best_epoch + recipe.patience
    best = predict_logits(result.model, val)
    assert macro_f1(best, val.labels, N_CLASSES) == pytest.approx(max(f1s))


def test_macro_f1_agrees_with_the_classification_report() -> None:
    from crisisdesk.core.fusion.metrics import classification_report

    g = torch.Generator().manual_seed(3)
    logits = torch.randn(200, 4, generator=g)
    labels = torch.randint(0, 3, (200,), generator=g)  # class 3 is only ever predicted
    report = classification_report(labels.numpy(), logits.argmax(1).numpy(),
                                   ["a", "b", "c", "d"], bootstrap=0)
    assert macro_f1(logits, labels, 4) == pytest.approx(report["macro_f1"])


def test_class_weight_power_softens_the_weights() -> None:
    labels = torch.tensor([0] * 8 + [1] * 2)
    balanced = class_weights(labels, 2)
    torch.testing.assert_close(balanced, torch.tensor([10 / 16, 10 / 4]))
    torch.testing.assert_close(class_weights(labels, 2, 0.5), balanced.sqrt())


@pytest.mark.parametrize("bad", [{"select": "accuracy"}, {"label_smoothing": 1.0},
                                 {"lr": 0.0}, {"weight_decay": -1.0}])
def test_recipe_rejects_bad_options(bad: dict) -> None:
    with pytest.raises(ValueError):
        Recipe(**bad)


def test_named_recipes_keep_the_papers_and_refuse_unknown_names() -> None:
    assert named_recipe("paper") == Recipe()
    text = named_recipe("text", patience=3)
    assert (text.optimizer, text.weight_decay, text.patience) == ("adamw", 1e-2, 3)
    with pytest.raises(ValueError, match="unknown recipe"):
        named_recipe("fast")


def test_latent_synthetic_data_still_need_both_modalities(bench) -> None:
    info = bench.modality_information(20000, 64, 64, latent=8)
    assert info["image"] < 0.01 and info["text"] < 0.01 and info["both"] > 1.99
    train, _, _ = bench.make_synthetic(200, 64, 64, latent=8)
    assert train.image.shape == (140, 64)
    # most of the variance lies in the 8 latent directions
    top = torch.linalg.svdvals(train.image - train.image.mean(0))[:8].square().sum()
    assert top / (train.image - train.image.mean(0)).square().sum() > 0.9
