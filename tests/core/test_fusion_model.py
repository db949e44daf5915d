"""The fusion head (crisisdesk.core.fusion.model): shapes, gradients, attention, config.

Its training is tested in test_fusion_train.py.

Small configurations throughout (hidden 32, 2 heads, a few input dims) so the file runs
in seconds on two CPU cores; the architecture is the same at any size.
"""

from __future__ import annotations

import json
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
