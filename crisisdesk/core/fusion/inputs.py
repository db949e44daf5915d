"""What a fusion head reads of items: their cached embeddings as tensors (zeros, and
marked absent, where an item has no usable image or text), and which labelled items are
embedded yet for the encoders a head reads (:class:`LeftOut`: what waits for the embed
job). ``data.task_data`` builds a task's training data on these; predict reads through
them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.fusion.train import Tensors
from crisisdesk.core.store import Store
from crisisdesk.core.words import plural


class EmbeddingsMissing(Exception):
    """Items that need an embedding which was never computed; the message says how."""


class MixedLengths(EncoderError, ValueError):
    """An encoder name whose stored vectors have two lengths: two models' embeddings
    under one name (an old build, a crafted or merged database), which cannot be read
    side by side. An EncoderError for predict, eval and explain, a ValueError for train:
    each front end says its message instead of a numpy broadcast traceback."""


@dataclass(frozen=True)
class LeftOut:
    """Labelled items a training leaves out because the embed job has not reached them
    yet: in a live deployment posts are imported and labelled all day, before Embed
    gets to them. Such an item has an image (status ok) or a text without an embedding
    of an encoder the head reads. An item without a usable image (text-only post, image
    missing or unreadable) is not one: it trains as image-less (docs/fusion.md); one
    whose image is fine but not embedded yet is left out, never trained as if it had
    none."""

    items: int = 0
    images: int = 0  # of them, with an image not embedded yet
    texts: int = 0  # of them, with a text not embedded yet
    image_encoder: str | None = None
    text_encoder: str | None = None

    def note(self) -> str:
        """What was left out and how to include it; "" when nothing was."""
        if not self.items:
            return ""
        what, commands = [], []
        if self.images:
            what.append(f"{plural(self.images, 'image has', 'images have')} no "
                        f"{self.image_encoder} embedding")
            commands.append(f"crisisdesk embed PROJECT --encoder {self.image_encoder} "
                            "--kind image")
        if self.texts:
            what.append(f"{plural(self.texts, 'text has', 'texts have')} no "
                        f"{self.text_encoder} embedding (a new caption makes a new text)")
            commands.append(f"crisisdesk embed PROJECT --encoder {self.text_encoder} "
                            "--kind text")
        return (f"{plural(self.items, 'labelled item')} left out, not embedded yet: "
                f"{'; '.join(what)}. Run the app's Jobs > Embed images and texts, or "
                f"{' and '.join(commands)}, then train again to include them")


#: The embedding keys of some items, by item: (image sha256s, text keys); see usable_keys.
ItemKeys = tuple[dict[int, str], dict[int, str]]


def item_tensors(store: Store, items: Sequence[int], *, image_encoder: str | None,
                 text_encoder: str | None, labels: Sequence[int] | None = None,
                 strict: bool = True, keys: ItemKeys | None = None) -> Tensors:
    """Embeddings of ``items`` as tensors (zeros where a modality is absent).

    An item without a usable image (text-only post, image missing or unreadable) has
    ``image_present`` False. An image that is fine but was never embedded, or a text
    never embedded, raises EmbeddingsMissing naming the command that fixes it; with
    ``strict`` False it is only marked absent (prediction skips what it cannot see).
    ``keys``: the items' keys already read by usable_keys for (at least) these
    encoders, so a caller that needs them too reads them once.
    """
    items = list(items)
    usable_images, texts = keys if keys is not None else usable_keys(
        store, items, image_encoder, text_encoder)
    image, image_present = _matrix(store, "image", image_encoder, items, usable_images,
                                   strict)
    text, text_present = _matrix(store, "text", text_encoder, items, texts, strict)
    return Tensors(
        image=torch.from_numpy(image), text=torch.from_numpy(text),
        image_present=torch.from_numpy(image_present),
        text_present=torch.from_numpy(text_present),
        labels=torch.tensor(list(labels) if labels is not None else [], dtype=torch.long))


#: Items whose vectors are read at once into a matrix: a dict of every item's vector
#: beside the matrix held both (a 20,000-item retrain ~60 MB where 30 were needed, and
#: what was freed stayed with the allocator).
EMBEDDING_CHUNK = 2000


def _matrix(store: Store, kind: str, encoder: str | None, items: list[int],
            keys: dict[int, str], strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``encoder`` vectors of ``items`` (by ``keys``, each item's key) as a float32
    matrix and which rows hold one, read a chunk of items at a time; [n, 1] zeros
    without an encoder. See item_tensors for ``strict``."""
    n = len(items)
    present = np.zeros(n, dtype=bool)
    if not encoder:
        return np.zeros((n, 1), dtype=np.float32), present
    matrix: np.ndarray | None = None
    lacking = 0
    for start in range(0, n, EMBEDDING_CHUNK):
        part = items[start:start + EMBEDDING_CHUNK]
        wanted = [keys[item] for item in part if item in keys]
        vectors = store.get_embeddings(kind, encoder, wanted)
        lacking += sum(1 for key in wanted if key not in vectors)
        for row, item in enumerate(part, start):
            vector = vectors.get(keys.get(item, ""))
            if vector is None:
                continue
            if matrix is None:
                matrix = np.zeros((n, len(vector)), dtype=np.float32)
            if len(vector) != matrix.shape[1]:
                _mixed(store, kind, encoder, items, keys, strict)
            matrix[row] = vector
            present[row] = True
    if lacking and strict:
        _missing(kind, encoder, lacking)
    if matrix is None:
        matrix = np.zeros((n, _dim(store, encoder)), dtype=np.float32)
    return matrix, present


