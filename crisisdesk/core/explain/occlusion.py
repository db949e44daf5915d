"""Word relevance by leaving words out (occlusion), for BERT-style text encoders (MiniLM).

A word's value is how much the class probability drops when the word is left out:
``p(class | text) - p(class | text without the word)``, the text re-embedded exactly as
at embedding time and scored by the same head (with the item's image embedding when the
head reads one). Positive: without the word the model would be less sure of the class
(the word supports it); negative: it would be surer. It is what the word does to this
prediction by construction, and an analyst can read it as "without this word the model
would be X points less sure".

Why not a gradient: BERT adds word, position and type embeddings and feeds the sum
straight into a LayerNorm, which ignores the scale of its input. So gradient x input of
the summed embedding is ~0 for every token, and that of the word table alone is minus the
position embedding's: on 25 CrisisMMD dev tweets it correlated with leaving the word out
at a median of -0.31 (humanitarian) / -0.21 (informative). docs/explain.md has the
comparison with integrated gradients.

Cost: one encoder pass per word over the windows that hold it. Removing a word's tokens
only changes the windows it is in, so a long text re-encodes those and keeps the other
windows' vectors (a text that fits one window, every tweet, is exact leave-one-out; a
longer one keeps its window cuts instead of shifting every later window). Past
``TOKEN_BUDGET`` re-encoded tokens, consecutive words are left out together in spans and
each word shows its span's value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisisdesk.core.encoders.base import pool_windows
from crisisdesk.core.explain.text import TextTokens, bert_windows

#: Most tokens re-encoded for one explanation (a few seconds of MiniLM-L6 on 2 busy CPU
#: cores, bench/explain_bench.py): a text that fits one window costs about words x
#: tokens, so a tweet with its caption of up to ~90 words is left out word by word.
TOKEN_BUDGET = 12288


@dataclass
class LeaveOut:
    """Each word's drop in the class probability when it (its span) is left out."""

    values: np.ndarray  # float64 [words]
    span: int  # words left out together (1: each word on its own)
    probability: float  # the class probability with every word in


def _unit_windows(windows: list[list[int]], unit_of_token: np.ndarray
                  ) -> list[np.ndarray]:
    """The units (spans) that have a token in each window."""
    return [np.unique(unit_of_token[window]) if window else np.zeros(0, dtype=int)
            for window in windows]


def span_size(windows: list[list[int]], owners: np.ndarray, words: int,
              budget: int = TOKEN_BUDGET) -> int:
    """The fewest words per span that keep the tokens to re-encode within ``budget``
    (each span re-encodes every window it has a token in, specials included)."""
    span = 1
    while span < words:
        units = _unit_windows(windows, owners // span)
        cost = sum(len(found) * (len(window) + 2) for found, window in
                   zip(units, windows, strict=True))
        if cost <= budget:
            break
        # Cost falls about as 1 / span: jump near the answer, then step.
        span = max(span + 1, int(span * cost / budget))
    return min(span, max(words, 1))


def leave_words_out(encoder: Any, tokens: TextTokens,
                    score: Callable[[np.ndarray], np.ndarray],
                    budget: int | None = None) -> LeaveOut:
    """Leave each word (or span of words) of ``tokens`` out in turn and score the text.

    ``encoder`` is a crisisdesk ``TextEncoder`` (windows cut as its ``encode_texts``
    cuts them); ``score`` maps unit text vectors [n, dim] to the class probability [n];
    ``budget`` defaults to ``TOKEN_BUDGET``.
    """
    budget = TOKEN_BUDGET if budget is None else budget
    windows = bert_windows(encoder, tokens.ids)
    owners = np.asarray(tokens.owners, dtype=int)
    words = len(tokens.words)
    span = span_size(windows, owners, words, budget)
    unit_of_token = owners // span
    units = (words + span - 1) // span

    def wrap(positions: list[int]) -> list[int]:
        return [encoder.cls_id, *(tokens.ids[p] for p in positions), encoder.sep_id]

    sequences = [wrap(window) for window in windows]  # the whole text's windows first
    rows = [list(range(len(windows))) for _ in range(units + 1)]  # row 0: the whole text
    for index, (window, found) in enumerate(zip(windows, _unit_windows(windows,
                                                                       unit_of_token),
                                                strict=True)):
        for unit in found:
            rows[unit + 1][index] = len(sequences)
            sequences.append(wrap([p for p in window if unit_of_token[p] != unit]))
    vectors = encoder._encode_windows(sequences)  # one batched pass, as at embedding time
    picked = [i for row in rows for i in row]
    owner_rows = [text for text, row in enumerate(rows) for _ in row]
    texts = pool_windows(vectors[picked], owner_rows, len(rows))
    probabilities = np.asarray(score(texts), dtype=np.float64)
    drops = probabilities[0] - probabilities[1:]
    per_word = drops[np.arange(words) // span] if words else np.zeros(0)
    return LeaveOut(per_word, span, float(probabilities[0]))
