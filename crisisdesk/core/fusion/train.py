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
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from crisisdesk.core.fusion.model import FusionConfig, FusionHead
from crisisdesk.core.fusion.optimizers import OPTIMIZERS, Optimizer, make_optimizer

#: The validation figure that picks the best epoch and that patience waits on.
SELECT = ("loss", "macro_f1")


class TrainingDiverged(ValueError):
    """No epoch gave a finite validation loss (the weights blew up to NaN or infinity):
    the message says so and what to change. A ValueError, so callers that refuse bad
    options still catch it. ``what``: what happened, without the CLI's advice, and
    ``lr``: the learning rate it trained at, for a front end that words its own (the
    app has no learning rate: see retrain)."""

    def __init__(self, what: str, lr: float) -> None:
        super().__init__(f"{what}; lower the learning rate (--lr, now {lr:g}) and train "
                         "again")
        self.what, self.lr = what, lr


class TrainingCancelled(Exception):
    """A training cancelled (``send(False)`` at a :class:`StepLog`) before its first epoch
    ended: there are no validated weights to return. The message says where it stopped."""


@dataclass
class Recipe:
    """How to train (defaults: the paper's recipe)."""

    optimizer: str = "sgd"  # "sgd" (with momentum) or "adamw"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    batch_size: int = 32
    max_epochs: int = 50
    patience: int = 5  # epochs without a better validation figure before stopping
    class_weighted: bool = False  # cross-entropy weighted by inverse train class counts
    class_weight_power: float = 1.0  # weights ** power: 1 "balanced", 0.5 "sqrt" (milder)
    label_smoothing: float = 0.0  # of the training loss (the validation loss has none)
    select: str = "loss"  # the validation figure that picks the epoch: see SELECT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of "
                             f"{OPTIMIZERS}")
        if self.select not in SELECT:
            raise ValueError(f"unknown select {self.select!r}; expected one of {SELECT}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be positive and weight_decay not negative")
        # nan passes every comparison (it trained without weights without a word), and a
        # negative power would weight the frequent classes more.
        if not (math.isfinite(self.class_weight_power) and self.class_weight_power >= 0):
            raise ValueError(f"class_weight_power must be a number from 0 up, got "
                             f"{self.class_weight_power}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be at least 1")


#: Named recipes (field overrides of :class:`Recipe`). "paper" is the paper's recipe;
#: "text" is what one-modality heads (the shipped text-only heads, CrisisMMD text-only
#: training) default to: the figures that chose it are in docs/fusion.md.
RECIPES: dict[str, dict] = {
    "paper": {},
    "text": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-2, "patience": 10,
             "class_weighted": True, "class_weight_power": 0.25},
}


def named_recipe(name: str, **overrides) -> Recipe:
    """The recipe called ``name`` with ``overrides`` (Recipe fields) on top."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {tuple(RECIPES)}")
    return Recipe(**{**RECIPES[name], **overrides})


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
    val_macro_f1: float = 0.0


@dataclass
class StepLog:
    """Where an epoch stands between two of its steps (``iter_fit`` with ``tick``): a
    point at which a job can report progress and be cancelled without waiting for the
    epoch's end (one epoch of 200,000 items takes about a minute on two cores)."""

    epoch: int  # 1-based
    step: int  # steps done in this epoch
    steps: int  # steps of a whole epoch


@dataclass
class FitResult:
    model: FusionHead  # weights of the best epoch (Recipe.select), in eval mode
    best_epoch: int
    epochs_run: int
    stopped_early: bool  # stopped by patience before max_epochs
    history: list[EpochLog] = field(default_factory=list)
    cancelled: bool = False  # on_epoch returned False


def class_weights(labels: torch.Tensor, n_classes: int, power: float = 1.0) -> torch.Tensor:
    """Inverse-frequency weights ``(N / (C * count_c)) ** power`` (a class never seen
    counts once). Power 1 balances the classes fully; 0.5 lifts rare classes less, which
    keeps more accuracy on the frequent ones."""
    counts = torch.bincount(labels, minlength=n_classes).clamp(min=1).float()
    return (labels.numel() / (n_classes * counts)) ** power


