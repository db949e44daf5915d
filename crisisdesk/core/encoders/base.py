"""What every encoder offers, and the long-text windowing they share.

An encoder is frozen and in eval mode. ``load_image`` runs in worker threads (decode,
EXIF orientation, preprocessing; no model), ``encode_images`` / ``encode_texts`` run the
model on the encoder's device. Vectors come back as float32 numpy arrays, L2-normalised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisisdesk.core.words import plural


class EncoderError(Exception):
    """An encoder that cannot be loaded or used; the message says what to do."""


def another_model(name: str, dim: int, held: dict[int, int]) -> str | None:
    """Why the model now registered as ``name`` (making ``dim``-d vectors) is not the one
    whose embeddings the project holds under that name (``held``: dimension -> count),
    or None when their lengths agree. ``models add`` may have pointed the name at another
    model since the embed: its vectors beside or against the stored ones mix two models
    under one name. The caller adds what to do."""
    others = {d: n for d, n in held.items() if d != dim}
    if not others:
        return None
    listed = ", ".join(f"{plural(n, 'embedding')} of dimension {d}"
                       for d, n in sorted(others.items()))
    return (f"the model now named {name} makes {dim}-d vectors, but this project holds "
            f"{listed} from an earlier model of that name: it is another model")


@dataclass
class TextBatch:
    """Encoded texts: one vector per text, and how many texts needed several windows."""

    vectors: np.ndarray
    windowed: int


def token_windows(tokens: Sequence[int], size: int, overlap: int) -> list[list[int]]:
    """Split content tokens into windows of at most ``size`` that overlap by ``overlap``.

    A text that fits is one window. The last window ends at the last token, so every
    token is in at least one window and none is cut off.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"bad window: size {size}, overlap {overlap}")
    tokens = list(tokens)
    if len(tokens) <= size:
        return [tokens]
    step = size - overlap
    starts = list(range(0, len(tokens) - size, step)) + [len(tokens) - size]
    return [tokens[s:s + size] for s in starts]


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def pool_windows(window_vectors: np.ndarray, owners: Sequence[int], count: int) -> np.ndarray:
    """Mean of each text's window vectors (``owners[i]`` = text of window i), normalised."""
    dim = window_vectors.shape[1]
    sums = np.zeros((count, dim), dtype=np.float64)
    np.add.at(sums, np.asarray(owners), window_vectors.astype(np.float64))
    return l2_normalise(sums).astype(np.float32)


class Encoder(ABC):
    """A frozen encoder of images and/or texts."""

    #: Cache name, e.g. ``ViT-B-32-quickgelu/openai``: the embeddings' ``encoder`` key.
    name: str
    #: Length of the vectors.
    dim: int
    #: ``cpu``, ``cuda``, ``cuda:1``...: where the model really runs.
    device: str
    #: Which kinds this encoder handles: ``{"image", "text"}`` or ``{"text"}``.
    kinds: frozenset[str]

    def load_image(self, path: Path) -> object:
        """Decode and preprocess one image file for ``encode_images`` (thread-safe).

        Raises OSError / ValueError (with a reason) for a file that cannot be used.
        """
        raise EncoderError(f"{self.name} does not encode images")

    def image_loader(self) -> Callable[[Path], object]:
        """``load_image`` as a callable that worker processes can run (override with a
        small picklable object when the encoder itself is heavy)."""
        return self.load_image

    def encode_images(self, images: Sequence[object], *, patches: bool = False
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """Vectors of preprocessed images, and their patch tokens when asked for
        (shape [n, patches, dim]) or None."""
        raise EncoderError(f"{self.name} does not encode images")

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> TextBatch:
        """Vectors of texts; texts longer than the context are windowed and pooled."""
