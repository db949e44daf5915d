"""Predictions: every item lacking one from its task's active model version gets one,
and so does every item whose prediction is stale (it has a new caption or image
embedding the version did not see).

Where a task has no trained version yet, the job starts from what works offline: the
text-only head shipped in ``resources/heads/`` (MiniLM embeddings, trained on
CrisisMMD), or else CLIP zero-shot scores from class prompts. Each is registered as a
model version, named for what it is, so its predictions are never mistaken for a
trained head's (``starts.py``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from crisisdesk.core.encoders.base import another_model
from crisisdesk.core.fusion.checkpoint import CheckpointError, check_encoders, load_head
from crisisdesk.core.fusion.data import ItemKeys, item_inputs, item_tensors, usable_keys
from crisisdesk.core.fusion.predict_plan import Plan, SeenNow, items_to_predict, key_encoders
from crisisdesk.core.fusion.predict_report import PredictReport
from crisisdesk.core.fusion.starts import (  # noqa: F401 - callers import them from here
    BUNDLED,
    ZERO_SHOT,
    NoModel,
    bundled_head_path,
    resolve_version,
    shipped_head_replaced,
)
from crisisdesk.core.fusion.text_match import TextMismatch, text_mismatch
from crisisdesk.core.fusion.train import predict_logits
from crisisdesk.core.fusion.versions import (  # noqa: F401 - imported from here
    check_classes,
    version_encoders,
)
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import Prediction, Store
from crisisdesk.core.words import plural

CHUNK = 4096


class Predictor(Protocol):
    """A model version's scoring: (the items it could see, their probabilities).
    ``keys``: the items' embedding keys when the caller has read them already (see
    key_encoders), else the predictor reads them."""

    def __call__(self, items: Sequence[int], keys: ItemKeys | None = None
                 ) -> tuple[list[int], np.ndarray]: ...


def predictor_for(store: Store, task: str, version: dict[str, Any]) -> Predictor:
    """A function giving (items it could score, their probabilities) for a version."""
    path = version["path"]
    if path.startswith(ZERO_SHOT):
        from crisisdesk.core.fusion.zeroshot import zero_shot_probs

        name = path[len(ZERO_SHOT):]
        prompts = _zero_shot_class_vectors(store, task, name)
        has_text = bool(store.embedding_counts().get(name, {}).get("text"))

        def zero_shot(items: Sequence[int], keys: ItemKeys | None = None
                      ) -> tuple[list[int], np.ndarray]:
            tensors = item_tensors(store, items, image_encoder=name,
                                   text_encoder=name if has_text else None, strict=False,
                                   keys=keys)
            keep = (tensors.image_present | tensors.text_present).numpy()
            rows = np.flatnonzero(keep)
            probs = zero_shot_probs(
                tensors.image.numpy()[rows],
                tensors.text.numpy()[rows] if has_text else None, prompts)
            return [items[i] for i in rows], probs.astype(np.float32)

        return zero_shot
    model, sidecar = load_version(version)
    check_classes(store, task, version, sidecar)  # its columns are the scheme's classes
    return lambda items, keys=None: predict_items(store, model, sidecar, items, keys)


def _zero_shot_class_vectors(store: Store, task: str, name: str) -> np.ndarray:
    """The class vectors a zero-shot version over CLIP ``name`` scores with; NoModel
    saying what to do when that CLIP is not here or is not the one that embedded."""
    from crisisdesk.core.encoders.factory import load_encoder
    from crisisdesk.core.fusion.zeroshot import class_prompt_vectors
    from crisisdesk.core.models.registry import ModelMissing

    try:
        encoder = load_encoder(name)
    except ModelMissing as exc:
        # As a lost checkpoint: predict, eval and retrain report it and go on. Its words
        # stay ModelMissing's, which the app reads to offer the download or a folder.
        raise NoModel(str(exc)) from exc
    vectors = class_prompt_vectors(encoder, task)  # type: ignore[arg-type]
    dim = int(vectors.shape[1])
    # `models add` may have pointed the name at another model since the embed job ran
    # (which refuses it too): its class vectors cannot be compared with the stored ones.
    why = another_model(name, dim, store.embedding_dims(name))
    if why:
        raise NoModel(f"{why}. Register the earlier model as {name} again (crisisdesk "
                      f"models add {name} PATH)")
    return vectors


def load_version(version: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The head of a model version, rebuilt from its safetensors + sidecar pair."""
    path = version["path"]
    if path.startswith(BUNDLED):
        with ExitStack() as stack:
            bundled = bundled_head_path(path[len(BUNDLED):], stack)
            if bundled is None:
                raise NoModel(f"the shipped head {path} is not in this installation")
            replaced = shipped_head_replaced(version)
            if replaced:
                raise NoModel(replaced)
            return load_head(bundled)
    return load_head(Path(path))


