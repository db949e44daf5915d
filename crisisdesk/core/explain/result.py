"""What an explanation holds: the image heat map, the words' relevance, the fusion share.

Plain data with a JSON round trip (the cache and the GUI use it); numpy arrays only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Bump when the content or meaning of a cached explanation changes.
#: 2: zero-shot's image vs text share is each modality's cosine (was rounding noise).
#: 3: MiniLM (BERT-style) words are valued by leaving each out (was gradient x input,
#:    which the embedding LayerNorm made meaningless).
#: 4: CLIP is fed the whole text's tokens, as at embedding time (a tweet whose mojibake
#:    ftfy repairs across a space was scored as another text).
FORMAT = 4


@dataclass
class WordRelevance:
    """One word of the item's text (a maximal run of non-space characters).

    ``relevance`` is signed and scaled so the strongest word of the text is +-1: positive
    words support the class, negative ones count against it. ``raw`` is the unscaled
    value: for a BERT-style text encoder (MiniLM) the drop in the class probability when
    the word is left out (0.12: without it the model is 12 points less sure); for CLIP
    the gradient x input sum over the word's tokens (its push on the class logit).
    ``tokens`` is how many encoder tokens the word became.
    """

    start: int
    end: int
    text: str
    relevance: float
    raw: float
    part: str  # "tweet" or "caption"
    tokens: int


@dataclass
class ImageRelevance:
    """Relevance of each CLIP patch, in [0, 1], and where the patch grid lies on the image.

    ``grid`` is [rows, cols] over the square the model saw. ``crop`` is that square as
    fractions (x0, y0, x1, y1) of the (EXIF-oriented) image of ``size`` (width, height):
    with CLIP's centre crop the square lies inside the image and the margins cut off
    were never seen; with padding it reaches past the image.
    """

    grid: np.ndarray
    size: tuple[int, int]
    crop: tuple[float, float, float, float]
    method: str

    def upsample(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The map at ``width`` x ``height`` (default: the image's size) as float32 [H, W]:
        bilinear over the patch centres inside the crop, NaN in the margins the model
        never saw (so a drawing can leave them uncoloured rather than claim 0)."""
        width = width or self.size[0]
        height = height or self.size[1]
        rows, cols = self.grid.shape
        x0, y0, x1, y1 = self.crop
        # Pixel centres in fractions of the image, then in patch units of the crop.
        fx = (np.arange(width) + 0.5) / width
        fy = (np.arange(height) + 0.5) / height
        u = (fx - x0) / (x1 - x0) * cols - 0.5
        v = (fy - y0) / (y1 - y0) * rows - 0.5
        out = _bilinear(self.grid.astype(np.float32), v, u)
        outside = ((fy < y0) | (fy > y1))[:, None] | ((fx < x0) | (fx > x1))[None, :]
        out[outside] = np.nan
        return out


def _bilinear(grid: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``grid`` sampled at rows ``v`` x columns ``u`` (patch units, edges clamped)."""
    rows, cols = grid.shape
    v = np.clip(v, 0, rows - 1)
    u = np.clip(u, 0, cols - 1)
    v0 = np.floor(v).astype(int)
    u0 = np.floor(u).astype(int)
    v1, u1 = np.minimum(v0 + 1, rows - 1), np.minimum(u0 + 1, cols - 1)
    dv, du = (v - v0)[:, None], (u - u0)[None, :]
    top = grid[v0][:, u0] * (1 - du) + grid[v0][:, u1] * du
    bottom = grid[v1][:, u0] * (1 - du) + grid[v1][:, u1] * du
    return (top * (1 - dv) + bottom * dv).astype(np.float32)


@dataclass
class Explanation:
    """Why a model version gave an item's class its score."""

    item: str  # the item's uid
    task: str
    class_name: str
    classes: list[str]
    probabilities: dict[str, float]  # the head's (temperature-calibrated) probabilities
    model_version: str
    text: str  # the text the head saw: the tweet, then the caption
    caption_start: int | None  # where the caption begins in ``text``; None without one
    words: list[WordRelevance]
    image: ImageRelevance | None  # None: a text-only item or a text-only head
    share: dict[str, Any]  # {"image": x, "text": 1 - x, "basis": "..."}
    fusion: dict[str, Any] = field(default_factory=dict)  # gates, lambda, attention masses
    notes: list[str] = field(default_factory=list)  # what could not be explained, and why
    image_path: str | None = None  # the image file explained (set on every look-up)
    sensitive: bool = False  # the post is marked sensitive (set on every look-up)

    def top_words(self, count: int = 5) -> list[WordRelevance]:
        """The words with the largest relevance for the class (positive ones first)."""
        return sorted(self.words, key=lambda w: -w.relevance)[:count]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        if self.image is not None:
            data["image"] = {"grid": self.image.grid.round(6).tolist(),
                             "size": list(self.image.size), "crop": list(self.image.crop),
                             "method": self.image.method}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Explanation:
        if data.get("format") != FORMAT:
            raise ValueError(f"explanation format {data.get('format')!r}, not {FORMAT}")
        data = dict(data)
        data.pop("format")
        image = data.pop("image")
        words = [WordRelevance(**w) for w in data.pop("words")]
        relevance = None if image is None else ImageRelevance(
            np.asarray(image["grid"], dtype=np.float32), tuple(image["size"]),
            tuple(image["crop"]), image["method"])
        return cls(words=words, image=relevance, **data)
