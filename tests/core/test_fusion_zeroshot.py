"""CLIP zero-shot start: shipped class prompts, class vectors, probabilities."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from tiny_clip import make_tiny_clip  # tests/ is on sys.path (conftest.py)

from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.fusion.zeroshot import (
    class_prompt_vectors,
    class_prompts,
    zero_shot_predictions,
    zero_shot_probs,
)
from crisisdesk.core.resources import resource
from crisisdesk.core.schemes import builtin_schemes, scheme_for

TASKS = sorted(builtin_schemes())


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> ClipEncoder:
    tiny: dict[str, Any] = make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
    return ClipEncoder.load("tiny", arch=tiny["arch"], route="file", source=tiny["file"])


@pytest.fixture(scope="module")
def class_vectors(encoder: ClipEncoder) -> dict[str, np.ndarray]:
    """Each task's class vectors, computed once."""
    return {task: class_prompt_vectors(encoder, task) for task in TASKS}


# -- shipped prompts ---------------------------------------------------------------------

def test_every_shipped_task_has_a_prompt_file() -> None:
    shipped = sorted(entry.name.removesuffix(".json")
                     for entry in resource("zero_shot_prompts").iterdir()
                     if entry.name.endswith(".json"))
    assert TASKS == ["damage", "humanitarian", "informative"]
    assert shipped == TASKS


@pytest.mark.parametrize("task", TASKS)
def test_every_class_has_several_distinct_prompts(task: str) -> None:
    data = json.loads(resource("zero_shot_prompts", f"{task}.json").read_text("utf-8"))
    assert data["task"] == task
    prompts = class_prompts(task)
    assert list(prompts) == list(scheme_for(task).classes)  # the scheme's order
    everything = [p for ps in prompts.values() for p in ps]
    assert len(everything) == len(set(everything)), "a prompt is used twice"
    for cls, texts in prompts.items():
        assert 4 <= len(texts) <= 8, cls
        assert all(text.strip() == text and text for text in texts), cls


def test_prompts_that_do_not_match_the_scheme_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core.fusion import zeroshot

    broken = {"task": "damage", "prompts": {"severe_damage": ["a ruin"], "flooding": ["x"]}}
    monkeypatch.setattr(zeroshot, "read_json", lambda *parts: broken)
    with pytest.raises(ValueError, match=r"without prompts \['mild_damage', "
                                         r"'little_or_no_damage'\], not classes \['flooding'\]"):
        class_prompts("damage")
    with pytest.raises(KeyError, match="unknown task"):
        class_prompts("earthquakes")


# -- class vectors -----------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_class_vectors_follow_the_scheme(encoder: ClipEncoder,
                                         class_vectors: dict[str, np.ndarray],
                                         task: str) -> None:
    vectors = class_vectors[task]
    classes = scheme_for(task).classes
    assert vectors.shape == (len(classes), encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    prompts = class_prompts(task)
    encoded = encoder.encode_texts([p for cls in classes for p in prompts[cls]]).vectors
    start = 0
    for k, cls in enumerate(classes):  # row k: the mean of class k's own prompts
        mean = encoded[start:start + len(prompts[cls])].mean(axis=0)
        start += len(prompts[cls])
        np.testing.assert_allclose(vectors[k], mean / np.linalg.norm(mean), atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])  # distinct classes, distinct vectors


# -- probabilities -----------------------------------------------------------------------

def test_probabilities_of_images_and_texts(encoder: ClipEncoder,
                                           class_vectors: dict[str, np.ndarray]) -> None:
    prompts = class_vectors["humanitarian"]
    texts = ["a flooded street with cars", "volunteers handing out water", "", "hello"]
    text_vectors = encoder.encode_texts(texts).vectors
    rng = np.random.default_rng(0)
    image_vectors = rng.normal(size=(4, encoder.dim)).astype(np.float32)
    for images, txt in ((image_vectors, text_vectors), (image_vectors, None),
                        (None, text_vectors)):
        probs = zero_shot_probs(images, txt, prompts)
        assert probs.shape == (4, 5)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
        assert (probs >= 0).all()


def test_a_class_prompt_vector_as_image_gets_that_class(
        class_vectors: dict[str, np.ndarray]) -> None:
    for task in TASKS:
        prompts = class_vectors[task]
        probs = zero_shot_probs(prompts * 3.0, None, prompts)  # scale does not matter
        assert probs.argmax(axis=1).tolist() == list(range(len(prompts)))
        # As the text of a post, likewise.
        probs = zero_shot_probs(None, prompts, prompts)
        assert probs.argmax(axis=1).tolist() == list(range(len(prompts)))


def test_two_modalities_average_their_similarities() -> None:
    prompts = np.eye(3, dtype=np.float32)
    image = np.array([[1.0, 0.0, 0.0]])
    text = np.array([[0.0, 1.0, 0.0]])
    probs = zero_shot_probs(image, text, prompts, logit_scale=10.0)
    # similarities: image (1, 0, 0), text (0, 1, 0) -> mean (0.5, 0.5, 0) -> x10 -> softmax
    expected = np.exp([5.0, 5.0, 0.0]) / np.exp([5.0, 5.0, 0.0]).sum()
    np.testing.assert_allclose(probs[0], expected, rtol=1e-9)
    # Unnormalised inputs are compared by cosine.
    np.testing.assert_allclose(zero_shot_probs(image * 7, text * 0.1, prompts * 2,
                                               logit_scale=10.0), probs, rtol=1e-9)


def test_items_without_a_modality(encoder: ClipEncoder,
                                  class_vectors: dict[str, np.ndarray]) -> None:
    prompts = class_vectors["damage"]
    image = np.stack([prompts[0], np.zeros(encoder.dim), np.zeros(encoder.dim),
                      np.full(encoder.dim, np.nan)]).astype(np.float32)
    text = np.stack([np.zeros(encoder.dim), prompts[2], np.zeros(encoder.dim),
                     np.zeros(encoder.dim)]).astype(np.float32)
    probs = zero_shot_probs(image, text, prompts)
    assert probs[0].argmax() == 0  # image only
    assert probs[1].argmax() == 2  # text only
    np.testing.assert_allclose(probs[2:], 1 / 3)  # neither (zeros, NaNs): uniform
    np.testing.assert_allclose(probs[0], zero_shot_probs(image[:1], None, prompts)[0])


def test_bad_shapes_are_refused() -> None:
    prompts = np.eye(3)
    with pytest.raises(ValueError, match="give image vectors, text vectors or both"):
        zero_shot_probs(None, None, prompts)
    with pytest.raises(ValueError, match=r"text vectors must be \[2, 3\]"):
        zero_shot_probs(np.ones((2, 3)), np.ones((3, 3)), prompts)
    with pytest.raises(ValueError, match=r"image vectors must be \[2, 3\]"):
        zero_shot_probs(np.ones((2, 4)), None, prompts)


def test_probabilities_become_store_predictions() -> None:
    probs = zero_shot_probs(np.array([[0.0, 1.0], [1.0, 0.0]]), None, np.eye(2))
    predictions = zero_shot_predictions("informative", [11, 12], probs)
    assert [p.item for p in predictions] == [11, 12]
    assert [p.label for p in predictions] == ["not_informative", "informative"]
    assert list(predictions[0].probs) == ["informative", "not_informative"]
    assert predictions[0].task == "informative"
    with pytest.raises(ValueError, match=r"probs must be \[1, 2\]"):
        zero_shot_predictions("informative", [11], probs)
