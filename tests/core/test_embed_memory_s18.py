"""The text embed hands the memory its batches freed back to the system after each batch.

Each batch's activation buffers are sized by its longest text, so they differ batch to
batch; glibc's malloc kept them in its heap, fragmented (the embed's peak grew by some
200 MB over a few thousand real tweets). The job now trims the heap after each committed
batch, in the app and on the command line alike (both run ``EmbedJob``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from test_embed_job import FakeEncoder, _project

from crisisdesk.core import embed
from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import TextBatch


class LoggingEncoder(FakeEncoder):
    """FakeEncoder that writes each text batch it encodes into a shared event log."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def encode_texts(self, texts: Sequence[str]) -> TextBatch:
        self.events.append("encode")
        return super().encode_texts(texts)


def test_the_text_embed_trims_the_heap_after_each_batch(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between one batch's encode and the next, the freed memory is given back."""
    events: list[str] = []
    monkeypatch.setattr(embed, "give_back_freed_memory", lambda: events.append("trim"),
                        raising=False)  # before the fix embed had no such name
    project = _project(tmp_path, posts=6)  # 8 posts with texts: 4 batches of 2
    job = EmbedJob(project, LoggingEncoder(events), kinds=["text"], batch_size=2)
    list(job.run())
    batches = events.count("encode")
    assert batches >= 3 and job.report.texts_encoded > 0
    assert events == ["encode", "trim"] * batches