def usable(sidecar: dict[str, Any], tensors: Any) -> torch.Tensor:
    """Which items a head can see: the modality it reads, or either for a fusion head."""
    variant = sidecar["config"]["variant"]
    if variant == "text_only":
        return tensors.text_present
    if variant == "image_only":
        return tensors.image_present
    return tensors.image_present | tensors.text_present


def predict_items(store: Store, model: torch.nn.Module, sidecar: dict[str, Any],
                  items: Sequence[int], keys: ItemKeys | None = None
                  ) -> tuple[list[int], np.ndarray]:
    """Calibrated probabilities for the items the head can see, and those items."""
    tensors = item_tensors(store, items, image_encoder=sidecar.get("image_encoder"),
                           text_encoder=sidecar.get("text_encoder"), strict=False, keys=keys)
    check_encoders(sidecar, image_encoder=sidecar.get("image_encoder"),
                   text_encoder=sidecar.get("text_encoder"),
                   image_dim=tensors.image.shape[1] if sidecar.get("image_encoder") else None,
                   text_dim=tensors.text.shape[1] if sidecar.get("text_encoder") else None)
    keep = usable(sidecar, tensors).numpy()
    kept = [item for item, ok in zip(items, keep, strict=True) if ok]
    if not kept:
        return [], np.zeros((0, len(sidecar["classes"])), dtype=np.float32)
    logits = predict_logits(model, tensors.subset(torch.from_numpy(np.flatnonzero(keep))))
    probs = torch.softmax(logits / float(sidecar.get("temperature") or 1.0), dim=-1)
    return kept, probs.numpy()


#: Predictions deleted per transaction when older versions' are removed.
REMOVE_CHUNK = 20_000


def project_tasks(project: Project, tasks: Sequence[str] | None = None) -> list[str]:
    """``tasks``, checked against the project's (KeyError naming the known ones, or why
    a task's stored scheme was left out), or all
    of the project's tasks, its own included: what a predict or retrain job runs over."""
    with project.open_store() as store:
        for task in tasks or ():
            store.scheme(task)  # a task left out (a damaged scheme) is said so
        return list(tasks or store.schemes())


