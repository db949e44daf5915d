"""Word relevance plumbing: a text's tokens back to its words, and the text encoders'
passes that the explainer feeds to the head.

CLIP's words: gradient x input (Shrikumar et al. 2016, *Not Just a Black Box*; Simonyan
et al. 2014): a token's relevance for the class logit is ``sum_d grad_d * e_d`` over its
input embedding ``e`` (the token embedding, before positions are added); its sign says
whether the token pushes the logit up (for the class) or down (against it). CLIP's text
tower adds the positions and goes on in a residual stream (its LayerNorms sit inside the
blocks), so the token embedding's scale reaches the output.

BERT-style encoders (MiniLM) feed word + position + type embeddings straight into a
LayerNorm, which ignores the scale of its input: gradient x input is meaningless there,
and their words are valued by leaving each out (``occlusion.py``).

Tokens go back to words (maximal runs of non-space characters of the item's text):

* MiniLM's WordPiece (a fast tokenizer): through its offset mapping;
* CLIP's BPE (open_clip's SimpleTokenizer has no offsets): the tower is fed the whole
  text's ids, as at embedding time; each word is tokenized on its own to learn which ids
  are its. BPE never merges across whitespace, so the two sequences are the same, except
  where open_clip's ftfy cleaning repairs mojibake across a space (CrisisMMD's "Â" before
  a no-break space: 294 of the 10,841 settingA tweets); there the word-by-word ids are
  aligned to the whole text's.

Long texts are windowed exactly as the encoders do (``token_windows``), each window
encoded with its special tokens, the window vectors L2-normalised, averaged and
re-normalised; a token in two overlapping windows sums both relevances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from crisisdesk.core.encoders.base import pool_windows, token_windows

WORD = re.compile(r"\S+")


@dataclass
class TextTokens:
    """A text's content token ids and, for each, the word (index into ``words``) it is in."""

    ids: list[int]
    owners: list[int]
    words: list[tuple[int, int]]  # (start, end) character spans in the text


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word: a maximal run of non-space characters."""
    return [match.span() for match in WORD.finditer(text)]


def clip_tokens(encoder: Any, text: str) -> TextTokens:
    """CLIP BPE ids of ``text``, exactly as the encoder tokenizes the whole text, and the
    word each id is in (from tokenizing word by word, aligned to the whole text's ids)."""
    words = word_spans(text)
    ids = list(encoder.token_ids(text))  # what embedding fed the tower: score the same
    piece_ids: list[int] = []
    piece_owners: list[int] = []
    for index, (start, _end) in enumerate(words):
        # The word with the spaces after it: ftfy (open_clip's cleaning) repairs "Â" and
        # the no-break space after it as one, in the whole text and here alike.
        stop = words[index + 1][0] if index + 1 < len(words) else len(text)
        word_ids = encoder.token_ids(text[start:stop])
        piece_ids.extend(word_ids)
        piece_owners.extend([index] * len(word_ids))
    if piece_ids == ids:  # BPE never merges across spaces: nearly every text
        return TextTokens(ids, piece_owners, words)
    return TextTokens(ids, _align_owners(piece_ids, piece_owners, ids), words)


def _align_owners(piece_ids: list[int], piece_owners: list[int], ids: list[int]
                  ) -> list[int]:
    """The word of each of ``ids`` where the word-by-word tokenization differs from the
    whole text's (ftfy repairs mojibake spanning words, or depends on the context):
    matched ids keep their word; a differing run shares out the words of its
    counterpart in order; an inserted one goes with the word before it."""
    import difflib

    owners: list[int] = []
    matcher = difflib.SequenceMatcher(None, piece_ids, ids, autojunk=False)
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if i2 > i1:  # equal or replace: the counterpart at the same relative place
                owners.append(piece_owners[i1 + (j - j1) * (i2 - i1) // (j2 - j1)])
            else:  # inserted: the word before it (the first word at the start)
                owners.append(piece_owners[i1 - 1] if i1 > 0 else
                              (piece_owners[0] if piece_owners else 0))
    return owners


def _lowered(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased, and for each character of it the index it came from
    (``str.lower`` can lengthen a character: 'İ' -> 'i̇')."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        low = char.lower()
        chars.append(low)
        origin.extend([index] * len(low))
    return "".join(chars), origin


def wordpiece_tokens(encoder: Any, text: str) -> TextTokens:
    """A fast tokenizer's ids of ``text`` and their words, through its offset mapping."""
    words = word_spans(text)
    fed, origin = _lowered(text) if encoder.lower_case else (text, list(range(len(text))))
    encoded = encoder.tokenizer(fed, add_special_tokens=False, truncation=False,
                                return_offsets_mapping=True, verbose=False)
    starts = [start for start, _ in words]
    ids: list[int] = []
    owners: list[int] = []
    for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"],
                                   strict=True):
        if end <= start:  # no characters (should not happen without special tokens)
            continue
        where = origin[start] if start < len(origin) else len(text) - 1
        word = max(0, _bisect_right(starts, where) - 1)
        ids.append(int(token))
        owners.append(word)
    return TextTokens(ids, owners, words)


def _bisect_right(values: Sequence[int], x: int) -> int:
    import bisect

    return bisect.bisect_right(values, x)


def _embedding_module(model: Any) -> torch.nn.Module:
    """The token embedding table of a CLIP model."""
    if hasattr(model, "token_embedding"):
        return model.token_embedding
    text = getattr(model, "text", None)
    if text is not None and hasattr(text, "token_embedding"):
        return text.token_embedding
    raise TypeError(f"{type(model).__name__} has no token embedding to explain")


class EmbeddingTap:
    """Makes a frozen model's token embeddings a leaf that gradients reach (a forward hook
    on the embedding table; nothing of the model is changed)."""

    def __init__(self, model: Any) -> None:
        self.module = _embedding_module(model)
        self.outputs: list[Tensor] = []

    def _hook(self, module: Any, args: Any, output: Tensor) -> Tensor:
        leaf = output.detach().requires_grad_(True)
        self.outputs.append(leaf)
        return leaf

    def __enter__(self) -> EmbeddingTap:
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()


def windows_of(ids: Sequence[int], size: int, overlap: int) -> list[list[int]]:
    """Positions (into ``ids``) of each window, cut as the encoders cut them (each
    encoder's own ``size`` and ``overlap``: CLIP and MiniLM do not derive them alike)."""
    if not ids:
        return [[]]
    return token_windows(list(range(len(ids))), size=size, overlap=overlap)


@dataclass
class TextPass:
    """One text through its encoder: the unit vector the head is fed and, for CLIP, where
    each content token sits in the tapped embeddings (the gradient reaches them)."""

    vector: Tensor  # [1, dim], unit length; a leaf for a BERT-style encoder
    embeddings: Tensor | None  # the tapped leaf [windows, length, width]; None for BERT
    slots: list[tuple[int, int, int]]  # (window row, position in it, content token index)

    def token_relevance(self, grad: Tensor, count: int) -> np.ndarray:
        """Gradient x input of each of the ``count`` content tokens (float64)."""
        per_slot = (grad.float() * self.embeddings.detach().float()).sum(dim=-1).cpu().numpy()
        out = np.zeros(count, dtype=np.float64)
        for row, position, token in self.slots:
            out[token] += float(per_slot[row, position])
        return out


def _slots(windows: list[list[int]]) -> list[tuple[int, int, int]]:
    # Position 0 of each row is the start token ([SOT] / [CLS]).
    return [(row, 1 + j, token) for row, window in enumerate(windows)
            for j, token in enumerate(window)]


def _pool(window_vectors: Tensor) -> Tensor:
    """The encoders' pooling: unit windows, averaged, re-normalised -> [1, dim]."""
    unit = F.normalize(window_vectors.float(), dim=-1)
    return F.normalize(unit.mean(dim=0, keepdim=True), dim=-1)


def clip_text_pass(encoder: Any, ids: Sequence[int]) -> TextPass:
    """CLIP's text tower on ``ids`` (content BPE ids), with the embeddings tapped."""
    size = encoder.context_length - 2  # as ClipEncoder.encode_texts cuts them
    windows = windows_of(ids, size, size // 4)
    rows = encoder._token_rows([[ids[p] for p in window] for window in windows])
    with EmbeddingTap(encoder.model) as tap:
        features = encoder.model.encode_text(rows.to(encoder._torch_device))
    return TextPass(_pool(features), tap.outputs[0], _slots(windows))


def bert_windows(encoder: Any, ids: Sequence[int]) -> list[list[int]]:
    """Positions of each window of ``ids``, as ``TextEncoder.encode_texts`` cuts them (the
    overlap is a quarter of max_length, not of the window)."""
    return windows_of(ids, encoder.max_length - 2, encoder.max_length // 4)


def bert_text_pass(encoder: Any, ids: Sequence[int]) -> TextPass:
    """A transformers text encoder's unit vector of ``ids`` (content WordPiece ids),
    encoded as its ``encode_texts`` does, as a leaf the head's gradient reaches (the
    input share needs it). No tokens are tapped: the words are left out instead."""
    windows = bert_windows(encoder, ids)
    vectors = encoder._encode_windows(
        [[encoder.cls_id, *(ids[p] for p in window), encoder.sep_id] for window in windows])
    vector = torch.from_numpy(pool_windows(vectors, [0] * len(windows), 1))
    return TextPass(vector.requires_grad_(True), None, [])
