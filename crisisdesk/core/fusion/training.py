"""Training a task's fusion head from a project (a cancellable job), and scoring it.

One run trains ``seeds`` heads on cached embeddings only (no encoder in the loop), each
early-stopped on the validation split, calibrated there by temperature scaling, and
scored on the held-out split. The seed of the best validation figure (loss, or macro F1
when the recipe selects on it) becomes the task's active model version; the report gives
every seed's figures with their mean and standard deviation.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crisisdesk.core.fusion.checkpoint import save_head
from crisisdesk.core.fusion.data import (
    EmbeddingsMissing,
    NotEnoughLabels,
    TaskData,
    ensure_splits,
    task_data,
    training_splits,
)
from crisisdesk.core.fusion.metrics import (
    T_MIN,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    mean_std,
)
from crisisdesk.core.fusion.model import VARIANTS, FusionConfig
from crisisdesk.core.fusion.train import (
    Recipe,
    StepLog,
    Tensors,
    iter_fit,
    named_recipe,
    predict_logits,
)
from crisisdesk.core.fusion.version_names import (
    discard_unregistered,
    free_version_name,
    release_version_name,
    remove_orphans,
)
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store
from crisisdesk.core.words import IMAGES_FOLDER

#: Seconds between a training's progress reports within an epoch: how long a cancel waits
#: at most (plus one step), where an epoch of 200,000 items takes about a minute.
TICK = 0.5


def default_variant(image_encoder: str | None, text_encoder: str | None) -> str:
    """The method's fusion when both modalities are there, else the one-modality head."""
    if image_encoder and text_encoder:
        return "guided_diff"
    return "text_only" if text_encoder else "image_only"


#: FusionConfig fields a one-modality head defaults to (see docs/fusion.md): on 384-d
#: sentence embeddings a one-layer MLP generalises better than the token stack.
ONE_MODALITY_CONFIG: dict[str, Any] = {"single_head": "mlp", "hidden": 128}


def default_recipe_name(variant: str) -> str:
    """"text" for one-modality heads, the paper's recipe for the fusion variants."""
    return "text" if variant in ("text_only", "image_only") else "paper"


def default_config(variant: str) -> dict[str, Any]:
    """FusionConfig overrides a variant defaults to (none for the fusion variants)."""
    return dict(ONE_MODALITY_CONFIG) if variant in ("text_only", "image_only") else {}


def data_hash(data: TaskData) -> str:
    """A fingerprint of what a head was trained on: items, labels, splits, encoders."""
    digest = hashlib.sha256()
    digest.update(json.dumps([data.task, data.image_encoder, data.text_encoder]).encode())
    for item, label, split in zip(data.items, data.tensors.labels.tolist(), data.splits,
                                  strict=True):
        digest.update(f"{item}:{label}:{split};".encode())
    return digest.hexdigest()


def probabilities(logits: torch.Tensor, temperature: float) -> np.ndarray:
    """Calibrated class probabilities."""
    return torch.softmax(logits / temperature, dim=-1).numpy()


@dataclass
class TrainReport:
    """What a training run did: figures per seed, their summary, the version made."""

    task: str = ""
    variant: str = ""
    scored_split: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    # Labelled items left out because they are not embedded yet, and what to do (data.LeftOut).
    left_out: int = 0
    left_out_note: str = ""
    seeds: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    model_version: int | None = None
    model_name: str = ""
    #: Names whose checkpoint a training killed before registering it had left in
    #: models/, removed by this run (see version_names.remove_orphans).
    orphans_removed: list[str] = field(default_factory=list)

    def orphans_note(self) -> str:
        """What this run removed of killed trainings, in a sentence ("" when nothing)."""
        if not self.orphans_removed:
            return ""
        return ("removed the checkpoint files of trainings killed before they registered "
                "a version (never listed, never used): "
                + ", ".join(f"models/{name}.safetensors and .json"
                            for name in self.orphans_removed))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _stamp() -> str:
    """The time part of a version's name (UTC, to the second)."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _check_encoders_known(store: Store, image_encoder: str | None,
                          text_encoder: str | None) -> None:
    """EmbeddingsMissing when the project holds no embedding at all of an encoder asked
    for (a typo, or one never run here), naming those it has: "N items lack one; run
    embed" would send the analyst to embed with a model that may not exist."""
    counts = store.embedding_counts()
    for kind, encoder in (("image", image_encoder), ("text", text_encoder)):
        if encoder and not counts.get(encoder, {}).get(kind):
            have = [name for name, kinds in counts.items() if kinds.get(kind)]
            raise EmbeddingsMissing(
                f"this project has no {kind} embeddings of {encoder!r} (it has "
                f"{', '.join(repr(n) for n in have) if have else 'none'}); embed them "
                f"first (crisisdesk embed PROJECT --encoder {encoder} --kind {kind}) or "
                "name one it has")


