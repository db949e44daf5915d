"""The plain BERT (crisisdesk.core.encoders.bert) encodes without a second buffer of its
feed-forward width: the activation (GELU) is applied where the intermediate projection
wrote, and the residual is added into the projection's output. Why: at batch 32 of real
tweets (~100 tokens) the intermediate tensor is ~20 MB, at a 256-token window ~50 MB,
and a second one at the same time was most of a forward's peak. The vectors stay bit for bit
what the out-of-place forward gives; a forward with autograd (the word explanations)
keeps the out-of-place path, where the activation's input is needed for the gradient."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_bert_plain_s14 import (
    _minilm_folder,
    tiny_bert,  # noqa: F401 - the fixture, used by name
)

from crisisdesk.core.encoders import bert


def _inputs(model: bert.BertModel) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    ids = torch.randint(1000, 20000, (4, 24))
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # padding: the mask path too
    return ids, mask


def _out_of_place(model: bert.BertModel, ids: torch.Tensor, mask: torch.Tensor,
                  x: torch.Tensor | None = None) -> torch.Tensor:
    """The forward as written before, each step into a new tensor (the reference), from
    the token embeddings ``x`` where given."""
    if x is None:
        x = model.embeddings(ids, torch.zeros_like(ids))
    where = mask.bool()[:, None, None, :]
    for layer in model.encoder.layer:
        attention = layer.attention
        attended = attention.output.LayerNorm(
            attention.output.dense(attention.self(x, where)) + x)
        hidden = layer.intermediate.act(layer.intermediate.dense(attended))
        x = layer.output.LayerNorm(layer.output.dense(hidden) + attended)
    return x


@pytest.mark.parametrize("which", ["minilm", "tiny"])
def test_the_activation_is_applied_in_the_intermediate_buffer(which: str,
                                                             tiny_bert: Path) -> None:
    folder = _minilm_folder() if which == "minilm" else tiny_bert
    model = bert.load_bert(which, folder)
    written: list[int] = []
    read: list[int] = []
    layer = model.encoder.layer[0]
    layer.intermediate.dense.register_forward_hook(
        lambda _m, _a, out: written.append(out.data_ptr()))
    layer.output.dense.register_forward_pre_hook(
        lambda _m, args: read.append(args[0].data_ptr()))
    ids, mask = _inputs(model)
    with torch.inference_mode():
        model(ids, mask)
    assert written and written == read  # one buffer: activated where it was written


def test_the_residual_is_added_into_the_projection(tiny_bert: Path) -> None:
    model = bert.load_bert("tiny", tiny_bert)
    projected: list[int] = []
    normed: list[int] = []
    block = model.encoder.layer[0].output
    block.dense.register_forward_hook(lambda _m, _a, out: projected.append(out.data_ptr()))
    block.LayerNorm.register_forward_pre_hook(
        lambda _m, args: normed.append(args[0].data_ptr()))
    ids, mask = _inputs(model)
    with torch.inference_mode():
        model(ids, mask)
    assert projected and projected == normed


@pytest.mark.parametrize("which", ["minilm", "tiny"])
def test_vectors_are_bit_for_bit_those_of_the_out_of_place_forward(which: str,
                                                                  tiny_bert: Path) -> None:
    folder = _minilm_folder() if which == "minilm" else tiny_bert
    model = bert.load_bert(which, folder)
    ids, mask = _inputs(model)
    with torch.inference_mode():
        ours = model(ids, mask).last_hidden_state
        reference = _out_of_place(model, ids, mask)
    assert torch.equal(ours, reference)


def test_a_forward_with_gradients_keeps_them_right(tiny_bert: Path) -> None:
    # The word explanations run the model with autograd from the token embeddings: an
    # in-place GELU there would overwrite the input its gradient is computed from.
    model = bert.load_bert("tiny", tiny_bert)
    ids, mask = _inputs(model)
    leaf = model.embeddings(ids, torch.zeros_like(ids)).detach().requires_grad_(True)

    def run(x: torch.Tensor, layers: list) -> torch.Tensor:
        where = mask.bool()[:, None, None, :]
        for layer in layers:
            x = layer(x, where)
        return x

    ours = torch.autograd.grad(run(leaf, list(model.encoder.layer)).sum(), leaf)[0]
    reference_leaf = leaf.detach().clone().requires_grad_(True)
    reference = _out_of_place(model, ids, mask, reference_leaf)
    theirs = torch.autograd.grad(reference.sum(), reference_leaf)[0]
    assert torch.equal(ours, theirs)