def _missing(kind: str, encoder: str, lacking: int) -> None:
    """Raise EmbeddingsMissing for ``lacking`` items' images or texts, naming the fix."""
    if kind == "image":
        raise EmbeddingsMissing(
            f"{lacking} images have no {encoder} embedding yet; run: crisisdesk "
            f"embed PROJECT --encoder {encoder} --kind image")
    raise EmbeddingsMissing(
        f"{lacking} item texts have no {encoder} embedding yet (a new caption makes a "
        f"new text); run: crisisdesk embed PROJECT --encoder {encoder} --kind text")


def _mixed(store: Store, kind: str, encoder: str, items: list[int],
           keys: dict[int, str], strict: bool) -> None:
    """Vectors of two lengths under one name (rare): read them all at once to say, as a
    whole read did, what is missing (``strict``) and then which items differ."""
    every = store.get_embeddings(kind, encoder, [keys[i] for i in items if i in keys])
    lacking = sum(1 for item in items if item in keys and keys[item] not in every)
    if lacking and strict:
        _missing(kind, encoder, lacking)
    _one_length(store, kind, encoder, every, keys)  # raises MixedLengths


def item_inputs(store: Store, items: Sequence[int], *, image_encoder: str | None,
                text_encoder: str | None, keys: ItemKeys | None = None
                ) -> dict[int, tuple[str, bool]]:
    """What a head reading these encoders sees of each item now, as (fingerprint,
    complete): the fingerprint names the image (sha256) and text (key) whose embeddings
    exist; complete is False while the item has an image or a text not embedded yet
    (a new caption makes a new text), i.e. while the embed job has work left for it.
    ``keys``: as for item_tensors; a modality whose encoder is None is left out."""
    items = list(items)
    if keys is None:
        keys = usable_keys(store, items, image_encoder, text_encoder)
    # Keys read for more encoders than these (predict's, shared with item_tensors): a
    # modality the head does not read must neither show in nor hold back what it saw.
    images, texts = _read_by(keys, image_encoder, text_encoder)
    have_images, have_texts = _embedded(store, images, texts, image_encoder, text_encoder)
    out = {}
    for item in items:
        sha, key = images.get(item), texts.get(item)
        seen_image = sha if sha in have_images else ""
        seen_text = key if key in have_texts else ""
        complete = (not sha or bool(seen_image)) and (not key or bool(seen_text))
        out[item] = (f"{seen_image}|{seen_text}", complete)
    return out