def _no_images(store: Store, data: TaskData, encoder: str | None) -> str:
    """Why a head that reads images cannot train: no labelled item has a usable image
    (e.g. CrisisMMD imported without --images-root). Without this refusal the head's
    image path would stay untrained yet be applied to every image predicted later (and,
    where the encoder has no embedding yet, be built for 1-d vectors none will fit)."""
    facts = store.item_images(data.items)
    statuses = Counter(facts.get(item, (None, None))[1] or "text-only" for item in data.items)
    found = ", ".join(f"{count:,} {status}" for status, count in statuses.most_common())
    return (f"{data.task}: no labelled {data.task} item has a usable image with a {encoder} "
            f"embedding (images: {found}). Attach the images (import again with their "
            f"images folder: {IMAGES_FOLDER}) and embed them (the app's Jobs > Embed images "
            f"and texts, or crisisdesk embed PROJECT --encoder {encoder} --kind image), or "
            "train a text-only head (the CLI: leave out --encoder).")


class TrainJob:
    """Train (and register) a fusion head for one task."""

    kind = "train"

    def __init__(self, project: Project, task: str, *, image_encoder: str | None,
                 text_encoder: str | None, variant: str | None = None,
                 recipe: Recipe | None = None, seeds: int = 1, val_from: str = "train",
                 text_source: str | None = None, config: dict[str, Any] | None = None,
                 activate: bool = True, pick_seed_on: str = "validation") -> None:
        # activate=False registers the new version without switching to it: the app's
        # retrain compares it with the active one on the holdout first.
        self.project, self.task, self.activate = project, task, activate
        # Which seed's head is registered: the best on the validation split (default), or
        # ("scored") the best accuracy + macro F1 on the scored split: only for a head
        # chosen on dev on purpose, like the shipped ones (its dev figures are then no
        # longer an unbiased estimate).
        if pick_seed_on not in ("validation", "scored"):
            raise ValueError(f"pick_seed_on must be 'validation' or 'scored', not "
                             f"{pick_seed_on!r}")
        self.pick_seed_on = pick_seed_on
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.variant = variant or default_variant(image_encoder, text_encoder)
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.variant != "text_only" and not image_encoder:
            raise ValueError(f"variant {self.variant} needs image embeddings: give "
                             "--encoder (a CLIP model)")
        if self.variant != "image_only" and not text_encoder:
            raise ValueError(f"variant {self.variant} needs text embeddings: give "
                             "--text-encoder")
        if seeds < 1:
            raise ValueError("--seeds must be at least 1")
        # No recipe / config given: the variant's defaults (the paper's recipe for fusion).
        self.recipe = recipe or named_recipe(default_recipe_name(self.variant))
        self.seeds, self.val_from = seeds, val_from
        self.text_source = text_source
        self.config_overrides = {**default_config(self.variant), **(config or {})}
        self.report = TrainReport(task=task, variant=self.variant)

    def run(self) -> Iterator[Progress]:
        params = {"task": self.task, "variant": self.variant, "seeds": self.seeds,
                  "image_encoder": self.image_encoder, "text_encoder": self.text_encoder,
                  "val_from": self.val_from, "recipe": self.recipe.__dict__}
        return tracked(self.project, self.kind, params, self._run(),
                       result=self.report.as_dict)

    def _run(self) -> Iterator[Progress]:
        with self.project.open_store() as store:
            self.report.orphans_removed = remove_orphans(store, self.project.folder("models"))
            if self.report.orphans_removed:
                yield Progress(0, 0, self.report.orphans_note(),
                               notes=(self.report.orphans_note(),))
            _check_encoders_known(store, self.image_encoder, self.text_encoder)
            data = task_data(store, self.task, image_encoder=self.image_encoder,
                             text_encoder=self.text_encoder, variant=self.variant)
            self.report.left_out = data.left_out.items
            self.report.left_out_note = data.left_out.note()
            try:
                if self.variant != "text_only" and \
                        not bool(data.tensors.image_present.any()):
                    raise NotEnoughLabels(_no_images(store, data, self.image_encoder))
                # Every training (crisisdesk train, a retrain) stores what it trains by:
                # the holdout drawn at a task's first training, and "train" for labelled
                # items without a split, so that no later import moves them into the
                # holdout. Items left out (not embedded) get theirs when they train.
                data = ensure_splits(store, data)
                train, val, scored, scored_name = training_splits(data, self.val_from)
            except NotEnoughLabels as exc:
                if not data.left_out.items:
                    raise
                # What the embed job has not reached may be what is missing.
                raise NotEnoughLabels(f"{exc}; {self.report.left_out_note}") from exc
            tensors = data.tensors
            self.report.scored_split = scored_name
            self.report.sizes = {"train": len(train), "validation": len(val),
                                 scored_name: len(scored)}
            config = FusionConfig(n_classes=len(data.classes),
                                  image_dim=tensors.image.shape[1],
                                  text_dim=tensors.text.shape[1], variant=self.variant,
                                  **self.config_overrides)
            # Each split's rows copied once (every seed copied train and validation
            # again), then the task's whole matrices let go: kept beside the copies
            # through every epoch, they were ~40% of a retrain's memory. The data's
            # fingerprint is taken first: it reads the labels.
            train_set, val_set, scored_set = (tensors.subset(index)
                                              for index in (train, val, scored))
            trained_on = data_hash(data)
            data.tensors = tensors = tensors.subset(np.zeros(0, dtype=np.int64))
            budget = self.seeds * self.recipe.max_epochs
            done, best = 0, None
            for seed in range(self.seeds):
                fitting = iter_fit(config, replace(self.recipe, seed=seed), train_set,
                                   val_set, tick=TICK)
                while True:
                    try:
                        log = next(fitting)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    # Seeds named as the report names them (0, 1, ...).
                    where = f"{self.task} seed {seed} ({seed + 1} of {self.seeds}): epoch"
                    if isinstance(log, StepLog):
                        # Within an epoch: a cancel (closing this job) is heard here.
                        yield Progress(done, budget, f"{where} {log.epoch}, step "
                                       f"{log.step:,} of {log.steps:,}")
                        continue
                    done += 1
                    yield Progress(done, budget, f"{where} {log.epoch}, validation loss "
                                   f"{log.val_loss:.4f}")
                budget -= self.recipe.max_epochs - result.epochs_run
                figures = self._score(result, val_set, scored_set, data.classes, seed)
                self.report.seeds.append(figures)
                if best is None or self._better(figures, best[1]):
                    best = (result.model, figures)
                yield Progress(done, budget, f"{self.task} seed {seed} done")
            assert best is not None
            self.report.summary = mean_std([s["scored"] for s in self.report.seeds]) \
                if scored.size else {}
            self._register(store, data, trained_on, config, *best)

    def _better(self, figures: dict[str, Any], than: dict[str, Any]) -> bool:
        """Whether a seed beats another on the recipe's validation figure."""
        if self.pick_seed_on == "scored" and "scored" in figures:
            def total(f: dict[str, Any]) -> float:
                return f["scored"]["accuracy"] + f["scored"]["macro_f1"]
            return total(figures) > total(than)
        if self.recipe.select == "macro_f1":
            return figures["val_macro_f1"] > than["val_macro_f1"]
        return figures["val_loss"] < than["val_loss"]

    def _score(self, result: Any, val: Tensors, scored: Tensors, classes: tuple[str, ...],
               seed: int) -> dict[str, Any]:
        """Calibrate on the validation split, then score on the held-out split."""
        val_logits = predict_logits(result.model, val)
        val_labels = val.labels.numpy()
        temperature = fit_temperature(val_logits.numpy(), val_labels)
        note = None
        if temperature <= T_MIN:
            # A slice with no mistakes (a few labels, well separated): the fit runs to its
            # floor and every later confidence would be 1.0, leaving the review queue,
            # least confident first, with no order. Such a slice says nothing of how
            # sure to be: the head's own confidences are kept.
            temperature = 1.0
            note = (f"not calibrated: the {len(val_labels):,} validation items had no "
                    "mistakes to fit a temperature on (label more items); temperature 1")
        # The figures of the epoch whose weights were kept (with select "macro_f1" not
        # the epoch of the lowest loss); iter_fit refuses a run without such an epoch.
        kept = result.history[result.best_epoch - 1]
        figures: dict[str, Any] = {
            "seed": seed, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "val_loss": kept.val_loss, "val_macro_f1": kept.val_macro_f1,
            "temperature": temperature,
            **({"calibration_note": note} if note else {}),
            "ece_validation_before": expected_calibration_error(
                probabilities(val_logits, 1.0), val_labels),
            "ece_validation_after": expected_calibration_error(
                probabilities(val_logits, temperature), val_labels),
        }
        if len(scored):
            logits = predict_logits(result.model, scored)
            labels = scored.labels.numpy()
            probs = probabilities(logits, temperature)
            figures["scored"] = classification_report(labels, probs.argmax(axis=1),
                                                      list(classes))
            figures["ece_scored_before"] = expected_calibration_error(
                probabilities(logits, 1.0), labels)
            figures["ece_scored_after"] = expected_calibration_error(probs, labels)
        return figures

    def _text_source(self, store: Store, data: TaskData) -> str | None:
        """Which texts the head read: None (no text), "tweet", or the captioner(s) whose
        captions followed the tweet and for how many items; an explicit ``text_source``
        given to the job wins."""
        if self.text_source is not None:
            return self.text_source
        if not self.text_encoder or self.variant == "image_only":
            return None
        sources = store.caption_sources(data.items)
        if not sources:
            return "tweet"
        captioners = ",".join(sorted(set(sources.values())))
        # Counted over the task's labelled items (train, validation and scored alike).
        return (f"tweet+caption:{captioners} ({len(sources)} of {len(data.items)} "
                "labelled items)")

    def _register(self, store: Store, data: TaskData, trained_on: str, config: FusionConfig,
                  model: Any, figures: dict[str, Any]) -> None:
        """Save the best head with its sidecar (``trained_on``: the data's
        :func:`data_hash`); make it the task's active version if asked."""
        folder = self.project.folder("models")
        name = free_version_name(store, folder, f"{self.task}-{self.variant}-{_stamp()}")
        try:
            self._save_and_add(store, data, trained_on, config, model, figures, folder,
                               name)
        except BaseException:
            # Registering failed (a locked or full database): the saved checkpoint would
            # stay unlisted and unused for good, its name taken.
            discard_unregistered(store, folder, name)
            raise
        finally:
            release_version_name(folder, name)

    def _save_and_add(self, store: Store, data: TaskData, trained_on: str,
                      config: FusionConfig, model: Any, figures: dict[str, Any],
                      folder: Path, name: str) -> None:
        """Save the head under the reserved ``name`` and add its model version."""
        sidecar = {
            "config": config.to_dict(), "task": self.task, "classes": list(data.classes),
            "image_encoder": self.image_encoder, "text_encoder": self.text_encoder,
            "image_dim": config.image_dim if self.image_encoder else None,
            "text_dim": config.text_dim if self.text_encoder else None,
            "text_source": self._text_source(store, data),
            "training_data_hash": trained_on,
            "metrics": {"seeds": self.report.seeds, "summary": self.report.summary,
                        "active_seed": figures["seed"], "seed_picked_on": self.pick_seed_on,
                        "scored_split": self.report.scored_split,
                        "sizes": self.report.sizes,
                        "left_out_not_embedded": self.report.left_out},
            "temperature": figures["temperature"], "recipe": self.recipe.__dict__,
            "val_from": self.val_from,
        }
        path = save_head(folder, name, model, sidecar)
        version = store.add_model_version(
            self.task, name, str(path), encoder=self.image_encoder or self.text_encoder,
            config=sidecar, metrics=sidecar["metrics"], active=self.activate)
        self.report.model_version, self.report.model_name = version, name
