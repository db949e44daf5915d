"""Explanations must explain the prediction the analyst sees: the same inputs, so the
same probabilities and the same predicted class (found exercising ``crisisdesk explain``
and the overlay's core on a project as it grows: texts embedded after the images, a
caption added after the predictions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_explain import posts_with_a_picture, tiny  # noqa: F401 (fixture)

from crisisdesk.cli import main
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.project import Project

TWEET = "Bridge collapsed after the earthquake, several houses destroyed"


@pytest.fixture
def images_only(tmp_path: Path, tiny: dict, monkeypatch) -> Iterator[Project]:  # noqa: F811
    """One post with a picture; tiny-clip registered; only the images embedded and the
    zero-shot start's predictions made from them."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    forget_loaded()
    posts = posts_with_a_picture(tmp_path / "src", [("1", TWEET, "1.png")])
    assert main(["import", str(tmp_path / "p"), str(posts)]) == 0
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    project = Project.open(tmp_path / "p")
    assert main(["embed", str(project.root), "--encoder", "tiny-clip", "--device", "cpu",
                 "--kind", "image"]) == 0
    assert main(["predict", str(project.root), "--task", "informative"]) == 0
    yield project
    forget_loaded()


def _shown(project: Project, task: str) -> dict[str, float]:
    """The prediction the app's task box and the queues show for item 1 (read from
    float16 embeddings: the explanation's fresh vectors differ in the 4th digit)."""
    with project.open_store() as store:
        version = store.active_model_version(task)
        return store.predictions_of(version["id"], [1])[1]


def test_zero_shot_explains_the_text_once_its_embeddings_are_there(
        images_only: Project) -> None:
    # Zero-shot scoring reads the texts once CLIP's text embeddings exist. The explainer
    # (kept per process) and the cache file were made while none did: after `embed
    # --kind text` and `predict` the prediction read image + text ("informative" here)
    # but the explanation still scored the image alone, said "no text for this item" and
    # explained its own top class, not the predicted one.
    before = explain_item(images_only, "1_0", "informative", device="cpu")
    assert before.share["basis"] == "no text for this item"
    assert before.probabilities == pytest.approx(_shown(images_only, "informative"),
                                                 abs=2e-3)
    assert main(["embed", str(images_only.root), "--encoder", "tiny-clip", "--device", "cpu",
                 "--kind", "text"]) == 0
    assert main(["predict", str(images_only.root), "--task", "informative"]) == 0
    shown = _shown(images_only, "informative")
    assert shown != pytest.approx(before.probabilities, abs=1e-3)  # the text counts
    for use_cache in (True, False):  # the cache file, then the explainer kept in memory
        after = explain_item(images_only, "1_0", "informative", device="cpu",
                             use_cache=use_cache)
        assert after.probabilities == pytest.approx(shown, abs=2e-3)
        assert after.class_name == max(shown, key=shown.__getitem__)
        assert after.share["basis"] != "no text for this item"
        assert {w.text for w in after.words if w.tokens} >= {"Bridge", "destroyed"}


def test_a_caption_not_embedded_yet_is_not_what_the_shown_prediction_read(
        images_only: Project, capsys) -> None:
    # A caption job after the predictions: the item's text becomes tweet + caption, but
    # until that text is embedded the prediction stands on the tweet it read (predict
    # keeps it, fusion/predict.py). The explanation encoded tweet + caption afresh: other
    # probabilities, often another "predicted" class than the one shown, and green and red
    # words on a caption the prediction never read.
    assert main(["embed", str(images_only.root), "--encoder", "tiny-clip", "--device", "cpu",
                 "--kind", "text"]) == 0
    assert main(["predict", str(images_only.root), "--task", "informative"]) == 0
    shown = _shown(images_only, "informative")
    with images_only.open_store() as store:
        sha = store.item_images([1])[1][0]
        store.add_caption(sha, TWEET, "test-captioner", "v1",
                          "A quiet beach with people playing volleyball at sunset.")
    assert main(["predict", str(images_only.root), "--task", "informative"]) == 0
    assert _shown(images_only, "informative") == shown  # the prediction stands
    result = explain_item(images_only, "1_0", "informative", device="cpu")
    assert result.text == TWEET and result.caption_start is None
    assert result.probabilities == pytest.approx(shown, abs=2e-3)
    assert all(w.part == "tweet" for w in result.words)
    assert any("not embedded yet" in note for note in result.notes)
    # Once embedded and predicted, the caption is read and explained.
    assert main(["embed", str(images_only.root), "--encoder", "tiny-clip", "--device", "cpu",
                 "--kind", "text"]) == 0
    assert main(["predict", str(images_only.root), "--task", "informative"]) == 0
    result = explain_item(images_only, "1_0", "informative", device="cpu")
    assert result.caption_start == len(TWEET) + 1 and not result.notes
    assert result.probabilities == pytest.approx(_shown(images_only, "informative"),
                                                 abs=2e-3)
