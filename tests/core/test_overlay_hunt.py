"""Overlay and explanations hunt: the explanation must score exactly what the prediction
scored (CrisisMMD's mojibake tweets; an encoder name registered again to other weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_explain import (  # noqa: F401 (fixtures)
    _head,
    _sidecar,
    encoder,
    explained_project,
    tiny,
)
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.explainer import Explainer
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.explain.text import clip_tokens
from crisisdesk.core.explain.vit import ExplainError
from crisisdesk.core.project import Project

#: Real CrisisMMD tweets (settingA): "Â" before a space and "â€™" are UTF-8 read as
#: cp1252. open_clip's tokenizer repairs them with ftfy on the whole text, which a word
#: taken alone does not allow ("disabledÂ" without its following no-break space). 294 of
#: the 10,841 distinct settingA tweets are like this.
MOJIBAKE = [
    "California wildfire hero dodged debris with disabled\u00c2\u00a0roommate "
    "https://t.co/9rFTxP3oXv https://t.co/3NJmwfhc2o",
    "Albertans organizing Mexico earthquake relief overwhelmed with support "
    "\u00e2\u20ac\u201c\u00c2\u00a0Calgary https://t.co/bwIbcUiiHx",
    "IATSE\u00e2\u20ac\u2122s Puerto Rico Office Reopens With Backup Generator, "
    "No\u00c2\u00a0Electricity https://t.co/YMnBXhxZeV",
]


@pytest.mark.parametrize("text", MOJIBAKE)
def test_clip_words_score_the_text_the_prediction_read(encoder: ClipEncoder,  # noqa: F811
                                                        text: str) -> None:
    # Each word was tokenized on its own, so ftfy never saw "Â" next to its no-break
    # space: the tower was fed other tokens than encode_texts feeds at embedding time, and
    # the explanation's probabilities (3.5 points off on a trained head) and word values
    # were those of another text.
    tokens = clip_tokens(encoder, text)
    assert tokens.ids == encoder.token_ids(text)
    assert len(tokens.owners) == len(tokens.ids)
    assert all(0 <= owner < len(tokens.words) for owner in tokens.owners)
    head = _head(seed=3)
    sidecar = _sidecar(head)
    sidecar["classes"] = ["none", "patch"]
    result = Explainer(head, sidecar, text_encoder=encoder, image_encoder=encoder).explain(
        image=None, text=text)
    stored = torch.from_numpy(encoder.encode_texts([text]).vectors)  # what predict reads
    with torch.no_grad():
        logits = head(torch.zeros(1, 32), stored, torch.zeros(1, dtype=torch.bool),
                      torch.ones(1, dtype=torch.bool))
    expected = torch.softmax(logits[0].double(), dim=-1).numpy()
    got = np.array([result.probabilities[c] for c in result.classes])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Every word of the text is still one entry, the repaired ones with their tokens.
    assert [w.text for w in result.words] == text.split()
    assert sum(w.tokens for w in result.words) == len(tokens.ids)
    assert all(w.tokens >= 1 for w in result.words)


def _other_width_clip(folder: Path) -> Path:
    """A tiny CLIP hub folder like the tests' one but with 48-d embeddings."""
    import copy
    import json

    import open_clip
    from safetensors.torch import save_file
    from tiny_clip import PREPROCESS_CFG, TINY_CONFIG

    config = copy.deepcopy(TINY_CONFIG)
    config["embed_dim"] = 48
    open_clip.factory._MODEL_CONFIGS["crisisdesk-tiny-clip-48"] = copy.deepcopy(config)
    torch.manual_seed(5)
    model = open_clip.create_model("crisisdesk-tiny-clip-48")
    folder.mkdir(parents=True)
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": config, "preprocess_cfg": PREPROCESS_CFG}), encoding="utf-8")
    return folder


def test_an_encoder_re_registered_to_other_weights_is_refused_not_explained(
        explained_project: Project, tmp_path: Path, capsys) -> None:  # noqa: F811
    # "tiny-clip" registered again to another model: predictions still read the stored
    # embeddings of the first one, but the explanation ran the new weights and showed
    # their heat map and probabilities as the prediction's (same width), or failed on a
    # bare "mat1 and mat2 shapes cannot be multiplied" traceback (another width).
    item = ["explain", str(explained_project.root), "1_0", "--task", "damage",
            "--device", "cpu", "--out", str(tmp_path / "x.png")]
    other = make_tiny_clip(tmp_path / "other", seed=7)
    assert main(["models", "add", "tiny-clip", str(other["folder"])]) == 0
    forget_loaded()
    with pytest.raises(ExplainError, match=r"registered as tiny-clip gives this item "
                                           r"another vector than its stored embedding"):
        explain_item(explained_project, "1_0", "damage", device="cpu", use_cache=False)
    assert main(item) == 2
    assert "another vector than its stored embedding" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()

    assert main(["models", "add", "tiny-clip", str(_other_width_clip(tmp_path / "w48"))]) == 0
    forget_loaded()
    assert main(item) == 2
    err = capsys.readouterr().err
    assert "now gives 48-d vectors, but damage-tiny was trained on 32-d ones" in err
    assert "Traceback" not in err and not (tmp_path / "x.png").exists()


def test_a_picture_gone_after_its_explanation_was_cached_is_not_drawn_from_the_cache(
        explained_project: Project, tmp_path: Path, capsys) -> None:  # noqa: F811
    # The cached heat map was served for a file deleted since (the store still says "ok"
    # until a media check): `crisisdesk explain` then crashed drawing the picture
    # (FileNotFoundError traceback), and the app showed a heat map with no word of why
    # the picture was missing.
    assert explain_item(explained_project, "1_0", "damage", device="cpu").image is not None
    (tmp_path / "src" / "1.png").unlink()
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert result.image is None
    assert any("image not explained" in note for note in result.notes)
    out = tmp_path / "gone.png"
    assert main(["explain", str(explained_project.root), "1_0", "--task", "damage",
                 "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "image not explained" in printed.out and "Traceback" not in printed.err
    with Image.open(out) as png:
        assert png.height < 300  # the text part only: no picture to draw