def embedded_items(store: Store, items: Sequence[int], *, image_encoder: str | None,
                   text_encoder: str | None, keys: ItemKeys | None = None
                   ) -> tuple[list[int], LeftOut]:
    """The ``items`` (order kept) whose image and text, where a head reading these
    encoders has them, are all embedded, and what was left out (:class:`LeftOut`).
    ``keys``: as for item_inputs; a modality whose encoder is None is not waited for."""
    items = list(items)
    if keys is None:
        keys = usable_keys(store, items, image_encoder, text_encoder)
    images, texts = _read_by(keys, image_encoder, text_encoder)
    have_images, have_texts = _embedded(store, images, texts, image_encoder, text_encoder)
    kept, no_image, no_text = [], 0, 0
    for item in items:
        image_lacking = item in images and images[item] not in have_images
        text_lacking = item in texts and texts[item] not in have_texts
        no_image += image_lacking
        no_text += text_lacking
        if not (image_lacking or text_lacking):
            kept.append(item)
    return kept, LeftOut(len(items) - len(kept), no_image, no_text, image_encoder,
                         text_encoder)


def _read_by(keys: ItemKeys, image_encoder: str | None, text_encoder: str | None
             ) -> ItemKeys:
    """``keys`` less a modality whose encoder is None: keys read for more encoders (a
    caller's, shared) must neither show in nor hold back what a head does not read."""
    return keys[0] if image_encoder else {}, keys[1] if text_encoder else {}


def _embedded(store: Store, images: dict[int, str], texts: dict[int, str],
              image_encoder: str | None, text_encoder: str | None
              ) -> tuple[set[str], set[str]]:
    """The image sha256s and text keys among these that have an embedding of their
    encoder."""
    have_images = set(images.values()) - set(
        store.missing_keys("image", image_encoder, images.values())) if image_encoder \
        else set()
    have_texts = set(texts.values()) - set(
        store.missing_keys("text", text_encoder, texts.values())) if text_encoder else set()
    return have_images, have_texts


def usable_keys(store: Store, items: Sequence[int], image_encoder: str | None,
                text_encoder: str | None) -> ItemKeys:
    """The embedding keys a head reading these encoders looks up, by item: the sha256 of
    each usable image (status ok; text-only posts and missing or unreadable images have
    none) and the key of each item's text (the tweet, then its caption)."""
    images = {item: sha for item, (sha, status) in store.item_images(items).items()
              if sha and status == "ok"} if image_encoder else {}
    texts = {t.item: t.key for t in store.item_texts(items)} if text_encoder else {}
    return images, texts


def _dim(store: Store, encoder: str) -> int:
    dims = store.embedding_dims(encoder)
    return max(dims, key=dims.__getitem__) if dims else 1


def _one_length(store: Store, kind: str, encoder: str, vectors: dict[str, np.ndarray],
                keys: dict[int, str]) -> int:
    """The length of ``vectors`` (``encoder``'s, by key; ``keys``: each item's key), or
    the encoder's usual one when none was read; MixedLengths naming the encoder, the
    lengths stored and a few items whose vectors differ when they are not all alike."""
    lengths: dict[int, int] = {}
    for vector in vectors.values():
        lengths[len(vector)] = lengths.get(len(vector), 0) + 1
    if not lengths:
        return _dim(store, encoder)
    if len(lengths) == 1:
        return next(iter(lengths))
    usual = max(lengths, key=lengths.__getitem__)
    odd = sorted(item for item, key in keys.items()
                 if key in vectors and len(vectors[key]) != usual)
    names = list(store.item_uids_of(odd[:3]).values())
    held = ", ".join(f"{plural(count, 'embedding')} of dimension {dim}"
                     for dim, count in sorted(store.embedding_dims(encoder).items()))
    raise MixedLengths(
        f"the {kind} embeddings stored under encoder {encoder} have different lengths "
        f"({held}): vectors of two models under one name (an old build or a merged "
        f"database); here {plural(len(odd), 'item')} read vectors of another length than "
        f"the others ({', '.join(names)}{', ...' if len(odd) > len(names) else ''}). They "
        "cannot be read together: embed the project under a new encoder name (crisisdesk "
        "models add NAME PATH, then crisisdesk embed PROJECT --encoder NAME) and train "
        "on that")
