"""Telling a usable caption from an empty or degenerate one.

Greedy decoding of a small or quantized vision-language model sometimes loops: one word
("the the the the"), one phrase ("a flooded street, a flooded street, ..."), or one
character ("!!!!!!!!"); or it writes no word at all ("...", replacement characters).
Such a caption is stored with a flag, so the item is not asked for again on every run, and
it is never appended to the item's text.
"""

from __future__ import annotations

import re

# Words, and each punctuation mark or symbol on its own: "water, water, water" is a loop
# of the two tokens ("water", ","), and "!!!!!!" a loop of "!".
_TOKENS = re.compile(r"\w+|[^\w\s]", re.UNICODE)
#: A single token repeated this many times in a row is a loop ("very very very" is not).
SAME_TOKEN_RUN = 4
#: A phrase of 2..MAX_PHRASE tokens repeated this many times in a row is a loop.
PHRASE_RUN = 3
MAX_PHRASE = 12
#: A long caption made of this few distinct tokens (share of its length) is a loop too,
#: even when the repeats are not adjacent.
MIN_DISTINCT_SHARE = 0.2
LONG_CAPTION_TOKENS = 30


def caption_flag(caption: str | None) -> str | None:
    """None for a usable caption; otherwise why not: ``"empty"`` or
    ``"degenerate: ..."`` naming the repeated token or phrase."""
    if caption is None or not caption.strip():
        return "empty"
    tokens = [t.lower() for t in _TOKENS.findall(caption)]
    if not tokens:
        return "empty"
    loop = _repeated_run(tokens)
    if loop is not None:
        phrase, times = loop
        kind = "token" if len(phrase) == 1 else "phrase"
        return f"degenerate: repeated {kind} {_show(phrase)!r} x{times}"
    if len(tokens) >= LONG_CAPTION_TOKENS:
        distinct = len(set(tokens))
        if distinct / len(tokens) < MIN_DISTINCT_SHARE:
            return (f"degenerate: repeated tokens ({distinct} distinct in "
                    f"{len(tokens)})")
    if not any(char.isalnum() for char in caption):
        # "...", replacement characters from a cut multi-byte token, control characters,
        # emoji: nothing that describes the image, and noise in the item's text.
        return "degenerate: no words"
    return None


def _repeated_run(tokens: list[str]) -> tuple[list[str], int] | None:
    """The first phrase repeated back to back often enough to be a loop, with its count."""
    n_tokens = len(tokens)
    for size in range(1, min(MAX_PHRASE, n_tokens // 2) + 1):
        needed = SAME_TOKEN_RUN if size == 1 else PHRASE_RUN
        if size * needed > n_tokens:
            break
        for start in range(0, n_tokens - size * needed + 1):
            phrase = tokens[start:start + size]
            if size > 1 and len(set(phrase)) == 1:
                continue  # a run of one token: reported with size 1
            times = 1
            while tokens[start + times * size:start + (times + 1) * size] == phrase:
                times += 1
            if times >= needed:
                return phrase, times
    return None


def _show(phrase: list[str]) -> str:
    """A phrase of tokens as text again (no space before punctuation), kept short."""
    text = ""
    for token in phrase:
        text += token if (not text or not token[0].isalnum()) else f" {token}"
    return text if len(text) <= 60 else text[:57] + "..."