class PredictJob:
    """Write predictions for every item that lacks one from the active version. A task
    whose active version cannot be loaded (checkpoint gone or damaged) is reported in its
    entry's ``error``; the job predicts the other tasks, then fails (NoModel) saying so."""

    kind = "predict"

    def __init__(self, project: Project, tasks: Sequence[str] | None = None) -> None:
        self.tasks = project_tasks(project, tasks)
        self.project, self.report = project, PredictReport()

    def run(self) -> Iterator[Progress]:
        return tracked(self.project, self.kind, {"tasks": self.tasks}, self._run(),
                       result=self.report.as_dict)

    def _run(self) -> Iterator[Progress]:
        with self.project.open_store() as store:
            plans = yield from self._plan(store)
            total, done = sum(len(items) for *_, items in plans), 0
            yield Progress(0, total, "planning predictions")
            for task, version, own, items in plans:
                entry = {"model_version": version["name"], "predicted": 0, "skipped": 0}
                if own:
                    self.report.tasks[task] = entry
                else:
                    variant = version["config"]["config"]["variant"]
                    self.report.modalities.setdefault(task, {})[variant] = entry
                try:
                    predict = predictor_for(store, task, version)
                except (CheckpointError, NoModel, OSError) as exc:
                    # A lost or damaged checkpoint must not stop the other versions' and
                    # tasks' predictions: reported here; for a task's own version the
                    # job then fails at its end (below), after the others are made.
                    entry["error"] = (unusable_version(task, version, exc, "predicted")
                                      if own else str(exc))
                    done += len(items)
                    continue
                image_encoder, text_encoder = version_encoders(store, version)
                keys_of = key_encoders(version, image_encoder, text_encoder)
                # Not the store record's classes (crafted, damaged): predictor_for made
                # sure the head's (its sidecar's) are the scheme's, in the same order.
                classes = list(scheme_for(task, store.schemes()).classes)
                mismatch = TextMismatch()
                if items:
                    # Until its last chunk is written: a cancel (or a crash) part-way
                    # leaves the count, and the report does not read as a finished task.
                    entry["not_reached"] = len(items)
                for start in range(0, len(items), CHUNK):
                    chunk = items[start:start + CHUNK]
                    # The chunk's keys are read once, for what it saw and for the head.
                    keys = usable_keys(store, chunk, *keys_of)
                    # Read before predicting: an embedding stored meanwhile (an embed job
                    # beside this one) then leaves the row stale for the next predict
                    # instead of marking as seen a text or image the head never read.
                    seen = item_inputs(store, chunk, image_encoder=image_encoder,
                                       text_encoder=text_encoder, keys=keys)
                    kept, probs = predict(chunk, keys)
                    # tolist() converts the whole chunk to Python floats in one C call.
                    store.add_predictions(version["id"], [
                        Prediction(item, task, dict(zip(classes, row, strict=True)),
                                   seen[item][0])
                        for item, row in zip(kept, probs.tolist(), strict=True)])
                    if text_encoder:
                        # The items whose text it read (an input ending in "|" has none).
                        read = [item for item in kept if not seen[item][0].endswith("|")]
                        mismatch.add(text_mismatch(store, version, read) or TextMismatch())
                    entry["predicted"] += len(kept)
                    entry["skipped"] += len(chunk) - len(kept)
                    entry["not_reached"] -= len(chunk)
                    if not entry["not_reached"]:
                        del entry["not_reached"]
                    done += len(chunk)
                    yield Progress(done, total, f"{task}: {entry['predicted']} predicted")
                # A head given texts of another kind than it trained on (captioned since,
                # by another captioner, or not yet) predicts them all the same: said.
                if note := mismatch.note(version["name"],
                                         version["config"].get("text_source") or ""):
                    entry["texts_note"] = note
            yield from self._remove_old(store, plans, total)
            # The report is read by the CLI; the app's jobs panel has only the steps: the
            # last one says what was written (it read "planning predictions" when none).
            yield Progress(total, total, self.report.outcome(), notes=self.report.notes())
            failed = [entry["error"] for entry in self.report.tasks.values()
                      if entry.get("error")]
            if failed:
                # What the others got, since a failed job's message is all the CLI shows.
                made = [f"{task} ({plural(entry['predicted'], 'item')} predicted)"
                        for task, entry in self.report.tasks.items()
                        if "error" not in entry and "no_model" not in entry]
                none = [task for task, entry in self.report.tasks.items()
                        if "no_model" in entry]
                raise NoModel(" ".join(failed) + (
                    f" Done for the other tasks: {', '.join(made)}." if made else "") + (
                    f" No model yet: {', '.join(none)}." if none else ""))

    def _remove_old(self, store: Store, plans: list[Plan], total: int
                    ) -> Iterator[Progress]:
        """Delete the predictions of each predicted task's versions that nothing shows
        any more: not its active version, nor its image-only and text-only ones (the
        "image vs text" queue). Each retrain at 200,000 items otherwise added ~250 MB
        that no queue, panel or export ever read. A version made active again predicts
        again (the app runs Predict then), as for the items imported since; one the
        queues read by now (made active, or an image-only or text-only version another
        process trained while this job ran) keeps its predictions (_remove_unread)."""
        kept: dict[str, set[int]] = {}
        for task, version, _own, _items in plans:
            kept.setdefault(task, set()).add(int(version["id"]))
        for task, keep in kept.items():
            entry = self.report.tasks.get(task, {})
            if entry.get("error"):
                continue  # its active version did not predict: leave the rest as it is
            removed = 0
            for version in store.versions_with_predictions(task):
                if version in keep:
                    continue
                # Short transactions: a label given meanwhile does not wait for all.
                while deleted := _remove_unread(store, task, version):
                    removed += deleted
                    yield Progress(total, total,
                                   f"{task}: removing older versions' predictions")
            if removed:
                entry["removed"] = removed

    def _plan(self, store: Store) -> Generator[Progress, None, list[Plan]]:
        """Each task's version and its image-only and text-only ones, with the items each
        is to predict. A task without a model is reported and left out; NoModel when no
        task has one. What the stale check read of the items (seen_now) lives in this
        generator only, so it is dropped before predicting starts (~300 MB at 300,000)."""
        plans: list[Plan] = []
        seen_now: SeenNow = {}
        missing: list[NoModel] = []
        for task in self.tasks:
            try:
                version = resolve_version(store, task, upgrade=True)
            except NoModel as exc:
                # One task without a model (e.g. imported embeddings, one head
                # trained) must not keep the others from being predicted.
                registered = len(store.model_versions(task))
                why = NoModel(_none_active(task, registered)) if registered else exc
                missing.append(why)  # registered, none active: "no model yet" was false
                self.report.tasks[task] = {"model_version": None, "predicted": 0,
                                           "skipped": 0, "no_model": str(why)}
                continue
            for one in (version, *_modality_versions(store, task, version)):
                # Finding stale predictions reads every item (seconds at 300,000): say
                # so, and let a cancel stop here (and between the slices read).
                yield Progress(0, 0, f"{task}: finding the items to predict")
                items = yield from items_to_predict(store, task, one, seen_now)
                plans.append((task, one, one is version, items))
        if not plans and missing:
            raise missing[0]
        return plans


