"""Where a task's predictions start before any training: the text-only head shipped in
``resources/heads/`` (MiniLM embeddings, trained on CrisisMMD), or else CLIP zero-shot
scores from class prompts. Each is registered as a model version named for what it is,
so its predictions are never mistaken for a trained head's (``resolve_version``)."""

from __future__ import annotations

from contextlib import ExitStack
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

from crisisdesk.core.fusion.checkpoint import load_head, read_sidecar
from crisisdesk.core.resources import resource
from crisisdesk.core.schemes import builtin_schemes, scheme_for
from crisisdesk.core.store import Store

BUNDLED = "bundled:"
ZERO_SHOT = "zero-shot:"


class NoModel(Exception):
    """A task with no way to predict yet; the message says what to do (in the CLI's
    words). ``task``: the task that has no model version yet, so a front end can say
    what to do in its own words; None when a version exists but cannot be used."""

    def __init__(self, message: str, task: str | None = None) -> None:
        super().__init__(message)
        self.task = task


def bundled_head_path(task: str, stack: ExitStack) -> Path | None:
    """The shipped head of ``task`` as a file path (kept valid by ``stack``), or None."""
    node = resource("heads", f"{task}.json")
    if not node.is_file():
        return None
    folder = stack.enter_context(importlib_resources.as_file(resource("heads")))
    return Path(folder) / f"{task}.json"


def resolve_version(store: Store, task: str, *, upgrade: bool = False) -> dict[str, Any]:
    """The task's active version; registers the bundled head when there is none and the
    project has its text embeddings (else the zero-shot start). Another process may
    register one meanwhile: the store then hands back that one (one version, both use
    it). KeyError naming the known tasks for a task the project does not have (not
    "no model yet"). ``upgrade`` (the predict job only: eval, explain and retrain read the
    active version, they do not switch it): a zero-shot start gives way to the shipped
    head, see below."""
    version = store.active_model_version(task)
    if version is None:
        scheme_for(task, store.schemes())
    if version is not None:
        if upgrade and version["path"].startswith(ZERO_SHOT):
            # The zero-shot start gives way, once, to the shipped head when its texts
            # are embedded after the images (CLIP first, MiniLM later): the start the
            # README puts first. Once the project has had the shipped head, the
            # analyst's choice between them stands.
            return _shipped_head_version(store, task, replacing=version) or \
                store.active_model_version(task) or version  # (another window's switch)
        if upgrade and version["path"].startswith(BUNDLED) and \
                shipped_head_replaced(version):
            # An upgrade shipped another head for the task: it predicts as a version of
            # its own, so that no version's predictions come from two heads.
            return _shipped_head_version(store, task, replacing=version) or \
                store.active_model_version(task) or version
        return version
    shipped = _shipped_head_version(store, task)
    if shipped is not None:
        return shipped
    zero_shot = _zero_shot_version(store, task)
    if zero_shot is not None:
        return zero_shot
    if task not in builtin_schemes():  # no shipped head or prompts: training is the start
        raise NoModel(f"no {task} model in this project yet: label some items and train "
                      f"one (crisisdesk train PROJECT --task {task}).", task=task)
    raise NoModel(
        f"no {task} model in this project yet. Either embed the texts for the shipped "
        "text-only head (crisisdesk embed PROJECT --encoder minilm --kind text), embed the "
        "images with a CLIP model for zero-shot predictions (crisisdesk embed PROJECT), or "
        f"train one (crisisdesk train PROJECT --task {task}).", task=task)


