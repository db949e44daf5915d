"""Whether the texts a head is given are the kind it was trained on.

An item's text is its tweet followed by its newest caption (docs/captions.md), and a
head reads whatever that text is now. So once items are captioned, a head trained on
tweets alone (the shipped heads, any head trained before captioning) reads texts unlike
its training; a head trained on one captioner's captions reads another's after a
re-caption; and a head trained on captioned texts reads the tweet alone of an item not
captioned yet (imported since). Nothing stops it (the head scores them all the same,
often worse): predict and eval say so, with what to do, from the sidecar's
``text_source`` ("tweet", or "tweet+caption:<captioners> (N of M labelled items)").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crisisdesk.core.store import Store

#: How a sidecar's text_source starts when captions followed the tweet (training.py).
CAPTIONED = "tweet+caption:"


def trained_captioners(text_source: str | None) -> frozenset[str] | None:
    """The captioners whose captions a head trained on (empty for "tweet"); None when the
    head read no text or its source is not one training writes (nothing to compare)."""
    if text_source == "tweet":
        return frozenset()
    if not text_source or not text_source.startswith(CAPTIONED):
        return None
    names = text_source[len(CAPTIONED):].rsplit(" (", 1)[0]
    return frozenset(name for name in names.split(",") if name)


@dataclass
class TextMismatch:
    """Items a head read texts of another kind than it trained on, by kind."""

    read: int = 0  # items whose text the head read (all kinds)
    captioned: int = 0  # with a caption, by a head trained on tweets alone
    other_captioner: dict[str, int] = field(default_factory=dict)  # captioner -> items
    uncaptioned: int = 0  # an image but no caption, by a head trained on captions

    def add(self, other: TextMismatch) -> None:
        """Count ``other``'s items too (predict counts chunk by chunk)."""
        self.read += other.read
        self.captioned += other.captioned
        self.uncaptioned += other.uncaptioned
        for name, count in other.other_captioner.items():
            self.other_captioner[name] = self.other_captioner.get(name, 0) + count

    def note(self, version: str, text_source: str) -> str | None:
        """What the analyst is told (None when every text was of the trained kind)."""
        of, parts = f"of the {self.read:,} items", []
        if self.captioned:
            parts.append(
                f"{self.captioned:,} {of}' texts hold a caption, but {version} was trained "
                "on tweets alone: train a head on the captioned texts (Retrain, or "
                "crisisdesk train)")
        if self.other_captioner:
            others = sum(self.other_captioner.values())
            names = ", ".join(sorted(self.other_captioner))
            parts.append(
                f"{others:,} {of}' captions are by {names}, but {version} was trained on "
                f"{text_source}: train a head on their captions (Retrain, or crisisdesk "
                "train)")
        if self.uncaptioned:
            trained = "it was" if parts else f"{version} was"
            parts.append(
                f"{self.uncaptioned:,} {of} have an image but no caption yet, while "
                f"{trained} trained on captioned texts: it read their tweet alone "
                "(caption them: Jobs > Caption images, or crisisdesk caption; then embed "
                "and predict)")
        return "; ".join(parts) or None


def text_mismatch(store: Store, version: dict[str, Any], items: Sequence[int]
                  ) -> TextMismatch | None:
    """How the current texts of ``items`` (ones the head read) differ from those
    ``version`` trained on; None when it reads no text or its training's is unknown."""
    trained = trained_captioners((version.get("config") or {}).get("text_source"))
    if trained is None:
        return None
    out = TextMismatch(read=len(items))
    if not items:
        return out
    sources = store.caption_sources(items)
    if not trained:
        out.captioned = len(sources)
        return out
    for name in sources.values():
        if name not in trained:
            out.other_captioner[name] = out.other_captioner.get(name, 0) + 1
    images = store.item_images([item for item in items if item not in sources])
    out.uncaptioned = sum(1 for sha, status in images.values() if sha and status == "ok")
    return out