def unusable_version(task: str, version: dict[str, Any], exc: BaseException,
                     what: str) -> str:
    """Why ``task`` was not ``what`` (predicted, evaluated): its active ``version``
    cannot be loaded (``exc`` names the file), and what to do."""
    return (f"{task} not {what}: its active version {version['name']} cannot be "
            f"loaded ({exc}). Make another {task} version active (the app's Jobs > "
            f"Model versions, or crisisdesk versions PROJECT --activate ID) or train a new "
            f"one (Retrain, or crisisdesk train PROJECT --task {task}).")


def _none_active(task: str, registered: int) -> str:
    """Why ``task`` was not predicted: it has versions but none is active (a first one
    trained with ``--no-activate``), and what to do."""
    return (f"{task} not predicted: {plural(registered, 'version')} registered, none is "
            f"active. Make one active (the app's Jobs > Model versions, or crisisdesk "
            f"versions PROJECT --activate ID).")


def _remove_unread(store: Store, task: str, version: int) -> int:
    """Delete up to REMOVE_CHUNK of ``version``'s predictions of ``task`` unless a queue
    reads them by then: the task's active version, or its newest image-only or text-only
    one (``crisisdesk train --no-activate`` in another process while this job ran, then
    predicted there). Read in the deleting transaction, taken with the write lock, so
    no such version can be registered between the check and the delete."""
    from crisisdesk.core.review_sql import modality_versions

    with store.transaction():
        active = store.active_model_version(task)
        if version in (*(modality_versions(store, task) or ()),
                       *((active["id"],) if active else ())):
            return 0
        return store.remove_predictions(task, version, REMOVE_CHUNK)


def _modality_versions(store: Store, task: str, active: dict[str, Any]
                       ) -> list[dict[str, Any]]:
    """The task's newest image-only and text-only versions, other than ``active``: the
    "image vs text disagree" queue compares their predictions, so predict keeps them
    filled and fresh too. None unless the task has both."""
    from crisisdesk.core.review_sql import modality_versions

    pair = modality_versions(store, task)
    if pair is None:
        return []
    versions = [store.model_version(vid) for vid in pair if vid != active["id"]]
    return [v for v in versions if v is not None]
