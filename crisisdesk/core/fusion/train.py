"""Training a :class:`FusionHead` on cached embeddings: the paper's recipe, made safe.

The paper trains with SGD, learning rate 1e-3, batch 32, up to 50 epochs, cross-entropy,
and early stopping once the validation loss has not improved for 5 epochs; those are the
defaults of :class:`Recipe`. ``fit`` (or ``iter_fit``, the same as a generator of
epoch logs, for jobs) is deterministic for a given ``Recipe.seed``: the
weights are initialised, dropout drawn and batches shuffled from that seed only (the
caller's global RNG state is left as it was). It returns the weights of the epoch with
the lowest validation loss. Everything runs on whole tensors (mini-batches are index
slices), so there is no per-item Python work.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from crisisdesk.core.fusion.model import FusionConfig, FusionHead

OPTIMIZERS = ("sgd", "adamw")


@dataclass
class Recipe:
    """How to train (defaults: the paper's recipe)."""

    optimizer: str = "sgd"  # "sgd" (with momentum) or "adamw"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    batch_size: int = 32
    max_epochs: int = 50
    patience: int = 5  # epochs without a better validation loss before stopping
    class_weighted: bool = False  # cross-entropy weighted by inverse train class counts
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of "
                             f"{OPTIMIZERS}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be at least 1")


@dataclass
class Tensors:
    """Items as tensors: embeddings, which modalities are present, labels."""

    image: torch.Tensor  # [N, image_dim] float32 (zeros where absent)
    text: torch.Tensor  # [N, text_dim]
    image_present: torch.Tensor  # [N] bool
    text_present: torch.Tensor  # [N] bool
    labels: torch.Tensor  # [N] long (may be empty for prediction-only use)

    def __post_init__(self) -> None:
        n = self.image.shape[0]
        for name in ("text", "image_present", "text_present"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} rows, image {n}")
        if self.labels.numel() not in (0, n):
            raise ValueError(f"labels has {self.labels.numel()} rows, image {n}")

    def __len__(self) -> int:
        return self.image.shape[0]

    @property
    def has_labels(self) -> bool:
        return self.labels.numel() == len(self) and len(self) > 0

    def subset(self, index) -> Tensors:
        """The items at ``index`` (indices, a boolean mask or a slice)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index)
            if index.dtype != torch.bool:
                index = index.long()
        labels = self.labels[index] if self.labels.numel() else self.labels
        return Tensors(self.image[index], self.text[index], self.image_present[index],
                       self.text_present[index], labels)


@dataclass
class EpochLog:
    epoch: int  # 1-based
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float


@dataclass
class FitResult:
    model: FusionHead  # weights of the best validation-loss epoch, in eval mode
    best_epoch: int
    epochs_run: int
    stopped_early: bool  # stopped by patience before max_epochs
    history: list[EpochLog] = field(default_factory=list)
    cancelled: bool = False  # on_epoch returned False


def class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``N / (C * count_c)`` (a class never seen counts once)."""
    counts = torch.bincount(labels, minlength=n_classes).clamp(min=1).float()
    return labels.numel() / (n_classes * counts)


def fit(config: FusionConfig, recipe: Recipe, train: Tensors, val: Tensors,
        on_epoch: Callable[[EpochLog], bool | None] | None = None) -> FitResult:
    """Train a head of ``config`` on ``train``, early-stopping on ``val``'s loss.

    ``on_epoch`` is called after each epoch with its log; returning False cancels the
    training, which then returns the best model so far. The validation loss uses the
    training criterion (class-weighted when the recipe asks for it).
    """
    fitting = iter_fit(config, recipe, train, val)
    try:
        log = next(fitting)
        while True:
            log = fitting.send(on_epoch(log) if on_epoch is not None else None)
    except StopIteration as stop:
        return stop.value


def iter_fit(config: FusionConfig, recipe: Recipe, train: Tensors, val: Tensors
             ) -> Generator[EpochLog, bool | None, FitResult]:
    """``fit`` as a generator: yields each epoch's log, returns the FitResult.

    Sending False (``fitting.send(False)``) cancels after that epoch and returns the best
    model so far; ``next`` goes on. The training draws from its own RNG stream (seeded by
    ``recipe.seed``, swapped in around each epoch's work), so what the caller does with
    the global RNG between epochs changes neither the result nor is changed by it.
    """
    for name, data in (("train", train), ("val", val)):
        if not data.has_labels:
            raise ValueError(f"{name} needs labelled items")
        if int(data.labels.min()) < 0 or int(data.labels.max()) >= config.n_classes:
            raise ValueError(f"{name} has labels outside 0..{config.n_classes - 1}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = FusionHead(config)  # initialised from the seed
        rng = torch.get_rng_state()  # then dropout draws from the same stream
    if recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                    weight_decay=recipe.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr,
                                      weight_decay=recipe.weight_decay)
    weight = class_weights(train.labels, config.n_classes) if recipe.class_weighted else None
    shuffle = torch.Generator().manual_seed(recipe.seed)

    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    history: list[EpochLog] = []
    stopped_early = cancelled = False
    for epoch in range(1, recipe.max_epochs + 1):
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(rng)
            train_loss = _train_epoch(model, optimizer, train, recipe.batch_size, shuffle,
                                      weight)
            rng = torch.get_rng_state()
        val_logits = predict_logits(model, val)
        val_loss = float(F.cross_entropy(val_logits, val.labels, weight=weight))
        accuracy = float((val_logits.argmax(dim=1) == val.labels).float().mean())
        log = EpochLog(epoch, train_loss, val_loss, accuracy, time.perf_counter() - start)
        history.append(log)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        if (yield log) is False:
            cancelled = True
            break
        if epoch - best_epoch >= recipe.patience and epoch < recipe.max_epochs:
            stopped_early = True
            break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_epoch, len(history), stopped_early, history, cancelled)


def _train_epoch(model: FusionHead, optimizer: torch.optim.Optimizer, train: Tensors,
                 batch_size: int, shuffle: torch.Generator, weight: torch.Tensor | None
                 ) -> float:
    """One pass over ``train`` in shuffled mini-batches; the mean training loss."""
    model.train()
    order = torch.randperm(len(train), generator=shuffle)
    total = 0.0
    for first in range(0, len(train), batch_size):
        batch = train.subset(order[first:first + batch_size])
        logits = model(batch.image, batch.text, batch.image_present, batch.text_present)
        loss = F.cross_entropy(logits, batch.labels, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch)
    return total / len(train)


@torch.no_grad()
def predict_logits(model: FusionHead, data: Tensors, batch_size: int = 4096) -> torch.Tensor:
    """Logits ``[N, n_classes]`` of ``data`` in eval mode (the model's mode is restored)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        parts = [
            model(data.image[i:i + batch_size].to(device), data.text[i:i + batch_size].to(device),
                  data.image_present[i:i + batch_size].to(device),
                  data.text_present[i:i + batch_size].to(device))
            for i in range(0, len(data), batch_size)
        ]
    finally:
        model.train(was_training)
    if not parts:
        return torch.zeros(0, model.config.n_classes)
    return torch.cat(parts).cpu()
