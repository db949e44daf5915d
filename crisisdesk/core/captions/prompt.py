"""The caption instruction: a versioned resource (``resources/prompts/caption.json``).

The prompt holds the tweet, so a caption is cached per (image, tweet text, captioner,
prompt version). Editing the instruction means adding a version: captions written with
the old one stay in the store until the items are captioned again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crisisdesk.core.resources import read_json


@dataclass(frozen=True)
class CaptionPrompt:
    """One version of the caption instruction."""

    version: str
    system: str
    user: str  # holds "{tweet}"

    def user_text(self, tweet_text: str) -> str:
        """The user message's text for a post (the image goes before it)."""
        return self.user.replace("{tweet}", tweet_text.strip() or "(no text)")

    def messages(self, tweet_text: str) -> list[dict[str, Any]]:
        """Chat messages in the transformers chat-template form: the system message, then
        a user turn with the image placeholder followed by the text."""
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system}]},
            {"role": "user", "content": [{"type": "image"},
                                         {"type": "text", "text": self.user_text(tweet_text)}]},
        ]


def load_prompt(version: str | None = None) -> CaptionPrompt:
    """The shipped caption instruction: ``version``, or the current one."""
    data = read_json("prompts", "caption.json")
    version = version or data["current"]
    try:
        entry = data["versions"][version]
    except KeyError:
        known = ", ".join(sorted(data["versions"]))
        raise ValueError(f"no caption prompt version {version!r} (known: {known})") from None
    return CaptionPrompt(version=version, system=entry["system"], user=entry["user"])
