"""Zero-shot start: class probabilities from CLIP alone, before any head is trained.

CLIP zero-shot classification (Radford et al. 2021, *Learning Transferable Visual Models
From Natural Language Supervision*, sections 3.1.2-3.1.4): each class is described by
several prompts (``resources/zero_shot_prompts/<task>.json``); the CLIP text tower encodes
them, and a class's vector is the re-normalised mean of its prompts' vectors ("prompt
ensembling"). An item's logits are the cosine similarities of its embedding with the class
vectors times CLIP's logit scale (100), and a softmax makes them probabilities.

Items carry an image embedding, a text embedding, or both. Both sit in CLIP's joint space,
so both are compared with the same class vectors; when both are present the two similarity
rows are averaged before the scale and softmax. An item with neither gets uniform
probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from crisisdesk.core.encoders.base import l2_normalise
from crisisdesk.core.resources import read_json, resource
from crisisdesk.core.schemes import scheme_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crisisdesk.core.encoders.clip import ClipEncoder
    from crisisdesk.core.store.models import Prediction

#: CLIP's learned logit scale at the end of training (exp of the clamped 4.6052).
CLIP_LOGIT_SCALE = 100.0


def class_prompts(task: str) -> dict[str, list[str]]:
    """The shipped prompts of each class of ``task``, in the label scheme's class order.

    Raises ValueError when the prompt file and the scheme disagree on the classes.
    """
    scheme = scheme_for(task)
    if not resource("zero_shot_prompts", f"{task}.json").is_file():
        raise ValueError(f"no zero-shot prompts are shipped for task {task!r}")
    data = read_json("zero_shot_prompts", f"{task}.json")
    prompts = data.get("prompts", {})
    missing = [c for c in scheme.classes if not prompts.get(c)]
    extra = sorted(set(prompts) - set(scheme.classes))
    if missing or extra:
        raise ValueError(f"zero-shot prompts of {task!r} do not match its classes: "
                         f"without prompts {missing}, not classes {extra}")
    return {c: [str(p) for p in prompts[c]] for c in scheme.classes}


def class_prompt_vectors(encoder: ClipEncoder, task: str) -> np.ndarray:
    """Class vectors [n_classes, dim] (float32, unit length) in the scheme's class order:
    each the mean of its prompts' CLIP text vectors, re-normalised."""
    prompts = class_prompts(task)
    texts = [p for ps in prompts.values() for p in ps]
    owners = np.repeat(np.arange(len(prompts)), [len(ps) for ps in prompts.values()])
    vectors = np.asarray(encoder.encode_texts(texts).vectors, dtype=np.float64)
    sums = np.zeros((len(prompts), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owners, vectors)
    return l2_normalise(sums).astype(np.float32)


def _similarities(vectors: np.ndarray | None, classes: np.ndarray, n: int, what: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(cosine similarities [n, K], present [n]) of one modality; a missing modality or a
    row that is all zeros or not finite counts as absent."""
    if vectors is None:
        return np.zeros((n, len(classes))), np.zeros(n, dtype=bool)
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != n or vectors.shape[1] != classes.shape[1]:
        raise ValueError(f"{what} vectors must be [{n}, {classes.shape[1]}], "
                         f"not {list(vectors.shape)}")
    present = np.isfinite(vectors).all(axis=1) & (np.abs(vectors).sum(axis=1) > 0)
    clean = np.where(present[:, None], vectors, 0.0)
    return l2_normalise(clean) @ classes.T, present


def zero_shot_probs(image_vectors: np.ndarray | None, text_vectors: np.ndarray | None,
                    prompt_vectors: np.ndarray, *, logit_scale: float = CLIP_LOGIT_SCALE
                    ) -> np.ndarray:
    """CLIP zero-shot probabilities [n, n_classes] (float64; rows sum to 1).

    ``image_vectors`` / ``text_vectors`` are [n, dim] CLIP embeddings (either may be None
    when no item has that modality; a row of zeros or NaNs marks one item without it).
    ``prompt_vectors`` comes from :func:`class_prompt_vectors` with the same CLIP model.
    Logits are ``logit_scale * cos(item, class)``, the two modalities' cosines averaged
    where an item has both; an item with neither gets uniform probabilities.
    """
    classes = l2_normalise(np.asarray(prompt_vectors, dtype=np.float64))
    if classes.ndim != 2 or len(classes) == 0:
        raise ValueError(f"prompt vectors must be [n_classes, dim], not {classes.shape}")
    if image_vectors is None and text_vectors is None:
        raise ValueError("give image vectors, text vectors or both")
    n = len(image_vectors if image_vectors is not None else text_vectors)
    image_sim, has_image = _similarities(image_vectors, classes, n, "image")
    text_sim, has_text = _similarities(text_vectors, classes, n, "text")
    count = has_image.astype(np.float64) + has_text
    sim = (image_sim * has_image[:, None] + text_sim * has_text[:, None]) \
        / np.maximum(count, 1.0)[:, None]  # neither: all zeros, a uniform softmax
    logits = logit_scale * sim
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def zero_shot_predictions(task: str, items: Sequence[int], probs: np.ndarray
                          ) -> list[Prediction]:
    """Rows of :func:`zero_shot_probs` as store predictions (class order of the scheme)."""
    from crisisdesk.core.store.models import Prediction

    classes = scheme_for(task).classes
    probs = np.asarray(probs)
    if probs.shape != (len(items), len(classes)):
        raise ValueError(f"probs must be [{len(items)}, {len(classes)}], "
                         f"not {list(probs.shape)}")
    return [Prediction(int(item), task, dict(zip(classes, map(float, row), strict=True)))
            for item, row in zip(items, probs, strict=True)]
