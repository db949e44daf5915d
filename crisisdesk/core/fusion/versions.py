"""A task's model versions as an analyst reads them: which is active, what each is
(trained here, the shipped head, zero-shot), what it reads and how it scored.

Read by ``crisisdesk versions`` and the app's Model versions window, so that an older
version can be found and made active again at any time, not only in a retrain's report.
Nothing here imports torch: listing versions must be instant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from crisisdesk.core.fusion.checkpoint import CheckpointError, checkpoint_paths, read_sidecar
from crisisdesk.core.fusion.starts import BUNDLED, ZERO_SHOT, head_replaced
from crisisdesk.core.schemes import builtin_schemes, scheme_for
from crisisdesk.core.store import Store


@dataclass(frozen=True)
class VersionSummary:
    """One model version, in the words of a listing."""

    id: int
    task: str
    name: str
    created_at: str
    active: bool
    kind: str  # "trained" (here), "shipped" (resources/heads) or "zero-shot"
    variant: str | None
    image_encoder: str | None
    text_encoder: str | None
    text_source: str | None  # "tweet", "tweet+caption:..." (see the sidecar)
    scored_split: str | None  # the split its figures are on (dev or test)
    accuracy: float | None  # of the registered head (its seed), on scored_split
    macro_f1: float | None
    seeds: int  # seeds trained; the best one is the registered head
    predicted: int  # items holding a prediction of this version
    missing: str | None  # why its head cannot be loaded (a checkpoint file gone, a shipped
    #                      head replaced by a later release's), or None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_macro_f1(metrics: Any) -> float | None:
    """A version's macro F1 from its training metrics (a mean over seeds), if recorded."""
    if not isinstance(metrics, dict):
        return None
    value = (metrics.get("summary") or {}).get("macro_f1", metrics.get("macro_f1"))
    if isinstance(value, dict):
        value = value.get("mean")
    return float(value) if isinstance(value, int | float) else None


def version_kind(path: str) -> str:
    """"zero-shot", "shipped" or "trained", from where a version's head is."""
    if path.startswith(ZERO_SHOT):
        return "zero-shot"
    return "shipped" if path.startswith(BUNDLED) else "trained"


def _registered_figures(metrics: Any) -> tuple[float | None, float | None, int]:
    """(accuracy, macro F1) of the seed that was registered, and the number of seeds.

    The listing names the head that predicts, not the mean of the seeds trained beside
    it; a version recorded before seeds were kept falls back to the mean."""
    if not isinstance(metrics, dict):
        return None, None, 0
    seeds = [s for s in metrics.get("seeds") or [] if isinstance(s, dict)]
    chosen = next((s for s in seeds if s.get("seed") == metrics.get("active_seed")), None)
    scored = (chosen or {}).get("scored")
    if isinstance(scored, dict):
        return (_number(scored.get("accuracy")), _number(scored.get("macro_f1")),
                len(seeds))
    summary = metrics.get("summary") or {}
    accuracy = summary.get("accuracy")
    return (_number(accuracy.get("mean") if isinstance(accuracy, dict) else accuracy),
            training_macro_f1(metrics), len(seeds))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _missing(row: dict[str, Any], kind: str) -> str | None:
    """Why a version's head is not there, checked by the files alone (cheap: loading
    every head of a long history would take seconds): a trained version's checkpoint
    gone, or a shipped head a later release replaced (its weights are not installed)."""
    if kind == "shipped":
        return head_replaced(row)
    if kind != "trained":
        return None
    for needed in checkpoint_paths(row["path"]):
        if not needed.is_file():
            return f"{needed} is gone"
    return None


def version_encoders(store: Store, version: dict[str, Any]) -> tuple[str | None, str | None]:
    """The (image, text) encoders whose embeddings a model version reads."""
    config = version["config"]
    if not config and version_kind(version["path"]) == "trained":
        # Its record in the store was damaged (store.models reads it as {}): the
        # checkpoint's own sidecar says what the head reads (a JSON file, no torch).
        try:
            config = read_sidecar(version["path"])
        except CheckpointError:
            config = {}  # predict then reports the checkpoint itself as unusable
    if config.get("zero_shot"):
        name = config["encoder"]
        # A look-up, not embedding_counts (the whole table): the detail panel asks this
        # for each item a zero-shot start has not predicted.
        has_text = store.has_embeddings("text", name)
        return name, name if has_text else None
    # A one-modality head reads its own modality only, whatever else its sidecar names
    # (--variant text_only --encoder X): the other must neither refresh nor hold it back.
    variant = (config.get("config") or {}).get("variant")
    return (None if variant == "text_only" else config.get("image_encoder"),
            None if variant == "image_only" else config.get("text_encoder"))


