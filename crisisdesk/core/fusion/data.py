"""A task's labelled items as training data: their tensors (read through
:mod:`crisisdesk.core.fusion.inputs`: cached embeddings, which modalities are present),
labels, and the splits that train, early-stop and score a head.

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

from crisisdesk.core.fusion.inputs import (  # noqa: F401 - callers import them from here
    EmbeddingsMissing,
    ItemKeys,
    LeftOut,
    embedded_items,
    item_inputs,
    item_tensors,
    usable_keys,
)
from crisisdesk.core.fusion.train import Tensors
from crisisdesk.core.store import Store

VAL_FROM = ("train", "dev")
HOLDOUT_SEED = 20240601


class NotEnoughLabels(ValueError):
    """A task whose labelled items cannot train the head asked for: nothing to train or
    to early-stop on, or no image for a head that reads images. The message says what
    the labelled items hold and what to do. A ValueError, so callers that catch bad input
    still do; a retrain catches it alone to skip just that task."""


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
