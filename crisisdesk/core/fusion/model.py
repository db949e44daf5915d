"""The fusion head: frozen image + text embeddings of one post -> class logits.

Sources
-------
* Munia, Zhu, Nasraoui, Imran, *Differential Attention for Multimodal Crisis Event
  Analysis* (``shared/seed/paper.txt``): self-attention per modality (eq. 4-5), guided
  cross-attention (eq. 6-7, after CrisisKAN), differential attention on the joint
  representation (eq. 8-9), a linear classifier.
* Ye et al. 2024, *Differential Transformer* (arXiv:2410.05258): the differential
  attention itself, with its details the paper leaves out: the re-parametrised
  ``lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init``, a per-head RMSNorm of each
  head's output and the ``(1 - lambda_init)`` output scale.

Where this departs from the authors' public code (see ``shared/METHOD.md``)
--------------------------------------------------------------------------
* Attention runs over several tokens *within one post*, never across the posts of a
  batch: each modality's embedding is projected to ``tokens`` tokens of width ``hidden``.
  A post's logits do not depend on its batch-mates.
* Differential attention therefore sees ``2 * tokens`` joint tokens per post, so its two
  softmax maps are real distributions over tokens; on a length-1 sequence both would be 1
  and the layer would collapse to the linear map ``(1 - lambda) V``.

The steps, for ``variant="guided_diff"`` (B posts, k = ``tokens``, h = ``hidden``)
---------------------------------------------------------------------------------
1. Tokens: ``f_I [B, image_dim] -> [B, k, h]`` by one linear map, plus a learned
   positional embedding per token and a learned modality embedding; likewise text.
2. Self-attention within each modality's k tokens (eq. 4-5), multi-head with learned
   projections, residual + LayerNorm (eq. 4 has no projections, but on one post's single
   vector it is the identity: softmax of a 1 x 1 score is 1).
3. Guided cross-attention (eq. 6-7), tokenwise: ``z_I = GELU(W_I f_I + b_I)``,
   ``alpha_I = sigmoid(W'_I f_I + b'_I)``, likewise ``z_T``, ``alpha_T`` (the paper's
   eq. 7 reuses ``W'_I`` for the text gate, a typo: text has its own ``W'_T``). Each
   modality gates the other: ``joint = concat(alpha_T * z_I, alpha_I * z_T)`` along the
   token axis, so the joint sequence has ``2k`` tokens.
4. Differential attention over the 2k joint tokens (eq. 8-9 with Ye et al.'s details),
   after adding a learned embedding per joint position (attention is otherwise blind to
   which token is which; Ye et al. use rotary positions and a causal mask, which a
   post's unordered tokens do not need); residual + LayerNorm (post-norm, like the
   per-modality blocks: Ye et al.'s pre-norm scored 4-5 points lower on the synthetic
   benchmark, docs/fusion.md "Audit"). Two departures kept on purpose (same page):
   ``lambda_init`` defaults to 0.8, not Ye et al.'s 0.2 for a first layer (measured: no
   difference in accuracy; old sidecars record theirs), and ``W_O`` has a bias where
   theirs has none (a shift before the LayerNorm; dropping it would break saved
   checkpoints).
5. Mean over the tokens, then a linear classifier (the softmax of eq. 9's ``y`` is left
   to the loss / the caller: ``forward`` returns logits).

Other variants: ``guided`` is steps 1-3 and 5 with *no* attention block after the gating
(the paper's "Guided CA" row: the gated joint goes straight to the classifier);
``concat_mlp`` concatenates the two raw vectors into a two-layer MLP; ``image_only`` /
``text_only`` are that modality's steps 1-2, then 5 (``single_head="attention"``), or a
plain head straight on the embedding: ``"linear"`` (logistic regression) or ``"mlp"`` (one
hidden layer), which generalise better on sentence embeddings (docs/fusion.md).

Missing modality: an item whose ``image_present`` is False (a text-only post, an image
missing or unreadable) has its image tokens replaced by a learned "missing image" token
sequence, and its image vector is never read (zeroed first, so even NaNs there do not
leak); likewise for text. ``concat_mlp`` uses a learned "missing" vector in place of the
raw embedding. Such an item still gets finite logits.

Attention overlays: ``forward(..., return_details=True)`` returns ``(logits, details)``
and keeps ``details`` on ``self.last_details``: the guided gates ``alpha_image`` /
``alpha_text`` ``[B, k, h]`` and, for ``guided_diff``, the differential attention's two
softmax maps ``attn1`` / ``attn2`` ``[B, heads, 2k, 2k]`` and its ``lambda`` (a scalar).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

VARIANTS = ("image_only", "text_only", "concat_mlp", "guided", "guided_diff")
#: Shapes of a one-modality head (image_only / text_only): "attention" is the method's
#: steps 1-2 and 5; "linear" is one linear map of the embedding (multinomial logistic
#: regression); "mlp" is one hidden layer of width ``hidden``.
SINGLE_HEADS = ("attention", "linear", "mlp")


@dataclass
class FusionConfig:
    """Everything needed to rebuild a :class:`FusionHead` (JSON round trip)."""

    n_classes: int
    image_dim: int = 512
    text_dim: int = 512
    variant: str = "guided_diff"
    hidden: int = 128  # width of a token (128: the speed goals of bench/train_bench.py)
    tokens: int = 2  # each modality's projection is split into this many tokens
    heads: int = 4
    dropout: float = 0.1
    # Ye et al.'s 0.8 - 0.6 exp(-0.3 (l - 1)) is 0.2 for a first layer; 0.2 and 0.8
    # score the same (docs/fusion.md, "Audit"), so the default of the trained heads stays.
    lambda_init: float = 0.8
    single_head: str = "attention"  # image_only / text_only only: see SINGLE_HEADS

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; expected one of {VARIANTS}")
        if self.single_head not in SINGLE_HEADS:
            raise ValueError(f"unknown single_head {self.single_head!r}; expected one of "
                             f"{SINGLE_HEADS}")
        for name in ("n_classes", "image_dim", "text_dim", "hidden", "tokens", "heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        if self.hidden % (2 * self.heads):
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of 2 * heads "
                             f"({2 * self.heads}): differential attention splits each "
                             "head's query and key in two")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FusionConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown FusionConfig keys: {unknown}")
        return cls(**d)


class SelfAttention(nn.Module):
    """Multi-head self-attention within one item's tokens (eq. 4), residual + LayerNorm.

    ``[B, n, h] -> [B, n, h]``; softmax over each item's own n tokens only.
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x: Tensor) -> Tensor:
        b, n, h = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(h // self.heads), dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, h)
        return self.norm(x + self.drop(self.out(y)))


class DiffAttention(nn.Module):
    """Multi-head differential attention (eq. 8-9; Ye et al. 2024), residual + LayerNorm.

    Per head, with d = hidden / heads / 2:
    ``[Q1; Q2] = X W_Q``, ``[K1; K2] = X W_K`` (each d wide), ``V = X W_V`` (2d wide),
    ``A1 = softmax(Q1 K1^T / sqrt(d))``, ``A2 = softmax(Q2 K2^T / sqrt(d))``,
    ``head = (1 - lambda_init) * RMSNorm((A1 - lambda * A2) V)`` with
    ``lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init`` (shared by the heads).
    Heads are concatenated, projected by ``W_O``, added to X and layer-normed.
    """

    def __init__(self, hidden: int, heads: int, dropout: float, lambda_init: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads // 2  # d: width of Q1, Q2, K1, K2 per head
        self.lambda_init = lambda_init
        self.q = nn.Linear(hidden, hidden, bias=False)
        self.k = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, hidden)
        self.lambda_q1 = nn.Parameter(torch.randn(self.head_dim) * 0.1)
        self.lambda_k1 = nn.Parameter(torch.randn(self.head_dim) * 0.1)
        self.lambda_q2 = nn.Parameter(torch.randn(self.head_dim) * 0.1)
        self.lambda_k2 = nn.Parameter(torch.randn(self.head_dim) * 0.1)
        self.head_norm = nn.RMSNorm(2 * self.head_dim, eps=1e-5)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden)

    def lam(self) -> Tensor:
        """The re-parametrised lambda (a scalar tensor)."""
        return (torch.exp(torch.dot(self.lambda_q1, self.lambda_k1))
                - torch.exp(torch.dot(self.lambda_q2, self.lambda_k2)) + self.lambda_init)

    def attend(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The differential attention alone (before W_O and the residual)."""
        b, n, h = x.shape
        d = self.head_dim
        # [B, n, heads, 2, d] -> [2, B, heads, n, d]: the two halves Q1, Q2 of each head.
        q = self.q(x).view(b, n, self.heads, 2, d).permute(3, 0, 2, 1, 4)
        k = self.k(x).view(b, n, self.heads, 2, d).permute(3, 0, 2, 1, 4)
        v = self.v(x).view(b, n, self.heads, 2 * d).transpose(1, 2)  # [B, heads, n, 2d]
        attn1 = torch.softmax(q[0] @ k[0].transpose(-1, -2) / math.sqrt(d), dim=-1)
        attn2 = torch.softmax(q[1] @ k[1].transpose(-1, -2) / math.sqrt(d), dim=-1)
        lam = self.lam()
        heads = self.head_norm((attn1 - lam * attn2) @ v) * (1.0 - self.lambda_init)
        y = heads.transpose(1, 2).reshape(b, n, h)
        return y, {"attn1": attn1, "attn2": attn2, "lambda": lam}

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        y, details = self.attend(x)
        return self.norm(x + self.drop(self.out(y))), details


class ModalityTokens(nn.Module):
    """One modality's vector -> ``tokens`` tokens of width ``hidden`` (+ embeddings),
    with a learned "missing" token sequence for items where the modality is absent."""

    def __init__(self, dim: int, hidden: int, tokens: int) -> None:
        super().__init__()
        self.tokens, self.hidden = tokens, hidden
        self.project = nn.Linear(dim, tokens * hidden)
        self.position = nn.Parameter(torch.randn(tokens, hidden) * 0.02)
        self.modality = nn.Parameter(torch.randn(hidden) * 0.02)
        self.missing = nn.Parameter(torch.randn(tokens, hidden) * 0.02)

    def forward(self, x: Tensor, present: Tensor | None) -> Tensor:
        if present is not None:
            present = present.bool()
            x = torch.where(present[:, None], x, torch.zeros((), dtype=x.dtype))
        t = self.project(x).view(-1, self.tokens, self.hidden)
        if present is not None:
            t = torch.where(present[:, None, None], t, self.missing)
        return t + self.position + self.modality


class GuidedCrossAttention(nn.Module):
    """Eq. 6-7, tokenwise: each modality's sigmoid gate scales the other's projection.

    ``[B, k, h] x 2 -> joint [B, 2k, h]`` = ``concat(alpha_T * z_I, alpha_I * z_T)``.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.z_image = nn.Linear(hidden, hidden)  # W_I, b_I
        self.gate_image = nn.Linear(hidden, hidden)  # W'_I, b'_I
        self.z_text = nn.Linear(hidden, hidden)  # W_T, b_T
        self.gate_text = nn.Linear(hidden, hidden)  # W'_T, b'_T

    def forward(self, image: Tensor, text: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        z_i, alpha_i = F.gelu(self.z_image(image)), torch.sigmoid(self.gate_image(image))
        z_t, alpha_t = F.gelu(self.z_text(text)), torch.sigmoid(self.gate_text(text))
        joint = torch.cat([alpha_t * z_i, alpha_i * z_t], dim=1)
        return joint, {"alpha_image": alpha_i, "alpha_text": alpha_t}


class FusionHead(nn.Module):
    """The classifier head over one post's frozen image and text embeddings."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = c = config
        self.last_details: dict[str, Tensor] | None = None
        uses_image = c.variant != "text_only"
        uses_text = c.variant != "image_only"
        self.plain = c.variant in ("image_only", "text_only") and c.single_head != "attention"
        if self.plain:
            # A plain one-modality head straight on the embedding: on 384-d sentence
            # embeddings a near-linear head generalises better than the token stack.
            dim = c.image_dim if c.variant == "image_only" else c.text_dim
            self.missing = nn.Parameter(torch.zeros(dim))
            if c.single_head == "mlp":
                self.mlp = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(dim, c.hidden),
                                         nn.GELU())
            self.drop = nn.Dropout(c.dropout)
            self.classifier = nn.Linear(c.hidden if c.single_head == "mlp" else dim,
                                        c.n_classes)
            return
        if c.variant == "concat_mlp":
            self.missing_image = nn.Parameter(torch.zeros(c.image_dim))
            self.missing_text = nn.Parameter(torch.zeros(c.text_dim))
            self.mlp = nn.Sequential(
                nn.Linear(c.image_dim + c.text_dim, c.hidden), nn.GELU(), nn.Dropout(c.dropout),
                nn.Linear(c.hidden, c.hidden), nn.GELU(), nn.Dropout(c.dropout))
        else:
            if uses_image:
                self.image_tokens = ModalityTokens(c.image_dim, c.hidden, c.tokens)
                self.image_attn = SelfAttention(c.hidden, c.heads, c.dropout)
            if uses_text:
                self.text_tokens = ModalityTokens(c.text_dim, c.hidden, c.tokens)
                self.text_attn = SelfAttention(c.hidden, c.heads, c.dropout)
            if c.variant in ("guided", "guided_diff"):
                self.guided = GuidedCrossAttention(c.hidden)
            if c.variant == "guided_diff":
                self.joint_position = nn.Parameter(torch.randn(2 * c.tokens, c.hidden) * 0.02)
                self.diff_attn = DiffAttention(c.hidden, c.heads, c.dropout, c.lambda_init)
        self.drop = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.hidden, c.n_classes)

    def forward(self, image: Tensor, text: Tensor, image_present: Tensor | None = None,
                text_present: Tensor | None = None, return_details: bool = False
                ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        variant = self.config.variant
        details: dict[str, Tensor] = {}
        if self.plain:
            x = _fill_missing(image, image_present, self.missing) if variant == "image_only" \
                else _fill_missing(text, text_present, self.missing)
            pooled = self.mlp(x) if self.config.single_head == "mlp" else x
        elif variant == "concat_mlp":
            image = _fill_missing(image, image_present, self.missing_image)
            text = _fill_missing(text, text_present, self.missing_text)
            pooled = self.mlp(torch.cat([image, text], dim=-1))
        else:
            if variant != "text_only":
                image_seq = self.image_attn(self.image_tokens(image, image_present))  # eq. 4-5
            if variant != "image_only":
                text_seq = self.text_attn(self.text_tokens(text, text_present))  # eq. 4-5
            if variant == "image_only":
                seq = image_seq
            elif variant == "text_only":
                seq = text_seq
            else:
                seq, gates = self.guided(image_seq, text_seq)  # eq. 6-7
                details.update(gates)
                if variant == "guided_diff":
                    seq, diff = self.diff_attn(seq + self.joint_position)  # eq. 8-9
                    details.update(diff)
            pooled = seq.mean(dim=1)
        logits = self.classifier(self.drop(pooled))
        if not return_details:
            return logits
        details = {name: value.detach() for name, value in details.items()}
        self.last_details = details
        return logits, details


def _fill_missing(x: Tensor, present: Tensor | None, missing: Tensor) -> Tensor:
    """``x`` with the rows where ``present`` is False replaced by the learned ``missing``."""
    if present is None:
        return x
    return torch.where(present.bool()[:, None], x, missing)