def macro_f1(logits: torch.Tensor, labels: torch.Tensor, n_classes: int) -> float:
    """Macro F1 of the argmax of ``logits`` (over the classes in the truth or predicted,
    as in metrics.classification_report and scikit-learn)."""
    confusion = torch.bincount(labels * n_classes + logits.argmax(dim=1),
                               minlength=n_classes * n_classes).view(n_classes, n_classes)
    tp = confusion.diagonal().double()
    both = confusion.sum(0).double() + confusion.sum(1).double()
    present = both > 0
    return float((2 * tp[present] / both[present]).mean()) if bool(present.any()) else 0.0


def fit(config: FusionConfig, recipe: Recipe, train: Tensors, val: Tensors,
        on_epoch: Callable[[EpochLog], bool | None] | None = None) -> FitResult:
    """Train a head of ``config`` on ``train``, early-stopping on ``val``.

    The best epoch is the one of the lowest validation loss (``recipe.select`` "loss",
    the paper's) or of the highest validation macro F1 ("macro_f1"); training stops
    once ``recipe.patience`` epochs brought no better one. ``on_epoch`` is called after
    each epoch with its log; returning False cancels the training, which then returns
    the best model so far. The validation loss uses the training criterion
    (class-weighted when the recipe asks for it) without label smoothing. An epoch whose
    validation loss is not finite is never the best; raises TrainingDiverged when no
    epoch had a finite one (rather than return the untrained weights).
    """
    fitting = iter_fit(config, recipe, train, val)
    try:
        log = next(fitting)
        while True:
            log = fitting.send(on_epoch(log) if on_epoch is not None else None)
    except StopIteration as stop:
        return stop.value


def iter_fit(config: FusionConfig, recipe: Recipe, train: Tensors, val: Tensors,
             tick: float | None = None
             ) -> Generator[EpochLog | StepLog, bool | None, FitResult]:
    """``fit`` as a generator: yields each epoch's log, returns the FitResult.

    Sending False (``fitting.send(False)``) cancels after that epoch and returns the best
    model so far; ``next`` goes on. The training draws from its own RNG stream (seeded by
    ``recipe.seed``, swapped in around each epoch's work), so what the caller does with
    the global RNG between epochs changes neither the result nor is changed by it.

    ``tick`` (seconds): also yield a :class:`StepLog` within an epoch once that long has
    passed since the last yield (0: after every step), so a cancel is heard within about
    ``tick`` plus one step. False sent at a StepLog stops after that step: the unfinished
    epoch is dropped, the best epoch so far is returned, and TrainingCancelled is raised
    when no epoch had ended. The yields change nothing of the result for a given seed.
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
    # Ours, not torch.optim's (which imports torch._dynamo): see optimizers.py.
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), lr=recipe.lr,
                               momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    weight = class_weights(train.labels, config.n_classes, recipe.class_weight_power) \
        if recipe.class_weighted else None
    shuffle = torch.Generator().manual_seed(recipe.seed)

    # Lower is better for both figures once macro F1 is negated.
    best_score, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    history: list[EpochLog] = []
    stopped_early = cancelled = False
    n_steps = math.ceil(len(train) / recipe.batch_size)
    for epoch in range(1, recipe.max_epochs + 1):
        start = time.perf_counter()
        steps = _train_epoch(model, optimizer, train, recipe.batch_size, shuffle, weight,
                             recipe.label_smoothing)
        step, train_loss = 0, None
        while train_loss is None:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(rng)
                step, train_loss = _run_steps(steps, step, tick)
                rng = torch.get_rng_state()
            # Outside fork_rng: the caller's code between yields sees its own RNG state.
            if train_loss is None and (yield StepLog(epoch, step, n_steps)) is False:
                cancelled = True
                break
        if cancelled:
            break
        val_logits = predict_logits(model, val)
        val_loss = float(F.cross_entropy(val_logits, val.labels, weight=weight))
        accuracy = float((val_logits.argmax(dim=1) == val.labels).float().mean())
        f1 = macro_f1(val_logits, val.labels, config.n_classes)
        log = EpochLog(epoch, train_loss, val_loss, accuracy, time.perf_counter() - start, f1)
        history.append(log)
        score = val_loss if recipe.select == "loss" else -f1
        # An epoch whose validation loss is NaN or infinite has broken weights: never the
        # best, whatever its macro F1 (argmax of NaN logits still "predicts" a class).
        if math.isfinite(val_loss) and score < best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        if (yield log) is False:
            cancelled = True
            break
        if epoch - best_epoch >= recipe.patience and epoch < recipe.max_epochs:
            stopped_early = True
            break
    if cancelled and not history:
        raise TrainingCancelled(
            f"training cancelled in epoch 1 after {step:,} of {n_steps:,} steps, before "
            "any epoch ended: no weights to keep")
    if best_epoch == 0 and not cancelled:
        # Else the untrained initial weights would come back as the "best" model.
        raise TrainingDiverged(
            f"training diverged: the validation loss was not a finite number in any of the "
            f"{len(history)} epochs (last training loss {history[-1].train_loss})",
            recipe.lr)
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_epoch, len(history), stopped_early, history, cancelled)


def _run_steps(steps: Generator[int, None, float], step: int, tick: float | None
               ) -> tuple[int, float | None]:
    """Run an epoch's ``steps`` on from ``step`` until ``tick`` seconds have passed (None:
    to the epoch's end); (steps done, the mean training loss or None while unfinished)."""
    # One perf_counter per step: tens of nanoseconds against a step's milliseconds.
    deadline = math.inf if tick is None else time.perf_counter() + tick
    try:
        while True:
            step = next(steps)
            if time.perf_counter() >= deadline:
                return step, None
    except StopIteration as stop:
        return step, stop.value


