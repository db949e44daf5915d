"""Patch relevance of an open_clip vision transformer: gradient-weighted attention rollout.

Method: Chefer, Gur, Wolf, *Generic Attention-model Explainability for Interpreting
Bi-Modal and Encoder-Decoder Transformers* (ICCV 2021), the self-attention rule (their
eq. 5-6): with ``A_b`` block b's attention maps [heads, n, n] and ``grad_b`` the gradient
of the class logit with respect to them,

    ``Abar_b = mean over heads of |grad_b * A_b|``,  ``R <- R + Abar_b @ R``,

starting from ``R = I``. One departure: the paper keeps the positive part
``max(0, grad_b * A_b)``; we keep the magnitude. The sign of ``d logit / d A`` is not a
reliable "for / against" on a patch (softmax rows sum to 1 and LayerNorms follow, so
more attention to the token that carries the class can lower the logit locally): on the
synthetic test (a tiny ViT trained to spot a bright square in one quadrant) the positive
part put the top patch in that quadrant for 2 of 10 images, the magnitude for 10 of 10.
The map therefore says where the evidence lies; the words carry the sign.

The relevance of each patch is the pooled token's row of ``R`` (the class token's row
for CLIP's ``tok`` pooling, the mean of the patch rows for ``avg``).
The class logit is the fusion head's, fed with the pooled, projected, L2-normalised
image vector, so the gradient runs through the head and the frozen CLIP tower alike.

open_clip computes attention with ``nn.MultiheadAttention(need_weights=False)``, so the
maps are never materialised; :func:`vit_forward` recomputes the tower from the modules'
own weights with explicit softmax maps (tests check it equals open_clip's own forward).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

METHOD = ("gradient-weighted attention rollout (Chefer, Gur, Wolf, ICCV 2021; |grad x attention|)"
          " through the fusion head and the CLIP vision transformer")


class ExplainError(Exception):
    """An item, model or encoder that cannot be explained; the message says why."""


def check_plain_vit(visual: Any, name: str) -> None:
    """Raise ExplainError unless ``visual`` is a ViT whose forward :func:`vit_forward`
    reproduces (standard blocks, no attentional pooling, self-attention only)."""
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    if not isinstance(visual, VisionTransformer) or visual.attn_pool is not None or \
            visual.pool_type not in ("tok", "avg") or not hasattr(visual, "_embeds"):
        raise ExplainError(f"{name}: image heat maps need a plain open_clip ViT image tower "
                           "(class-token or average pooling, no attentional pooling)")
    for block in visual.transformer.resblocks:
        if type(block) is not ResidualAttentionBlock or hasattr(block, "ln_1_kv") or \
                block.attn.in_proj_weight is None:
            raise ExplainError(f"{name}: its image tower uses custom attention blocks, which "
                               "the heat map does not support")


def _attention(mha: torch.nn.MultiheadAttention, x: Tensor) -> tuple[Tensor, Tensor]:
    """``mha``'s self-attention on ``x`` [B, n, d], and its softmax maps [B, heads, n, n]."""
    b, n, d = x.shape
    heads = mha.num_heads
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias) \
        .view(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(b, n, d)
    return mha.out_proj(out), attn


def vit_forward(visual: Any, pixels: Tensor) -> tuple[Tensor, list[Tensor]]:
    """The tower's pooled, projected output [B, dim] and each block's attention maps.

    Mirrors open_clip 3.3's ``VisionTransformer.forward`` (embeddings, blocks, pooling,
    ``ln_post``, projection) with the attention written out; eval mode, so patch dropout
    is the identity.
    """
    x = visual._embeds(pixels)  # [B, 1 + patches, width]
    maps = []
    for block in visual.transformer.resblocks:
        out, attn = _attention(block.attn, block.ln_1(x))
        maps.append(attn)
        x = x + block.ls_1(out)
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
    pooled, _ = visual._pool(x)
    if visual.proj is not None:
        pooled = pooled @ visual.proj
    return pooled, maps


def rollout(maps: list[Tensor], grads: list[Tensor], pool_type: str) -> Tensor:
    """Chefer et al.'s relevance of each patch (one image): a flat [patches] tensor >= 0."""
    n = maps[0].shape[-1]
    relevance = torch.eye(n, dtype=torch.float32)
    for attn, grad in zip(maps, grads, strict=True):
        weighted = (grad[0].float() * attn[0].float()).abs().mean(dim=0)  # [n, n]
        relevance = relevance + weighted @ relevance
    if pool_type == "tok":
        return relevance[0, 1:]
    return relevance[1:, 1:].mean(dim=0)  # "avg": the pooled vector is the patches' mean


def crop_box(size: tuple[int, int], resize_mode: str) -> tuple[float, float, float, float]:
    """The square the model saw, as fractions (x0, y0, x1, y1) of an image of ``size``.

    open_clip's eval preprocessing: ``shortest`` resizes the short side and centre-crops
    (the long side's margins are cut off: the box lies inside the image); ``squash``
    stretches the whole image (the box is the image); ``longest`` resizes the long side
    and pads (the box reaches past the image on the short side).
    """
    width, height = size
    if resize_mode == "squash" or width == height:
        return (0.0, 0.0, 1.0, 1.0)
    side = min(width, height) if resize_mode == "shortest" else max(width, height)
    x0, y0 = (width - side) / 2 / width, (height - side) / 2 / height
    return (x0, y0, 1.0 - x0, 1.0 - y0)
