"""Checks that a deliberately broken explanation makes a test fail (mutation audit,
session 15). Each test pins one behaviour of the overlay's numbers that no earlier test
caught when the code was broken on purpose in a scratch copy (the audit's table is in
the session report):

* the image vs text share of a ``guided_diff`` head is the flow of the *differential*
  map ``|A1 - lambda A2|`` *into* each half's tokens (mean over the queries), weighed by
  the tokens' norms (the gates);
* the share of a ``guided`` head is the image half's share of the token norms;
* the fusion facts name each gate and each map's mass on the image tokens as such;
* the heat map's rollout reads the pooled token's row (the class token's, or the mean of
  the patches' for average pooling), and keeps what an early block read through the
  residual stream (``R <- R + Abar R``);
* a CLIP word's value is its tokens' push on the class logit (gradient x input: the
  derivative of the logit as the word's token embeddings are scaled), both windows'
  where a long text's windows overlap on it;
* the overlay's probabilities are the head's calibrated ones, as predictions store;
* a BERT-style word's leave-out value of an item without an image is scored without
  one, as its prediction was;
* an item explained while its picture could not be read gets its heat map once the
  picture is fetched (the cache is keyed by the picture too);
* the report's image vs text bar gives the image its share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_explain import (  # noqa: F401 (fixtures)
    _head,
    _sidecar,
    encoder,
    explained_project,
    tiny,
)
from test_explain_words import WORDS, _probabilities, _text_head, tiny_bert  # noqa: F401

from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.text import TextEncoder
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.explainer import Explainer
from crisisdesk.core.explain.render import render_png
from crisisdesk.core.explain.result import Explanation
from crisisdesk.core.explain.share import fusion_summary
from crisisdesk.core.explain.vit import rollout
from crisisdesk.core.imaging import ImageFacts
from crisisdesk.core.project import Project

K = 3  # tokens per modality: the joint sequence holds 2K, image first


def _joint(image_norm: float, text_norm: float) -> torch.Tensor:
    """A joint sequence [1, 2K, 4] whose image tokens have norm ``image_norm`` and whose
    text tokens have ``text_norm``."""
    token = torch.tensor([1.0, 0.0, 0.0, 0.0])
    return torch.stack([token * image_norm] * K + [token * text_norm] * K)[None]


def _diff_share(attn1: torch.Tensor, attn2: torch.Tensor, lam: float,
                joint: torch.Tensor) -> float:
    """The image share fusion_summary gives a guided_diff head with these maps
    ([2K, 2K] each: queries x keys, one head)."""
    details = {"attn1": attn1[None, None], "attn2": attn2[None, None],
               "lambda": torch.tensor(lam),
               "alpha_image": torch.full((1, K, 4), .5),
               "alpha_text": torch.full((1, K, 4), .5)}
    share, _facts = fusion_summary("guided_diff", details, joint, None, True, True)
    assert share["image"] + share["text"] == pytest.approx(1.0)
    return share["image"]


def _rows(weights: list[float]) -> torch.Tensor:
    """An attention map [2K, 2K] whose every query has ``weights`` over the 2K keys."""
    return torch.tensor([weights] * (2 * K))


def test_what_the_second_map_cancels_gives_the_image_no_share() -> None:
    # A1 spreads every query evenly; A2 puts all on the image keys; lambda 1/2 takes
    # exactly A1's image part away: the differential attention reads the text alone.
    uniform = _rows([1 / (2 * K)] * (2 * K))
    on_image = _rows([1 / K] * K + [0.0] * K)
    assert _diff_share(uniform, on_image, .5, _joint(1.0, 1.0)) == pytest.approx(0.0)
    # Nothing cancelled (lambda 0): the even map splits evenly.
    assert _diff_share(uniform, on_image, 0.0, _joint(1.0, 1.0)) == pytest.approx(0.5)


def test_the_share_is_the_flow_into_each_half_not_out_of_it() -> None:
    # Every query, image and text tokens alike, attends to the text keys only: the
    # classifier's tokens are built from the text; the image gets nothing.
    on_text = _rows([0.0] * K + [1 / K] * K)
    none = torch.zeros(2 * K, 2 * K)
    assert _diff_share(on_text, none, .3, _joint(1.0, 1.0)) == pytest.approx(0.0)


def test_a_gate_that_shuts_the_image_tokens_shuts_its_share() -> None:
    # Even attention, but the gated image tokens carry nothing (norm 0): no image share.
    uniform = _rows([1 / (2 * K)] * (2 * K))
    none = torch.zeros(2 * K, 2 * K)
    assert _diff_share(uniform, none, .3, _joint(0.0, 1.0)) == pytest.approx(0.0)
    # Image tokens twice the text tokens' norm under even attention: two thirds.
    assert _diff_share(uniform, none, .3, _joint(2.0, 1.0)) == pytest.approx(2 / 3)


def test_a_guided_heads_share_is_the_image_halfs_share_of_the_token_norms() -> None:
    # The classifier averages the joint tokens: image tokens a third of the text
    # tokens' norm make a quarter of what it reads.
    share, _facts = fusion_summary("guided", {}, _joint(1.0, 3.0), None, True, True)
    assert share["image"] == pytest.approx(0.25)
    assert share["text"] == pytest.approx(0.75)


def test_the_fusion_facts_name_each_gate_and_the_maps_image_mass() -> None:
    # The image's gate (on the text tokens) mostly open, the text's mostly shut; A1 puts
    # three quarters of every query on the image keys, A2 a quarter.
    details = {"alpha_image": torch.full((1, K, 4), .9), "alpha_text": torch.full((1, K, 4), .2),
               "attn1": _rows([.75 / K] * K + [.25 / K] * K)[None, None],
               "attn2": _rows([.25 / K] * K + [.75 / K] * K)[None, None],
               "lambda": torch.tensor(.4)}
    _share, facts = fusion_summary("guided_diff", details, _joint(1.0, 1.0), None, True, True)
    assert facts["gate_image"] == pytest.approx(.9)
    assert facts["gate_text"] == pytest.approx(.2)
    assert facts["attn1_image_mass"] == pytest.approx(.75)
    assert facts["attn2_image_mass"] == pytest.approx(.25)
    assert facts["lambda"] == pytest.approx(.4)


def _one_head(n: int, edges: dict[tuple[int, int], float]) -> torch.Tensor:
    """An attention map [1, 1, n, n] (batch, heads) with the given query -> key weights."""
    attn = torch.zeros(1, 1, n, n)
    for (query, key), weight in edges.items():
        attn[0, 0, query, key] = weight
    return attn


def test_the_rollout_reads_what_the_class_token_attended_to() -> None:
    # Tokens: class token 0, patches 1..3. The class token reads patch 2; patch 1 reads
    # the class token. The map must light patch 2 (what the class was read from), not
    # patch 1 (a patch that read the class token).
    attn = _one_head(4, {(0, 2): 1.0, (1, 0): 1.0})
    relevance = rollout([attn], [torch.ones_like(attn)], "tok")
    assert int(relevance.argmax()) == 1  # patch 2 (index 1 of the patches)
    assert float(relevance[0]) == pytest.approx(0.0)


def test_the_rollout_keeps_an_early_blocks_evidence_through_the_residual_stream() -> None:
    # Block 1: the class token reads patch 1. Block 2: it reads patch 2. The residual
    # stream carries block 1's reading on: both patches are relevant, patch 3 is not.
    first = _one_head(4, {(0, 1): 1.0})
    second = _one_head(4, {(0, 2): 1.0})
    relevance = rollout([first, second], [torch.ones_like(first), torch.ones_like(second)],
                        "tok")
    assert float(relevance[0]) > 0 and float(relevance[1]) > 0
    assert float(relevance[0]) == pytest.approx(float(relevance[1]))
    assert float(relevance[2]) == pytest.approx(0.0)


def test_an_average_pooled_towers_rollout_reads_the_patches_rows() -> None:
    # Average pooling: the image vector is the patches' mean, not the class token. The
    # patches all read patch 3; the class token (unused) reads patch 1.
    attn = _one_head(4, {(0, 1): 1.0, (1, 3): 1.0, (2, 3): 1.0, (3, 3): 1.0})
    relevance = rollout([attn], [torch.ones_like(attn)], "avg")
    assert int(relevance.argmax()) == 2  # patch 3
    assert float(relevance[0]) < float(relevance[2])


#: Words that are one CLIP BPE token each, all different: 100 of them make two windows
#: (75 content tokens each, overlapping on tokens 57..74).
ONE_TOKEN = ("bridge house road river water fire smoke storm flood rain wind tree roof wall "
             "car truck boat city town street school church hospital police army people "
             "family child mother father help food shelter power light phone news photo "
             "video night morning day week year north south east west lake hill field farm "
             "market store bank park beach island coast wave sand rock stone glass metal "
             "wood paper cloth bread rice milk tea coffee sugar salt doctor nurse teacher "
             "worker driver pilot king queen bird fish horse dog cat cow sheep goat chicken "
             "duck apple orange grape lemon bean corn potato").split()


def _logit_scaling(encoder: ClipEncoder, head: torch.nn.Module, text: str,  # noqa: F811
                   token: int, factor: float) -> float:
    """The head's "patch" logit for ``text`` embedded as at embedding time, with every
    occurrence of ``token``'s embedding scaled by ``factor``."""
    def scale(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return torch.where((args[0] == token).unsqueeze(-1), output * factor, output)

    handle = encoder.model.token_embedding.register_forward_hook(scale)
    try:
        vector = torch.from_numpy(encoder.encode_texts([text]).vectors)
    finally:
        handle.remove()
    with torch.no_grad():
        logits = head(torch.zeros(1, 32), vector, torch.tensor([False]), torch.tensor([True]))
    return float(logits[0, 1])


def test_a_clip_words_value_is_its_tokens_push_on_the_class_logit(
        encoder: ClipEncoder) -> None:  # noqa: F811
    head = _head()
    text = " ".join(ONE_TOKEN)
    assert len(encoder.token_ids(text)) == len(ONE_TOKEN) == 100
    result = Explainer(head, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder).explain(image=None, text=text,
                                                     class_name="patch")
    step = 1e-2
    # The first window's, both windows' (60, 70) and the second window's words.
    for index in (0, 1, 30, 60, 70, 80, 99):
        word = result.words[index]
        (token,) = encoder.token_ids(word.text)
        push = (_logit_scaling(encoder, head, text, token, 1 + step)
                - _logit_scaling(encoder, head, text, token, 1 - step)) / (2 * step)
        assert word.raw == pytest.approx(push, rel=0.05, abs=1e-4), word.text


def test_the_overlays_probabilities_are_the_calibrated_ones(
        tiny_bert: TextEncoder) -> None:  # noqa: F811
    head, sidecar = _text_head()
    sidecar["temperature"] = 2.5
    text = " ".join(WORDS[:8])
    result = Explainer(head, sidecar, text_encoder=tiny_bert).explain(image=None, text=text)
    stored = _probabilities(head, sidecar, tiny_bert.encode_texts([text]).vectors)[0]
    assert [result.probabilities[c] for c in sidecar["classes"]] == \
        pytest.approx(stored.tolist(), abs=1e-5)


def test_an_item_without_an_image_has_its_words_scored_without_one(
        tiny_bert: TextEncoder, encoder: ClipEncoder) -> None:  # noqa: F811
    # A fusion head over CLIP images and BERT-style texts; the item has no picture: its
    # prediction read the head's "missing" image input, so must leaving words out.
    head, sidecar = _text_head("guided_diff", image_encoder="tiny-clip")
    text = " ".join(WORDS[:6])
    result = Explainer(head, sidecar, image_encoder=encoder, text_encoder=tiny_bert
                       ).explain(image=None, text=text, class_name="b")
    variants = [text] + [text[:w.start] + text[w.end:] for w in result.words]
    vectors = tiny_bert.encode_texts(variants).vectors
    without = _probabilities(head, sidecar, vectors)[:, 1]
    raw = np.array([w.raw for w in result.words])
    np.testing.assert_allclose(raw, without[0] - without[1:], atol=1e-6)


def test_a_picture_fetched_after_the_item_was_explained_gets_its_heat_map(
        explained_project: Project) -> None:  # noqa: F811
    # A fetch that failed (the bytes came broken) leaves the picture unreadable: the
    # overlay explains the text alone, and that explanation is cached. The fetch is
    # tried again and the picture comes: the overlay must draw its heat map, not serve
    # the text-only explanation from the cache.
    with explained_project.open_store() as store:
        media = store.item_media(1)
        store.mark_media_unreadable(media.sha256, "broken download")
        row = store.conn.execute("SELECT id, path, size, width, height FROM media"
                                 " WHERE sha256 = ?", [media.sha256]).fetchone()
    before = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert before.image is None
    with explained_project.open_store() as store:
        assert store.set_media_fetched(row["id"], row["path"], ImageFacts(
            "ok", None, media.sha256, row["size"], row["width"], row["height"]))
    after = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert after.image is not None
    assert after.share["basis"] != before.share["basis"]


@pytest.mark.parametrize("image_share", [0.8, 0.3])
def test_the_reports_bar_gives_the_image_its_share(tmp_path: Path, image_share: float
                                                   ) -> None:
    from PIL import Image

    explanation = Explanation(
        item="posts:1:0", task="damage", class_name="a", classes=["a", "b"],
        probabilities={"a": 0.6, "b": 0.4}, model_version="m", text="roof gone",
        caption_start=None, words=[], image=None,
        share={"image": image_share, "text": 1 - image_share, "basis": "test"})
    with Image.open(render_png(explanation, tmp_path / "r.png")) as png:
        pixels = np.asarray(png.convert("RGB")).reshape(-1, 3)
    # The bar: the image's part blue, the text's orange (render.py's colours).
    image = int((pixels == (70, 110, 190)).all(axis=1).sum())
    text = int((pixels == (230, 160, 60)).all(axis=1).sum())
    assert image / (image + text) == pytest.approx(image_share, abs=0.01)
