"""What every captioner is: requests in, captions (or per-item errors) out.

A captioner (local transformers model, or an OpenAI-compatible server) takes a batch of
:class:`CaptionRequest` and returns one :class:`CaptionResult` per request, in order. It
never raises for one bad item: the item's result carries the error, and the caption job
reports it and leaves the item to be retried on the next run. It raises only for what stops
the whole run (model missing, server unreachable after retries, out of memory at batch 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from crisisdesk.core.captions.prompt import CaptionPrompt


class CaptionError(RuntimeError):
    """A captioner cannot run at all (missing model, no GPU memory, server down)."""

    def __init__(self, message: str, *, log_message: str | None = None) -> None:
        super().__init__(message)
        #: The message as the app's log may keep it, where it quotes a server's answer
        #: (see :func:`crisisdesk.core.app_log.loggable`); None: the message itself.
        self.log_message = log_message


@dataclass(frozen=True)
class CaptionRequest:
    """One image to describe, with the text of the post it came with."""

    key: str  # the caller's id for this request (unique in a batch), echoed in the result
    image_path: Path
    tweet_text: str


@dataclass(frozen=True)
class CaptionResult:
    """A caption, or why there is none (``caption`` None and ``error`` set)."""

    key: str
    caption: str | None
    error: str | None = None
    #: The server refused the request as such (401, 403, 404: a wrong key, model name or
    #: URL), not this item: when a whole batch is refused, the job stops there.
    refused: bool = False
    #: ``error`` as the app's log may keep it, where ``error`` quotes a server's answer
    #: (which may echo the request, the post's text with it); None: ``error`` itself.
    logged_error: str | None = None


class Captioner(Protocol):
    """A vision-language model that writes captions."""

    #: The captioner's name in cache keys: model, and quantization where it changes output.
    name: str
    #: Where it really runs ("cuda:0", "cpu", or the server's base URL).
    device: str

    def caption(self, requests: Sequence[CaptionRequest], prompt: CaptionPrompt
                ) -> list[CaptionResult]:
        """Captions for ``requests``, one result per request, in order."""
        ...

