"""One-click retrain: train a new version per task on the current labels, compare it with
the active one on the frozen holdout, and switch only when it is not worse.

``RetrainJob(project, ...).run()`` is a job: for each task with enough labels it trains a
candidate with :class:`~crisisdesk.core.fusion.training.TrainJob` (registered, *not*
activated), then scores the candidate and the version active before it (the bundled head
or zero-shot scores when no trained version is active) on the task's holdout: the
``test`` split, which ``ensure_splits`` froze at the first training (or ``dev`` where a
project's imported splits have no test items). The :class:`RetrainReport` gives both
sets of figures and ``recommend_switch`` (candidate macro F1 >= active macro F1).
``apply_retrain(project, report)`` then activates the recommended (or overridden)
candidates and re-predicts those tasks; older versions stay and can be re-activated with
``reactivate_version`` (both refuse a version whose checkpoint is gone or does not
load). Both live in :mod:`crisisdesk.core.retrain_switch` and are imported here too.

Both models are scored on the holdout items both can see (an image-only head does not
see a text-only post): the same items, so their figures compare; ``unseen`` counts, per
model, the items it could not see. Labelled items with no split, which train, get the
split ``train`` stored before they train (``ensure_splits``, for every training), so that
no later import can put an item a version trained on into the holdout; a twin of a
held-out item (the same text or image: a retweet) joins the holdout instead.
``active_optimistic`` says when the active version's figures flatter it (it was tuned on
this holdout: the shipped heads picked their seed on CrisisMMD's dev).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from crisisdesk.core.fusion.checkpoint import CheckpointError
from crisisdesk.core.fusion.data import EmbeddingsMissing, NotEnoughLabels, embedded_items
from crisisdesk.core.fusion.evaluate import optimistic
from crisisdesk.core.fusion.metrics import classification_report
from crisisdesk.core.fusion.predict import (
    NoModel,
    predictor_for,
    project_tasks,
    resolve_version,
    version_encoders,
)
from crisisdesk.core.fusion.train import Recipe, TrainingDiverged
from crisisdesk.core.fusion.training import TrainJob, default_variant
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain_switch import (  # noqa: F401 - callers import them from here
    ActiveChanged,
    SwitchRefused,
    apply_retrain,
    not_recommended_because,
    reactivate_version,
)
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import Store
from crisisdesk.core.words import plural

#: Labels a task needs before a retrain trains it (of at least two classes).
MIN_LABELS = 20


@dataclass
class TaskRetrain:
    """One task's outcome: the candidate, the version it was compared with, and both
    versions' figures on the holdout (``classification_report`` dicts: accuracy,
    macro_f1, per_class precision / recall / F1, confusion matrix)."""

    task: str
    skipped: str | None = None  # why no candidate was trained
    variant: str = ""
    holdout_split: str = ""
    holdout: int = 0  # labelled items in the holdout
    # The labels the candidate used, by split (train, validation, and the split it was
    # scored on), as read when its training started: labels given during the retrain
    # are not among them.
    sizes: dict[str, int] = field(default_factory=dict)
    # Labelled items the candidate left out because they are not embedded yet, and how
    # to include them (inputs.LeftOut.note); "" when none was
    not_embedded: str = ""
    candidate: int | None = None  # the new model version's id
    candidate_name: str = ""
    new: dict[str, Any] | None = None
    new_unseen: int = 0
    # Holdout items left out of both versions' figures: an image or text that one of
    # them reads is not embedded yet (scored without it, a fusion head would take the
    # item for one without an image)
    holdout_not_embedded: int = 0
    active: int | None = None  # the version active before the retrain
    active_name: str | None = None
    # None: no active version, it saw none of the items the new one saw, or it could
    # not be scored (active_error)
    current: dict[str, Any] | None = None
    current_unseen: int = 0
    active_error: str | None = None  # why the active version could not be scored
    # Why the active version's figures on this holdout flatter it (it early-stopped on
    # it, or its seed was picked on it: the shipped heads on CrisisMMD's dev), else None
    active_optimistic: str | None = None
    recommend_switch: bool = False


@dataclass
class RetrainReport:
    """What a retrain did, per task."""

    tasks: dict[str, TaskRetrain] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tasks": {task: asdict(entry) for task, entry in self.tasks.items()}}


def choose_encoders(store: Store, prefer: tuple[str | None, str | None] = (None, None)
                    ) -> tuple[str | None, str | None]:
    """(image encoder, text encoder) from the project's embeddings.

    ``prefer`` (the app's Settings: image encoder, text encoder) wins for a kind where the
    project holds as many embeddings of it as of any other encoder: an analyst who
    switched to another CLIP and embedded with it trains on it (the tie went to the
    alphabetically first name, so the older ViT-B-32 won over ViT-L-14), while one whose
    embed is still running (or was cancelled) trains on the encoder that covers the
    items. Otherwise: the encoder with the most image embeddings, and for text the same
    one when it encoded the texts too (CLIP image + text: the fusion head), else the
    encoder with the most text embeddings (e.g. MiniLM: a text-only head)."""
    counts = store.embedding_counts()
    images = {name: kinds["image"] for name, kinds in counts.items() if kinds.get("image")}
    texts = {name: kinds["text"] for name, kinds in counts.items() if kinds.get("text")}
    prefer_image, prefer_text = prefer
    image = prefer_image if _covers(images, prefer_image) else \
        max(sorted(images), key=images.__getitem__) if images else None
    if _covers(texts, prefer_text):
        return image, prefer_text
    if image is not None and image in texts:
        return image, image
    text = max(sorted(texts), key=texts.__getitem__) if texts else None
    return image, text


def _diverged(task: str, exc: TrainingDiverged) -> str:
    """A diverged training as the retrain report says it. The app has no learning rate
    to lower, and its Retrain trains the same way each time (seed 0, the variant's
    recipe): retrained on the same labels it diverges again. A terminal's train takes
    a lower learning rate."""
    return (f"{exc.what}. Retrain trains at the same learning rate each time, so it gives "
            f"the same result on these labels; to train {task} at a lower one, in a "
            f"terminal: crisisdesk train PROJECT --task {task} --lr {exc.lr / 10:g}")


def _covers(counts: dict[str, int], name: str | None) -> bool:
    """Whether ``name`` holds as many embeddings as the encoder that holds most."""
    return name in counts and counts[name] >= max(counts.values())


def holdout_rows(store: Store, task: str) -> tuple[str, list[tuple[int, str]]]:
    """The holdout split's name and its (item, label) rows: test, else dev."""
    classes = scheme_for(task, store.schemes()).classes
    rows = [(item, label, split) for item, label, split in store.labelled_items(task)
            if label in classes]
    for split in ("test", "dev"):
        chosen = [(item, label) for item, label, s in rows if s == split]
        if chosen:
            return split, chosen
    return "test", []


def version_predictions(store: Store, task: str, version: dict[str, Any],
                        items: Sequence[int]) -> dict[int, str]:
    """A version's predicted class of each of ``items`` it can see."""
    kept, probs = predictor_for(store, task, version)(list(items))
    order = list(scheme_for(task, store.schemes()).classes)  # checked by predictor_for
    return {item: order[int(k)] for item, k in
            zip(kept, np.asarray(probs).argmax(axis=1), strict=True)}


def figures_on(store: Store, task: str, rows: Sequence[tuple[int, str]],
               predicted: dict[int, str]) -> dict[str, Any] | None:
    """The figures of ``predicted`` on the ``rows`` it holds (None when it holds none)."""
    scored = [(label, predicted[item]) for item, label in rows if item in predicted]
    if not scored:
        return None
    classes = list(scheme_for(task, store.schemes()).classes)
    return classification_report([t for t, _ in scored], [p for _, p in scored], classes)


class RetrainJob:
    """Train a candidate per task and compare it with the active version (a job)."""

    kind = "retrain"

    def __init__(self, project: Project, tasks: Sequence[str] | None = None, *,
                 annotator: str = "", image_encoder: str | None = None,
                 text_encoder: str | None = None, recipe: Recipe | None = None,
                 seeds: int = 1, prefer: tuple[str | None, str | None] = (None, None)
                 ) -> None:
        """``image_encoder`` / ``text_encoder``: the encoders to train on; both None: as
        :func:`choose_encoders` picks them, ``prefer`` (the app's Settings) first."""
        self.tasks = project_tasks(project, tasks)
        self.project, self.annotator = project, annotator
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.prefer = prefer
        self.recipe, self.seeds = recipe, seeds
        self.report = RetrainReport()
        #: Its row in the jobs table once it runs: where its report is kept (the jobs
        #: panel's Report… opens it again from there).
        self.job: int | None = None

    def run(self) -> Iterator[Progress]:
        params = {"tasks": self.tasks, "annotator": self.annotator,
                  "image_encoder": self.image_encoder, "text_encoder": self.text_encoder}
        return tracked(self.project, self.kind, params, self._run(),
                       result=self.report.as_dict, started=self._started)

    def _started(self, job: int) -> None:
        self.job = job

    def _run(self) -> Iterator[Progress]:
        with self.project.open_store() as store:
            if self.image_encoder is None and self.text_encoder is None:
                self.image_encoder, self.text_encoder = choose_encoders(store, self.prefer)
            total, outcomes = len(self.tasks) * 100, []
            for number, task in enumerate(self.tasks):
                entry = self.report.tasks[task] = TaskRetrain(task)
                entry.skipped = self._why_not(store, task)
                if entry.skipped is None:
                    # Before training: a start (shipped head, zero-shot) registered now
                    # is older than the new version, as it is listed.
                    active = self._active(store, task)
                    entry.variant = default_variant(self.image_encoder, self.text_encoder)
                    train = TrainJob(self.project, task, image_encoder=self.image_encoder,
                                     text_encoder=self.text_encoder, recipe=self.recipe,
                                     seeds=self.seeds, activate=False)
                    try:
                        with closing(train.run()) as steps:
                            for step in steps:
                                # Notes passed on: the app's jobs panel shows them (a
                                # killed training's files removed, see TrainJob).
                                yield Progress(number * 100 + int(90 * step.fraction),
                                               total, f"{task}: {step.message}", step.device,
                                               notes=step.notes)
                    except TrainingDiverged as exc:
                        # A recipe whose weights blew up: skip, as below, saying what
                        # the app's user can do (the CLI's --lr names no control here).
                        entry.skipped = _diverged(task, exc)
                    except (NotEnoughLabels, EmbeddingsMissing) as exc:
                        # Enough labels, but none that can train (all in dev, or no
                        # image for a fusion head), or labelled items not embedded yet
                        # (a new caption): skip with the reason, go on with the other
                        # tasks. Shown after "{task}: ", as every task's outcome is.
                        entry.skipped = str(exc).removeprefix(f"{task}: ")
                    else:
                        entry.sizes = dict(train.report.sizes)
                        entry.not_embedded = train.report.left_out_note
                        self._compare(store, entry, train.report.model_version, active)
                outcomes.append(f"{task}: " + (
                    entry.skipped or f"new macro F1 {_f1(entry.new)} vs active "
                    f"{_f1(entry.current)}" + (f" (optimistic: {entry.active_optimistic})"
                                               if entry.active_optimistic else "")
                    + _used(entry.sizes) + _verdict(entry)) + _waiting(entry))
                yield Progress((number + 1) * 100, total, outcomes[-1])
            if len(outcomes) > 1:  # The jobs panel's last words: every task's outcome
                yield Progress(total, total, "\n".join(outcomes))  # (it read the last)

    def _why_not(self, store: Store, task: str) -> str | None:
        """Why ``task`` cannot be retrained now (None when it can)."""
        if self.image_encoder is None and self.text_encoder is None:
            return "no embeddings in this project: embed the items first"
        classes = scheme_for(task, store.schemes()).classes
        rows = {item: label for item, label, _ in store.labelled_items(task)
                if label in classes}
        # Counted on what trains: labelled items not embedded yet are left out.
        kept, left_out = embedded_items(store, list(rows), image_encoder=self.image_encoder,
                                        text_encoder=self.text_encoder)
        labels = [rows[item] for item in kept]
        if len(labels) < MIN_LABELS or len(set(labels)) < 2:
            kinds = (f"all {labels[0]}" if len(set(labels)) == 1
                     else plural(len(set(labels)), "class", "classes"))
            embedded = " of embedded items" if left_out.items else ""
            return (f"{plural(len(labels), 'label')}{embedded} ({kinds}); a retrain needs "
                    f"at least {MIN_LABELS} labels of two classes"
                    + (f"; {left_out.note()}" if left_out.items else ""))
        return None

    @staticmethod
    def _active(store: Store, task: str) -> dict[str, Any] | None:
        """The task's active version (the bundled / zero-shot start, registered when
        there is none), or None."""
        try:
            return resolve_version(store, task)
        except NoModel:
            return None

    def _compare(self, store: Store, entry: TaskRetrain, candidate: int | None,
                 active: dict[str, Any] | None) -> None:
        """Score the candidate and the active version on the holdout items both see;
        recommend."""
        assert candidate is not None
        version = store.model_version(candidate)
        assert version is not None
        entry.candidate, entry.candidate_name = candidate, version["name"]
        if active is not None and active["id"] != candidate:
            # Kept even without a holdout (an override switches from it): a switch
            # checks that it is still the active one (apply_retrain).
            entry.active, entry.active_name = active["id"], active["name"]
        entry.holdout_split, rows = holdout_rows(store, entry.task)
        entry.holdout = len(rows)
        if not rows:
            # Every labelled item trains: its source put it in train (CrisisMMD's train
            # file imported alone) and later labels train too (ensure_splits). Say so
            # and what gives a comparison, as `crisisdesk train` does: the bare words
            # left an analyst with hundreds of labels wondering where they went.
            labelled = len(store.labelled_items(entry.task))
            entry.skipped = (
                "no labelled holdout items to compare on ("
                f"{plural(labelled, 'labelled item is', 'labelled items are')} in the "
                "train split: import a dev or test split to compare); not switched")
            return
        items = [item for item, _ in rows]
        new = version_predictions(store, entry.task, version, items)
        entry.new_unseen = len(rows) - len(new)
        waiting = _not_embedded(store, version, new)
        if active is not None and active["id"] != candidate:
            try:
                current = version_predictions(store, entry.task, active, items)
            except (CheckpointError, NoModel, OSError) as exc:
                # Its checkpoint is gone or damaged: it cannot predict, so it is no
                # rival; say why instead of failing the retrain.
                entry.active_error, current = str(exc), {}
            entry.current_unseen = len(rows) - len(current)
            waiting |= _not_embedded(store, active, current)
            current = {item: label for item, label in current.items()
                       if item not in waiting}
            new = {item: label for item, label in new.items() if item not in waiting}
            if new.keys() & current.keys():
                # Both on the same items: figures of different items do not compare.
                new = {item: label for item, label in new.items() if item in current}
                entry.current = figures_on(store, entry.task, rows,
                                           {item: current[item] for item in new})
                entry.active_optimistic = optimistic(active, entry.holdout_split)
        new = {item: label for item, label in new.items() if item not in waiting}
        entry.holdout_not_embedded = len(waiting)
        entry.new = figures_on(store, entry.task, rows, new)
        entry.recommend_switch = entry.new is not None and (
            entry.current is None or entry.new["macro_f1"] >= entry.current["macro_f1"])


def _not_embedded(store: Store, version: dict[str, Any], predicted: dict[int, str]
                  ) -> set[int]:
    """The ``predicted`` items with an image or text ``version`` reads not embedded yet:
    it predicted them without it (a fusion head as if the item had no image)."""
    image, text = version_encoders(store, version)
    kept, _ = embedded_items(store, list(predicted), image_encoder=image, text_encoder=text)
    return set(predicted) - set(kept)


def _waiting(entry: TaskRetrain) -> str:
    """"; 3 labelled items left out, not embedded yet (...)" for what the candidate and
    the holdout figures could not use yet, or ""."""
    notes = [entry.not_embedded] if entry.not_embedded else []
    if entry.holdout_not_embedded:
        notes.append(f"{plural(entry.holdout_not_embedded, 'holdout item')} not embedded "
                     "yet, left out of both versions' figures")
    return "".join(f"; {note}" for note in notes)


def _verdict(entry: TaskRetrain) -> str:
    """"; switch recommended" or why the active version is better kept (or the task
    left without one, where none is active: "keep the active one" named nothing)."""
    if entry.recommend_switch:
        return "; switch recommended"
    keep = ("keep the active one" if entry.active_name is not None
            else "leave the task without an active version")
    return f"; {keep}: {not_recommended_because(entry)}"


def _f1(report: dict[str, Any] | None) -> str:
    return f"{report['macro_f1']:.3f}" if report else "-"


def _used(sizes: dict[str, int]) -> str:
    """" (102 labels used: train 75, validation 9, dev 18)", or "" without a candidate."""
    if not sizes:
        return ""
    splits = ", ".join(f"{split} {n:,}" for split, n in sizes.items())
    return f" ({plural(sum(sizes.values()), 'label')} used: {splits})"