def _train_epoch(model: FusionHead, optimizer: Optimizer, train: Tensors,
                 batch_size: int, shuffle: torch.Generator, weight: torch.Tensor | None,
                 label_smoothing: float = 0.0) -> Generator[int, None, float]:
    """One pass over ``train`` in shuffled mini-batches, yielding the steps done between
    two steps (not after the last: the epoch's log follows it); returns the mean
    training loss."""
    model.train()
    order = torch.randperm(len(train), generator=shuffle)
    data = train.subset(order)  # one gather per epoch: each batch is then a view
    total = torch.zeros(())
    for done, first in enumerate(range(0, len(train), batch_size)):
        if done:
            yield done
        part = slice(first, first + batch_size)
        labels = data.labels[part]
        logits = model(data.image[part], data.text[part], data.image_present[part],
                       data.text_present[part])
        loss = F.cross_entropy(logits, labels, weight=weight,
                               label_smoothing=label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(labels)  # no per-step sync to a Python float
    return float(total) / len(train)


#: Items per forward pass at prediction: large enough that per-call overhead vanishes,
#: small enough that a guided_diff pass stays within a few hundred MB.
PREDICT_BATCH = 8192


def predict_logits(model: FusionHead, data: Tensors, batch_size: int = PREDICT_BATCH
                   ) -> torch.Tensor:
    """Logits ``[N, n_classes]`` of ``data`` in eval mode (the model's mode is restored).

    Runs under ``torch.inference_mode`` (no autograd bookkeeping) in large batches,
    writing into one preallocated output: no per-item Python work.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.empty(len(data), model.config.n_classes)
    try:
        with torch.inference_mode():
            for i in range(0, len(data), batch_size):
                j = i + batch_size
                out[i:j] = model(data.image[i:j].to(device), data.text[i:j].to(device),
                                 data.image_present[i:j].to(device),
                                 data.text_present[i:j].to(device)).float().cpu()
    finally:
        model.train(was_training)
    return out
