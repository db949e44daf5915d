"""Explanations at the edges: zero-shot's image vs text share, an image file replaced
since it was imported, a 16-bit greyscale picture in the report PNG."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_explain import explained_project, tiny  # noqa: F401 (fixtures)

from crisisdesk.cli import main
from crisisdesk.core.encoders.factory import load_encoder
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.render import MARGIN, render_png
from crisisdesk.core.explain.result import Explanation, ImageRelevance
from crisisdesk.core.fusion.zeroshot import class_prompt_vectors
from crisisdesk.core.imaging import open_image, upright_rgb
from crisisdesk.core.project import Project
from crisisdesk.core.store import text_key


def test_zero_shot_share_is_each_modalitys_part_of_the_logit(
        explained_project: Project) -> None:  # noqa: F811
    # Zero-shot scoring is scale-invariant in each embedding (it normalises them), so
    # gradient x input of the embeddings is 0 up to rounding: the share was the ratio of
    # two rounding errors (0 %, 100 % or anything between from one item to the next).
    # The logit is the mean of the two cosines: each modality's part is its cosine.
    result = explain_item(explained_project, "1_0", "informative", device="cpu")
    encoder = load_encoder("tiny-clip", device="cpu")
    classes = class_prompt_vectors(encoder, "informative")
    with explained_project.open_store() as store:
        sha = store.item_images([1])[1][0]
        image = store.get_embeddings("image", "tiny-clip", [sha])[sha]
        text = store.get_embeddings("text", "tiny-clip", [text_key(result.text)])[
            text_key(result.text)]
    target = classes[result.classes.index(result.class_name)]
    cos = [float(v @ target / np.linalg.norm(v) / np.linalg.norm(target))
           for v in (image, text)]
    assert result.share["image"] == pytest.approx(abs(cos[0]) / (abs(cos[0]) + abs(cos[1])),
                                                  abs=1e-3)
    assert result.share["image"] + result.share["text"] == pytest.approx(1.0)


def test_an_image_file_replaced_since_import_is_scored_as_predicted(
        explained_project: Project) -> None:  # noqa: F811
    # The head's embedding is the imported file's (keyed by its sha256); the explanation
    # ran the new picture through CLIP, so it scored another image than the prediction,
    # drew a heat map of it, and cached that under the original file's key.
    assert main(["predict", str(explained_project.root), "--task", "damage"]) == 0
    with explained_project.open_store() as store:
        version = store.active_model_version("damage")
        predicted = store.predictions_of(version["id"], [1])[1]
    before = explain_item(explained_project, "1_0", "damage", device="cpu")  # cached
    assert before.image is not None
    picture = explained_project.root.parent / "src" / "1.png"
    kept = picture.with_name("kept.png")
    shutil.copy(picture, kept)
    Image.fromarray(np.full((30, 40, 3), 250, np.uint8)).save(picture)
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert result.image is None  # no heat map of a picture the head never read
    assert result.probabilities == pytest.approx(predicted, abs=1e-4)
    assert any("changed since it was imported" in note for note in result.notes)
    fresh = explain_item(explained_project, "1_0", "damage", device="cpu", use_cache=False)
    assert fresh.image is None and fresh.probabilities == pytest.approx(predicted, abs=1e-4)
    # The original back: its heat map again, from the cache written before.
    shutil.copy(kept, picture)
    again = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert again.image is not None and not again.notes
    np.testing.assert_allclose(again.image.grid, before.image.grid, atol=1e-5)


def test_report_draws_a_16_bit_greyscale_picture_as_the_model_sees_it(tmp_path: Path
                                                                      ) -> None:
    # Pillow's convert("RGB") clips 16-bit values at 255: the report's picture was white.
    path = tmp_path / "grey16.png"
    Image.fromarray(np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)
                    ).save(path)
    explanation = Explanation(
        item="posts:1:0", task="damage", class_name="a", classes=["a", "b"],
        probabilities={"a": 0.6, "b": 0.4}, model_version="m", text="hi",
        caption_start=None, words=[],
        image=ImageRelevance(np.zeros((4, 4), np.float32), (40, 40), (0, 0, 1, 1), "m"),
        share={"image": 0.5, "text": 0.5, "basis": "b"})
    out = render_png(explanation, tmp_path / "out.png", path)
    with Image.open(out) as png, open_image(path) as source:
        top = MARGIN + 28
        shown = np.asarray(png.convert("RGB").crop((MARGIN, top, MARGIN + 420, top + 420)),
                           dtype=np.float64)
        seen = np.asarray(upright_rgb(source), dtype=np.float64)
    assert shown.mean() == pytest.approx(seen.mean(), abs=3)


def test_explain_of_an_unknown_task_says_the_task_is_unknown(tmp_path, capsys) -> None:
    # Before: "no nosuch model in this project yet: ... train one".
    from crisisdesk.cli import main
    from crisisdesk.core.project import Project

    table = tmp_path / "posts.csv"
    table.write_text("id,text\n1,roof gone\n", "utf-8")
    project = Project.open(tmp_path / "p", create=True)
    assert main(["import", str(project.root), str(table)]) == 0
    capsys.readouterr()
    assert main(["explain", str(project.root), "1_0", "--task", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nosuch'" in err and "damage, humanitarian, informative" in err
