"""A task's items as tensors: cached embeddings, which modalities are present, labels,
and the splits that train, early-stop and score a head.

The split that early-stops training is never the split that is scored: ``val_from
"train"`` holds out a stratified slice of train for early stopping and scores on dev;
``val_from "dev"`` early-stops on dev and scores on test. A project without imported
splits gets a stratified train/dev/test split with a fixed seed, stored, so the test
holdout stays frozen across retrains; twins (the same text or image) share a split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from crisisdesk.core.fusion.train import Tensors
from crisisdesk.core.store import Store
from crisisdesk.core.words import plural

VAL_FROM = ("train", "dev")
HOLDOUT_SEED = 20240601


class EmbeddingsMissing(Exception):
    """Items that need an embedding which was never computed; the message says how."""


class NotEnoughLabels(ValueError):
    """A task whose labelled items cannot train the head asked for: nothing to train or
    to early-stop on, or no image for a head that reads images. The message says what
    the labelled items hold and what to do. A ValueError, so callers that catch bad input
    still do; a retrain catches it alone to skip just that task."""


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


@dataclass
class TaskData:
    """Labelled items of one task, ready for training and scoring."""

    task: str
    classes: tuple[str, ...]
    items: list[int]
    splits: list[str | None]
    tensors: Tensors
    image_encoder: str | None
    text_encoder: str | None
    # Labelled items not among ``items`` because the embed job has not reached them yet.
    left_out: LeftOut = LeftOut()

    def indices(self, split: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.splits) if s == split], dtype=np.int64)


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
    n = len(items)
    image = np.zeros((n, 1), dtype=np.float32)
    image_present = np.zeros(n, dtype=bool)
    usable_images, texts = keys if keys is not None else usable_keys(
        store, items, image_encoder, text_encoder)
    if image_encoder:
        wanted = list(usable_images.values())
        vectors = store.get_embeddings("image", image_encoder, wanted)
        lacking = sum(1 for sha in wanted if sha not in vectors)
        if lacking and strict:
            raise EmbeddingsMissing(
                f"{lacking} images have no {image_encoder} embedding yet; run: crisisdesk "
                f"embed PROJECT --encoder {image_encoder} --kind image")
        dim = len(next(iter(vectors.values()))) if vectors else _dim(store, image_encoder)
        image = np.zeros((n, dim), dtype=np.float32)
        for row, item in enumerate(items):
            sha = usable_images.get(item)
            if sha in vectors:
                image[row] = vectors[sha]
                image_present[row] = True
    text = np.zeros((n, 1), dtype=np.float32)
    text_present = np.zeros(n, dtype=bool)
    if text_encoder:
        vectors = store.get_embeddings("text", text_encoder, list(texts.values()))
        lacking = sum(1 for key in texts.values() if key not in vectors)
        if lacking and strict:
            raise EmbeddingsMissing(
                f"{lacking} item texts have no {text_encoder} embedding yet (a new caption "
                f"makes a new text); run: crisisdesk embed PROJECT --encoder {text_encoder}"
                " --kind text")
        dim = len(next(iter(vectors.values()))) if vectors else _dim(store, text_encoder)
        text = np.zeros((n, dim), dtype=np.float32)
        for row, item in enumerate(items):
            if texts[item] in vectors:
                text[row] = vectors[texts[item]]
                text_present[row] = True
    return Tensors(
        image=torch.from_numpy(image), text=torch.from_numpy(text),
        image_present=torch.from_numpy(image_present),
        text_present=torch.from_numpy(text_present),
        labels=torch.tensor(list(labels) if labels is not None else [], dtype=torch.long))


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


def task_data(store: Store, task: str, *, image_encoder: str | None,
              text_encoder: str | None, variant: str | None = None) -> TaskData:
    """Every item labelled for ``task`` whose inputs the head reads are embedded, with
    its embeddings and split; ``left_out`` says what waits for the embed job (trained on
    as soon as it is embedded, as if labelled then). ``variant``: a one-modality head
    (text_only, image_only) does not wait for the other modality's embeddings.
    NotEnoughLabels naming the task when none is embedded yet."""
    scheme = store.scheme(task)  # a project's own task trains the same way
    rows = [(item, label, split) for item, label, split in store.labelled_items(task)
            if label in scheme.classes]
    if not rows:
        raise ValueError(f"no item has a {task} label yet: label some, or import labels")
    keys = usable_keys(store, [item for item, _, _ in rows], image_encoder, text_encoder)
    kept, left_out = embedded_items(
        store, [item for item, _, _ in rows], keys=keys,
        image_encoder=None if variant == "text_only" else image_encoder,
        text_encoder=None if variant == "image_only" else text_encoder)
    if not kept:
        raise NotEnoughLabels(f"{task}: not enough labelled items to train: "
                              f"{left_out.note()}")
    keep = set(kept)
    rows = [row for row in rows if row[0] in keep]
    items = [item for item, _, _ in rows]
    labels = [scheme.classes.index(label) for _, label, _ in rows]
    keys = ({i: sha for i, sha in keys[0].items() if i in keep},
            {i: key for i, key in keys[1].items() if i in keep})
    # Not strict: what the head reads is embedded now; a modality it does not read (a
    # text_only head given an image encoder) is only marked absent where it lacks one.
    tensors = item_tensors(store, items, image_encoder=image_encoder,
                           text_encoder=text_encoder, labels=labels, strict=False, keys=keys)
    return TaskData(task, scheme.classes, items, [split for _, _, split in rows], tensors,
                    image_encoder, text_encoder, left_out)


def stratified_pick(labels: np.ndarray, fraction: float, rng: np.random.Generator
                    ) -> np.ndarray:
    """Positions of a ``fraction`` of each class (at least one where a class has two)."""
    picked = []
    for cls in np.unique(labels):
        where = np.flatnonzero(labels == cls)
        rng.shuffle(where)
        take = int(round(len(where) * fraction))
        if take == 0 and len(where) >= 2:
            take = 1
        picked.extend(where[:take].tolist())
    return np.array(sorted(picked), dtype=np.int64)


def twin_groups(store: Store, items: Sequence[int]) -> list[int]:
    """For each of ``items``, the position of the first item of its group of twins:
    items that share an input a head reads (the exact text it encodes, or the same
    image). Retweets of one text, the photos of one post (without captions) and a
    reposted picture are twins: one in train and one in the holdout would score a head
    on an input it trained on."""
    items = list(items)
    parent = list(range(len(items)))

    def root(pos: int) -> int:
        while parent[pos] != pos:
            parent[pos] = parent[parent[pos]]
            pos = parent[pos]
        return pos

    texts = {t.item: t.key for t in store.item_texts(items) if t.text.strip()}
    images = {item: sha for item, (sha, _) in store.item_images(items).items() if sha}
    first: dict[tuple[str, str], int] = {}
    for pos, item in enumerate(items):
        for kind, value in (("text", texts.get(item)), ("image", images.get(item))):
            if value is None:
                continue
            if (kind, value) in first:
                # The lower position is the root, so a group is named by its first item.
                a, b = root(pos), root(first[kind, value])
                parent[max(a, b)] = min(a, b)
            else:
                first[kind, value] = pos
    return [root(pos) for pos in range(len(items))]


def ensure_splits(store: Store, data: TaskData) -> TaskData:
    """Give a task without any split a stratified 70/15/15 train/dev/test split, stored so
    the test holdout stays the same at every retrain. Labelled items that came after the
    split (new corrections) train, and get the split ``train`` stored: left without one,
    a later import naming a split for such an item (a colleague's export of the same
    posts) would put an item a head trained on into the frozen holdout.

    Twins (:func:`twin_groups`) are drawn together, and a later label on a twin of a
    held-out item joins its holdout split (test before dev) instead of training."""
    if any(s is not None for s in data.splits):
        wanted: dict[int, str] = {}
        if None in data.splits:
            groups = twin_groups(store, data.items)
            held: dict[int, str] = {}
            for group, split in zip(groups, data.splits, strict=True):
                if split == "test" or (split == "dev" and group not in held):
                    held[group] = split
            wanted = {item: held.get(group, "train") for item, group, s in
                      zip(data.items, groups, data.splits, strict=True) if s is None}
    else:
        labels = data.tensors.labels.numpy()
        groups = twin_groups(store, data.items)
        # One draw per group, stratified by its first item's label: without twins, the
        # same draw item by item as before.
        firsts = np.array(sorted(set(groups)), dtype=np.int64)
        rng = np.random.default_rng(HOLDOUT_SEED)
        test = set(firsts[stratified_pick(labels[firsts], 0.15, rng)].tolist())
        rest = np.array([g for g in firsts if g not in test], dtype=np.int64)
        dev = set(rest[stratified_pick(labels[rest], 0.15 / 0.85, rng)].tolist())
        wanted = {item: "test" if g in test else "dev" if g in dev else "train"
                  for item, g in zip(data.items, groups, strict=True)}
    data.splits = [s or wanted.get(item) for item, s in
                   zip(data.items, data.splits, strict=True)]
    if wanted:
        with store.transaction():
            taken = {item for item, split in wanted.items()
                     if not store.set_split(item, data.task, split)}
        if taken:
            # The first split stored wins (set_split): one stored since ``data`` was read
            # (an import beside this training) is the one the item trains or is scored by.
            now = {item: s for item, _, s in store.labelled_items(data.task)}
            data.splits = [now.get(item) if item in taken else s
                           for item, s in zip(data.items, data.splits, strict=True)]
    data.splits = [s or "train" for s in data.splits]
    return data


def training_splits(data: TaskData, val_from: str, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(train, early-stopping, scored) positions and the scored split's name."""
    if val_from not in VAL_FROM:
        raise ValueError(f"--val-from must be one of {VAL_FROM}, not {val_from!r}")
    train = data.indices("train")
    _check_two_classes(data, train)
    if val_from == "train":
        labels = data.tensors.labels.numpy()[train]
        held = stratified_pick(labels, 0.1, np.random.default_rng(seed))
        val = train[held]
        train = np.setdiff1d(train, val)
        scored, name = data.indices("dev"), "dev"
    else:
        val, scored, name = data.indices("dev"), data.indices("test"), "test"
    if len(train) == 0 or len(val) == 0:
        counts = ", ".join(f"{split} {len(data.indices(split)):,}"
                           for split in ("train", "dev", "test"))
        hint = ("import a train split, or label items in the app (new labels train)"
                if len(train) == 0 else
                "label more items" if val_from == "train" else
                "import a dev split, or use --val-from train")
        raise NotEnoughLabels(f"{data.task}: not enough labelled items to train "
                              f"({len(train)} to train on, {len(val)} to early-stop on; "
                              f"labelled items by split: {counts}): {hint}")
    return train, val, scored, name


def _check_two_classes(data: TaskData, train: np.ndarray) -> None:
    """NotEnoughLabels when the items to train on hold fewer than two classes: a head
    trained on one class predicts it for every item, yet scores 100% on a holdout of that
    class alone, and would become the task's active version."""
    labels = data.tensors.labels.numpy()
    present = sorted(set(labels[train].tolist()))
    if len(present) != 1:
        return  # none: training_splits says there is nothing to train on
    others = [c for k, c in enumerate(data.classes) if k != present[0]]
    held = sum(1 for k, s in zip(labels.tolist(), data.splits, strict=True)
               if s != "train" and k != present[0])
    where = f" (the {held:,} labels of other classes are all in dev or test)" if held else ""
    raise NotEnoughLabels(
        f"{data.task}: all {len(train):,} labelled items to train on are "
        f"{data.classes[present[0]]}{where}; a head needs at least two classes to learn: "
        f"label items of another class ({', '.join(others)}), then train again")