def why_no_prediction(store: Store, task: str, version: dict[str, Any] | None,
                      item: int) -> str:
    """Why ``item`` has no prediction of ``task`` from the task's active ``version``
    (None: the task has none), in the detail panel's words: "no prediction yet" read
    as "wait for Predict" where none will ever come."""
    if version is None:
        if task in builtin_schemes():
            # The analyst's words: "the shipped head or zero-shot" named the code's parts.
            return ("no model version yet: Predict uses the models that come with the app "
                    "where it can, Retrain trains one on your labels")
        return "no model version yet: this project's own task predicts once Retrain trains one"
    name = version["name"]
    if version_encoders(store, version)[1] is None:
        # A version reading images only is never given an item without a usable image
        # (predict_plan.items_to_predict): it would wait for ever.
        sha256, status = store.item_images([item]).get(item, (None, None))
        if sha256 is None or status != "ok":
            return (f"{name} reads images only and this item has no usable image: it "
                    "will never predict it (another version that reads text can)")
    return f"not predicted by {name} yet: Predict scores it once its inputs are embedded"


def check_classes(store: Store, task: str, version: dict[str, Any],
                  sidecar: dict[str, Any]) -> None:
    """Refuse a version's head unless its sidecar's task (when it says one) is ``task``
    and its sidecar's classes (those it was trained with, in the order of its outputs)
    are the task's scheme's: predict, eval, retrain and explain label its probabilities
    with the scheme's. A crafted or damaged checkpoint,
    or one trained under another scheme, would otherwise be stored, scored and shown
    under other classes' names, without a word."""
    # A head of another task with the same class list would predict that task's question
    # under this one's name. An older sidecar may not say its task: its classes decide.
    trained_for = sidecar.get("task")
    if trained_for is not None and trained_for != task:
        raise CheckpointError(
            f"version {version['name']} of the {task} task holds a head trained for the "
            f"{trained_for} task (its sidecar says so): it answers {trained_for}'s "
            f"question, not {task}'s, even with the same classes (a checkpoint "
            "registered under the wrong task, or one edited by hand)")
    trained, scheme = list(sidecar["classes"]), list(scheme_for(task, store.schemes()).classes)
    if trained != scheme:
        raise CheckpointError(
            f"version {version['name']} was trained with the classes {trained}, but this "
            f"project's {task} scheme has {scheme}: its probabilities would be put under "
            "the wrong classes (a checkpoint from another project or scheme, or one "
            "edited by hand)")


def summarise_versions(store: Store, task: str) -> list[VersionSummary]:
    """Every version of ``task``, newest first, with its figures and prediction count."""
    counts = {int(r[0]): int(r[1]) for r in store.conn.execute(
        "SELECT model_version, COUNT(*) FROM predictions WHERE task = ?"
        " GROUP BY model_version", [task])}
    out = []
    for row in store.model_versions(task):
        config = row["config"] if isinstance(row["config"], dict) else {}
        kind = version_kind(row["path"])
        head = config.get("config") if isinstance(config.get("config"), dict) else {}
        accuracy, macro_f1, seeds = _registered_figures(row["metrics"])
        image, text = version_encoders(store, {**row, "config": config})
        metrics = row["metrics"] if isinstance(row["metrics"], dict) else {}
        out.append(VersionSummary(
            id=int(row["id"]), task=task, name=row["name"],
            created_at=str(row.get("created_at") or ""), active=bool(row["active"]),
            kind=kind, variant=head.get("variant") or (None if kind != "zero-shot"
                                                       else "zero-shot"),
            image_encoder=image, text_encoder=text, text_source=config.get("text_source"),
            scored_split=metrics.get("scored_split"), accuracy=accuracy, macro_f1=macro_f1,
            seeds=seeds, predicted=counts.get(int(row["id"]), 0),
            missing=_missing(row, kind)))
    return out
