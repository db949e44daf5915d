"""The fusion head (crisisdesk.core.fusion.model) and its training (fusion.train).

Small configurations throughout (hidden 32, 2 heads, a few input dims) so the file runs
in seconds on two CPU cores; the architecture is the same at any size.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from crisisdesk.core.fusion.model import (
    VARIANTS,
    DiffAttention,
    FusionConfig,
    FusionHead,
    GuidedCrossAttention,
    ModalityTokens,
    SelfAttention,
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
IMAGE_DIM, TEXT_DIM, N_CLASSES = 12, 10, 3


def small_config(variant: str = "guided_diff", **overrides) -> FusionConfig:
    values = dict(n_classes=N_CLASSES, image_dim=IMAGE_DIM, text_dim=TEXT_DIM,
                  variant=variant, hidden=32, tokens=4, heads=2)
    values.update(overrides)
    return FusionConfig(**values)


def inputs(n: int, seed: int = 0, image_dim: int = IMAGE_DIM, text_dim: int = TEXT_DIM):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, image_dim, generator=g), torch.randn(n, text_dim, generator=g)


def head(variant: str = "guided_diff", seed: int = 0, **overrides) -> FusionHead:
    torch.manual_seed(seed)
    return FusionHead(small_config(variant, **overrides))


# --- shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_gives_logits_per_item(variant: str) -> None:
    model = head(variant).eval()
    image, text = inputs(5)
    logits = model(image, text)
    assert logits.shape == (5, N_CLASSES)
    assert torch.isfinite(logits).all()
    present = torch.tensor([True, False, True, False, True])
    assert model(image, text, present, ~present).shape == (5, N_CLASSES)


def test_each_block_keeps_the_token_shapes() -> None:
    b, k, h = 3, 4, 32
    tokens = ModalityTokens(IMAGE_DIM, h, k)(inputs(b)[0], torch.ones(b, dtype=torch.bool))
    assert tokens.shape == (b, k, h)
    assert SelfAttention(h, 2, 0.0)(tokens).shape == (b, k, h)
    joint, gates = GuidedCrossAttention(h)(tokens, tokens.flip(0))
    assert joint.shape == (b, 2 * k, h)
    for gate in gates.values():
        assert gate.shape == (b, k, h) and (gate > 0).all() and (gate < 1).all()
    out, details = DiffAttention(h, 2, 0.0, 0.8)(joint)
    assert out.shape == (b, 2 * k, h)
    for name in ("attn1", "attn2"):
        assert details[name].shape == (b, 2, 2 * k, 2 * k)
        torch.testing.assert_close(details[name].sum(-1), torch.ones(b, 2, 2 * k))
    assert details["lambda"].shape == ()


def test_details_expose_the_gates_and_both_attention_maps() -> None:
    model = head("guided_diff").eval()
    image, text = inputs(6)
    logits, details = model(image, text, return_details=True)
    assert logits.shape == (6, N_CLASSES)
    assert set(details) == {"alpha_image", "alpha_text", "attn1", "attn2", "lambda"}
    assert details["alpha_image"].shape == details["alpha_text"].shape == (6, 4, 32)
    assert details["attn1"].shape == (6, 2, 8, 8)
    assert model.last_details is details
    # lambda is Ye et al.'s re-parametrisation: exp(lq1.lk1) - exp(lq2.lk2) + lambda_init.
    attn = model.diff_attn
    expected = (torch.exp(attn.lambda_q1 @ attn.lambda_k1)
                - torch.exp(attn.lambda_q2 @ attn.lambda_k2) + 0.8)
    torch.testing.assert_close(details["lambda"], expected.detach())
    _, guided = head("guided").eval()(image, text, return_details=True)
    assert set(guided) == {"alpha_image", "alpha_text"}


# --- learning signal ------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_parameter(variant: str) -> None:
    model = head(variant, dropout=0.0).train()
    image, text = inputs(16)
    # Some items lack an image, some a text, so the learned "missing" tokens are used too.
    image_present = torch.arange(16) % 3 != 0
    text_present = torch.arange(16) % 4 != 1
    labels = torch.arange(16) % N_CLASSES
    F.cross_entropy(model(image, text, image_present, text_present), labels).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


# --- one post, one prediction ---------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_prediction_does_not_depend_on_batch_mates(variant: str) -> None:
    model = head(variant).eval()
    image, text = inputs(64, seed=1)
    present = torch.arange(64) % 5 != 0
    with torch.no_grad():
        batch = model(image, text, present, present.roll(1))
        alone = torch.cat([model(image[i:i + 1], text[i:i + 1], present[i:i + 1],
                                 present.roll(1)[i:i + 1]) for i in range(64)])
        order = torch.randperm(64, generator=torch.Generator().manual_seed(2))
        shuffled = model(image[order], text[order], present[order], present.roll(1)[order])
    torch.testing.assert_close(alone, batch, atol=1e-5, rtol=0)
    torch.testing.assert_close(shuffled, batch[order], atol=1e-5, rtol=0)


# --- differential attention is not a linear map ---------------------------------------

def test_diff_attention_does_not_collapse_to_a_linear_map() -> None:
    torch.manual_seed(0)
    attn = DiffAttention(32, 2, 0.0, 0.8).eval()
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(4, 8, 32, generator=g), torch.randn(4, 8, 32, generator=g)
    with torch.no_grad():
        out, details = attn.attend(x)
        # Two different softmax maps over the 8 tokens, neither uniform.
        assert (details["attn1"] - details["attn2"]).abs().max() > 1e-2
        assert (details["attn1"] - 1 / 8).abs().max() > 1e-2
        # An affine f has f(x + y) + f(0) == f(x) + f(y); the attention is far from that.
        zero = torch.zeros_like(x)
        gap = attn.attend(x + y)[0] + attn.attend(zero)[0] - out - attn.attend(y)[0]
        assert gap.abs().mean() > 0.1 * out.abs().mean()
        # Whereas on a length-1 sequence (the authors' code) both maps are exactly 1.
        _, single = attn.attend(x[:, :1])
        assert torch.equal(single["attn1"], torch.ones(4, 2, 1, 1))
        assert torch.equal(single["attn2"], torch.ones(4, 2, 1, 1))


def test_guided_diff_head_sees_several_joint_tokens() -> None:
    model = head("guided_diff").eval()
    _, details = model(*inputs(4), return_details=True)
    assert details["attn1"].shape[-1] == 2 * model.config.tokens > 1
    assert not torch.allclose(details["attn1"], details["attn2"])


# --- missing modality -----------------------------------------------------------------

@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "text_only"])
def test_missing_image_gets_finite_logits_independent_of_the_image_tensor(variant) -> None:
    model = head(variant).eval()
    image, text = inputs(8)
    present = torch.tensor([False, True] * 4)
    with torch.no_grad():
        first = model(image, text, present, torch.ones(8, dtype=torch.bool))
        junk = image.clone()
        junk[~present] = torch.tensor(float("nan"))
        second = model(junk, text, present, torch.ones(8, dtype=torch.bool))
        third = model(torch.zeros_like(image), text, present, torch.ones(8, dtype=torch.bool))
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    torch.testing.assert_close(second[~present], first[~present], atol=1e-6, rtol=0)
    torch.testing.assert_close(third[~present], first[~present], atol=1e-6, rtol=0)
    torch.testing.assert_close(second[present], first[present], atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "image_only"])
def test_missing_text_gets_finite_logits_independent_of_the_text_tensor(variant) -> None:
    model = head(variant).eval()
    image, text = inputs(8)
    present = torch.tensor([True, False] * 4)
    with torch.no_grad():
        first = model(image, text, torch.ones(8, dtype=torch.bool), present)
        junk = text.clone()
        junk[~present] = 1e6
        second = model(image, junk, torch.ones(8, dtype=torch.bool), present)
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    torch.testing.assert_close(second, first, atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_item_with_neither_modality_still_gets_finite_logits(variant) -> None:
    model = head(variant).eval()
    absent = torch.zeros(3, dtype=torch.bool)
    logits = model(*inputs(3), absent, absent)
    assert torch.isfinite(logits).all()


# --- config ---------------------------------------------------------------------------

def test_config_round_trips_through_json() -> None:
    config = small_config("guided", dropout=0.2, lambda_init=0.5)
    again = FusionConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert FusionConfig.from_dict({"n_classes": 5}) == FusionConfig(n_classes=5)


@pytest.mark.parametrize("bad", [
    {"n_classes": 3, "variant": "late_fusion"},
    {"n_classes": 3, "colour": "red"},
    {"n_classes": 3, "hidden": 30, "heads": 4},
    {"n_classes": 1},
    {"n_classes": 3, "tokens": 0},
    {"n_classes": 3, "dropout": 1.0},
])
def test_config_rejects_unknown_keys_and_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        FusionConfig.from_dict(bad)


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
