"""Stale data after a change: what the analyst sees or exports is never computed from
data that no longer holds (another model under an encoder's name, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_embed_job import FakeEncoder, _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import EncoderError


def test_another_model_under_an_encoders_name_is_refused_before_dims_mix(tmp_path: Path
                                                                        ) -> None:
    """``models add NAME PATH`` may point a name at another model (a wrong folder from a
    USB stick): its vectors must not join the stored ones of another dimension under the
    same name, where every later predict failed on a numpy broadcast error. The embed job
    stops at once naming the encoder and both dimensions, and stores nothing."""
    project = _project(tmp_path)
    with project.open_store() as store:
        first = store.item_texts()[0]
        store.put_embeddings("text", "fake", [first.key], np.ones((1, 4), np.float32))
    with pytest.raises(EncoderError, match=r"named fake makes 6-d.*1 embedding of dimension 4"):
        list(EmbedJob(project, FakeEncoder()).run())
    with project.open_store() as store:
        assert store.embedding_dims("fake") == {4: 1}