def _shipped_head_version(store: Store, task: str, replacing: dict[str, Any] | None = None
                          ) -> dict[str, Any] | None:
    """Register the shipped text-only head of ``task`` as the active version when the
    project has its encoder's text embeddings: when the task has no active version, or
    (``replacing``) in place of that zero-shot start if the shipped head was never
    registered in this project, or in place of another release's shipped head (this
    release's head registered, or its version made active again). None when it does not
    apply."""
    with ExitStack() as stack:
        path = bundled_head_path(task, stack)
        if path is None:
            return None
        _, sidecar = load_head(path)
    encoder = sidecar["text_encoder"]
    if not store.has_embeddings("text", encoder):
        return None
    name, where = f"bundled-{encoder}-{task}", f"{BUNDLED}{task}"
    if replacing is None:
        return store.active_or_add_model_version(task, name, where, encoder=encoder,
                                                 config=sidecar,
                                                 metrics=sidecar.get("metrics"))
    upgrade = replacing["path"].startswith(BUNDLED)
    if upgrade:
        # Told apart from the older release's head of the same name in the listings.
        name += f"-{str(sidecar.get('created_at', ''))[:10]}".rstrip("-")

    def had(version: dict[str, Any]) -> bool:
        """Whether ``version`` is the head ``replacing`` gives way to (a zero-shot start
        gives way to any shipped head the project never had, an older shipped head to
        this release's)."""
        return version["path"] == where and (
            not upgrade or _registered_sha(version) == sidecar["weights_sha256"])

    with store.transaction():  # checked and switched at once: another window may too
        active = store.active_model_version(task)
        if active is None or active["id"] != replacing["id"]:
            return None
        held = next((v for v in store.model_versions(task) if had(v)), None)
        if held is not None:
            if not upgrade:
                return None  # the analyst's choice between zero-shot and shipped stands
            # This release's head holds a version already (a release installed again
            # after a later one's head predicted, or a colleague's older install on a
            # shared project): the active head cannot load here, so that version predicts.
            store.activate_model_version(held["id"])
            return store.model_version(held["id"])
        added = store.add_model_version(task, name, where, encoder=encoder, config=sidecar,
                                        metrics=sidecar.get("metrics"))
    return store.model_version(added)


def _registered_sha(version: dict[str, Any]) -> str | None:
    """The weights' sha256 a shipped head had when ``version`` registered it."""
    config = version.get("config")
    return config.get("weights_sha256") if isinstance(config, dict) else None


def _shipped_sha(task: str) -> str | None:
    """The weights' sha256 of the head this installation ships for ``task``, or None."""
    with ExitStack() as stack:
        path = bundled_head_path(task, stack)
        return None if path is None else read_sidecar(path)["weights_sha256"]


def head_replaced(version: dict[str, Any]) -> str | None:
    """The fact, in a listing's words, when the shipped-head ``version`` is no longer the
    head this installation ships (a later release retrained it), else None."""
    registered = _registered_sha(version)
    if registered is None:
        return None  # a record with no figures
    task = version["path"][len(BUNDLED):]
    shipped = _shipped_sha(task)
    if shipped is None or shipped == registered:
        return None  # none shipped (said when loaded), or this release's head
    return (f"this release ships another {task} head (other weights) in place of the "
            "one that made its predictions")


def shipped_head_replaced(version: dict[str, Any]) -> str | None:
    """Why the shipped-head ``version`` cannot predict any more (a later release
    retrained its head), in predict's words, else None: its predictions came from other
    weights than those it would load now."""
    replaced = head_replaced(version)
    if replaced is None:
        return None
    return (f"the shipped head {version['name']} cannot predict: {replaced}; predict "
            f"again to predict with the new head as a version of its own")


def replaced_activation(store: Store, version: dict[str, Any]) -> str | None:
    """Why the shipped-head ``version`` cannot be made active (its head was replaced by
    a later release's), in an activation's words, naming the version that holds this
    installation's head where the project has one; None when it can."""
    replaced = head_replaced(version)
    if replaced is None:
        return None
    task = version["path"][len(BUNDLED):]
    shipped = _shipped_sha(task)
    held = next((v for v in store.model_versions(task) if v["path"] == version["path"]
                 and _registered_sha(v) == shipped), None)
    instead = (f"; version {held['id']} {held['name']} holds this release's head"
               if held is not None else
               "; the predictions it made stay as they are")
    return f"{version['name']} cannot be made active: {replaced}{instead}"


def _zero_shot_version(store: Store, task: str) -> dict[str, Any] | None:
    """Register CLIP zero-shot scoring for ``task`` when the project has image embeddings
    of an installed CLIP model (the zero-shot start, before any training)."""
    from crisisdesk.core.models.registry import all_specs, is_installed

    if not resource("zero_shot_prompts", f"{task}.json").is_file():
        return None  # a project's own task: no class prompts are shipped for it
    counts = store.embedding_counts()
    for spec in all_specs().values():
        if spec.kind == "clip" and counts.get(spec.name, {}).get("image") and \
                is_installed(spec):
            config = {"zero_shot": True, "encoder": spec.name,
                      "classes": list(scheme_for(task).classes)}
            return store.active_or_add_model_version(
                task, f"zero-shot-{spec.name}-{task}", f"{ZERO_SHOT}{spec.name}",
                encoder=spec.name, config=config)
    return None
