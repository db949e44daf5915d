"""Explanations of a project's items, computed on demand and cached.

An item is explained for the task's active model version (as predictions are made: a
trained fusion head, the shipped text-only head ``bundled:<task>``, or CLIP zero-shot
scoring). The head, its sidecar and the encoders its embeddings came from are loaded once
per process and kept.

Cache: one JSON file per explanation in ``<project>/cache/explain/``, named by the sha256
of its key: (format, item uid, task, class asked for or "top", model version id, name and
path, sha256 of the text the head reads, image sha256, whether a zero-shot version reads
the texts). A new caption, a retrained model, another class or texts embedded for a
zero-shot start is another key, so nothing stale is ever served; old files are no longer
read. Files are written atomically; an unreadable one is recomputed. A file's name starts
with its model version's id, so the cache is bounded (:data:`CACHE_FILES`, pruned by the
writing thread, a worker's, never the UI's) keeping the active versions' files first.
The loaded heads are bounded too (:data:`MAX_EXPLAINERS`, the most recently used), and
an encoder is kept only while a kept head reads its embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from crisisdesk.core.explain.explainer import Explainer, ZeroShotHead
from crisisdesk.core.explain.result import FORMAT, Explanation
from crisisdesk.core.explain.vit import ExplainError
from crisisdesk.core.files import file_sha256, write_json_atomic
from crisisdesk.core.project import Project
from crisisdesk.core.review_sql import active_versions
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import Store, text_key

#: Explanation files kept per project (a few KB each, ~10 KB with a ViT-B/16 grid): a
#: day's overlay browsing over 100,000 items grew the folder without end. Past the bound
#: the oldest go, those of model versions no longer active first.
CACHE_FILES = 20_000
#: Writes between two prunes of a project's cache (the first write in a process prunes):
#: a prune lists the folder, which is not free at 20,000 files.
PRUNE_EVERY = 200
#: Heads kept loaded, the most recently used: each model version explained in a session
#: kept one until the app closed. The encoders are shared by the heads over them and
#: kept while one of those is.
MAX_EXPLAINERS = 4

_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str], Any] = {}
_EXPLAINERS: OrderedDict[tuple[int, str, str, str, bool | None], Explainer] = OrderedDict()
_WRITES: dict[Path, int] = {}  # cache folder -> writes by this process (see PRUNE_EVERY)
#: Image files whose sha256 is remembered with the stat it was read under, the most
#: recently checked (a path, its stat and a hex digest: a few hundred bytes each).
HASHES_KEPT = 10_000
_HASH_LOCK = threading.Lock()  # not _LOCK: that one is held while an encoder loads
_HASHED: OrderedDict[str, tuple[tuple[int, int, int, int], str]] = OrderedDict()


def _encoder(name: str, device: str) -> Any:
    """A loaded encoder, shared by every explainer of this process."""
    from crisisdesk.core.encoders.factory import load_encoder

    with _LOCK:
        if (name, device) not in _ENCODERS:
            _ENCODERS[(name, device)] = load_encoder(name, device=device)
        return _ENCODERS[(name, device)]


def zero_shot_reads_text(store: Store, version: dict[str, Any]) -> bool | None:
    """Whether a zero-shot version scores the texts too (None: not a zero-shot version).

    It does once its CLIP's text embeddings exist (``fusion.predict`` decides so at each
    predict run), so the answer changes when texts are embedded after the images: the
    kept explainer and the cache key must follow it, or the explanation goes on scoring
    the image alone after the prediction read image and text.
    """
    from crisisdesk.core.fusion.predict import ZERO_SHOT

    path = str(version["path"])
    if not path.startswith(ZERO_SHOT):
        return None
    return store.has_embeddings("text", path[len(ZERO_SHOT):])


def explainer_for(store: Store, task: str, version: dict[str, Any], device: str = "auto"
                  ) -> Explainer:
    """The explainer of a model version (loaded on first use, then kept)."""
    from crisisdesk.core.fusion.predict import ZERO_SHOT, check_classes, load_version

    has_text = zero_shot_reads_text(store, version)
    key = (int(version["id"]), str(version["path"]), task, device, has_text)
    with _LOCK:
        if key in _EXPLAINERS:
            _EXPLAINERS.move_to_end(key)
            return _EXPLAINERS[key]
    path = str(version["path"])
    if path.startswith(ZERO_SHOT):
        from crisisdesk.core.fusion.zeroshot import class_prompt_vectors

        name = path[len(ZERO_SHOT):]
        encoder = _encoder(name, device)
        head = ZeroShotHead(class_prompt_vectors(encoder, task))
        # The prompts' class order (the scheme's), not the store record's: a crafted or
        # damaged record would put the scores under other names, or end in a KeyError.
        sidecar = {"classes": list(scheme_for(task, store.schemes()).classes),
                   "image_encoder": name,
                   "text_encoder": name if has_text else None, "temperature": 1.0}
    else:
        head, sidecar = load_version(version)
        check_classes(store, task, version, sidecar)
    explainer = Explainer(
        head, sidecar,
        image_encoder=_encoder(sidecar["image_encoder"], device)
        if sidecar.get("image_encoder") else None,
        text_encoder=_encoder(sidecar["text_encoder"], device)
        if sidecar.get("text_encoder") else None,
        model_version=str(version["name"]))
    with _LOCK:
        _EXPLAINERS[key] = explainer
        while len(_EXPLAINERS) > MAX_EXPLAINERS:
            _EXPLAINERS.popitem(last=False)
        _drop_unused_encoders()
    return explainer


def _drop_unused_encoders() -> None:
    """Let go of the encoders no kept explainer uses (the caller holds ``_LOCK``): a
    CLIP is hundreds of MB, and the one the analyst switched away from stayed loaded for
    the session. One that is used again is loaded again, as on first use."""
    used = {id(encoder) for kept in _EXPLAINERS.values()
            for encoder in (kept.image_encoder, kept.text_encoder) if encoder is not None}
    for key in [key for key, encoder in _ENCODERS.items() if id(encoder) not in used]:
        del _ENCODERS[key]


def _item_facts(store: Store, item_id: str | int) -> dict[str, Any]:
    """uid, row id, text (tweet + caption), where the caption starts, image path / sha."""
    if isinstance(item_id, int):
        row_id = item_id
    else:
        try:
            row_id = store.resolve_item(item_id).id
        except LookupError as exc:
            raise ExplainError(exc.args[0]) from None
    texts = store.item_texts([row_id])
    media = store.item_media(row_id)
    if not texts or media is None:
        raise ExplainError(f"no item {item_id!r} in this project")
    text = texts[0].text
    caption = store.item_caption(row_id)
    start = None
    if caption is not None and caption.caption and text.endswith(caption.caption):
        start = len(text) - len(caption.caption)
    usable = media.path if media.status == "ok" and media.path else None
    state = _file_state(usable, media.sha256, media.size) if usable else None
    return {"id": row_id, "uid": media.uid, "text": text, "caption_start": start,
            "tweet": media.tweet, "text_note": None,
            "image": usable, "image_sha256": media.sha256 if usable else None,
            "status": media.status, "reason": media.reason, "changed": state == "changed",
            "unreadable": state == "unreadable", "sensitive": media.sensitive}


def _version_text_encoder(version: dict[str, Any], reads_text: bool | None) -> str | None:
    """The encoder of the text embeddings a version reads (None: it reads no text)."""
    from crisisdesk.core.fusion.predict import ZERO_SHOT

    path = str(version["path"])
    if reads_text is not None:  # zero-shot
        return path[len(ZERO_SHOT):] if reads_text else None
    config = version.get("config") or {}
    if (config.get("config") or {}).get("variant") == "image_only":
        return None
    return config.get("text_encoder")


def _text_predicted(store: Store, facts: dict[str, Any], task: str,
                    version: dict[str, Any], encoder: str | None) -> None:
    """Make ``facts`` name the text the item's standing prediction read, where that is not
    its text now: a caption added since (or set aside) whose text is not embedded yet.

    Predict keeps a prediction until what replaces its input is embedded, so the app
    shows the one made from the tweet (or an earlier caption) meanwhile; explaining the
    new text would give other probabilities, maybe another class, and value words the
    prediction never read. Only looked up while the text now has no embedding.
    """
    if encoder is None or not store.missing_keys("text", encoder, [text_key(facts["text"])]):
        return
    inputs = store.prediction_input(task, int(version["id"]), facts["id"]) or ""
    read = inputs.partition("|")[2]
    if not read:
        return  # no prediction yet (or one that read no text): explain the text as it is
    tweet = facts["tweet"]
    for caption in [None, *store.item_captions(facts["id"])]:
        text = f"{tweet} {caption.caption}".strip() if caption else tweet
        if text_key(text) != read:
            continue
        start = None
        if caption is not None and caption.caption and text.endswith(caption.caption):
            start = len(text) - len(caption.caption)
        what = "an earlier caption" if caption is not None else "the tweet alone"
        facts.update(text=text, caption_start=start, text_note=(
            "the item's text now (its caption changed since the prediction) is not embedded "
            f"yet: the prediction shown read {what}, and so does this explanation (embed "
            "the texts, then predict, to score the text now)"))
        return


def _file_state(path: str, sha: str | None, size: int | None) -> str:
    """"same" (the file imported), "changed" (its sha256 differs: its embedding, which
    the head reads, is the imported file's) or "unreadable" (gone or not readable since
    the import, which the store learns only at the next media check: the image pass
    says why it cannot be explained).

    Another size than the one recorded at import is another file, without reading it;
    the same size is hashed, once for as long as the file's stat stays as it was (see
    :func:`_stat_sha256`)."""
    try:
        stat = os.stat(path)
        if size is not None and stat.st_size != size:
            return "changed"
        return "changed" if _stat_sha256(path, stat) != sha else "same"
    except OSError:
        return "unreadable"


def _stat_sha256(path: str, stat: os.stat_result) -> str:
    """The sha256 of the file at ``path``, hashed again only when its size, times or
    inode moved since this process last hashed it: each explanation served from the
    cache read and hashed the whole picture (over a network share too) just to learn it
    had not changed. A save, a copy over it or a rename onto it moves the stat."""
    stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    with _HASH_LOCK:
        known = _HASHED.get(path)
        if known is not None and known[0] == stamp:
            _HASHED.move_to_end(path)
            return known[1]
    digest = file_sha256(Path(path))
    with _HASH_LOCK:
        # The stat from before the read: a write during it moves the stat, and the next
        # look hashes the file again.
        _HASHED[path] = (stamp, digest)
        _HASHED.move_to_end(path)
        while len(_HASHED) > HASHES_KEPT:
            _HASHED.popitem(last=False)
    return digest


def cache_path(project: Project, key: dict[str, Any]) -> Path:
    """Where the explanation with this key is (or would be) cached: named by its model
    version's id (pruning keeps the active versions' files first) and the key's sha256."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
    return project.folder("cache") / "explain" / f"{key['model_version']}-{digest[:40]}.json"


def _prune_due(folder: Path) -> bool:
    """Whether this write to ``folder`` is one that prunes it (see PRUNE_EVERY)."""
    with _LOCK:
        writes = _WRITES.get(folder, 0)
        _WRITES[folder] = writes + 1
    return writes % max(1, PRUNE_EVERY) == 0


def prune_cache(folder: Path, active: set[int]) -> int:
    """Delete the oldest explanation files of ``folder`` past :data:`CACHE_FILES`, those
    of versions not in ``active`` first; returns how many went.

    Another thread or process may prune or read the same files meanwhile: a file gone
    already is skipped, and a reader of a file deleted under it recomputes it. Temp files
    of writes in progress (hidden) are never touched."""
    files: list[tuple[bool, float, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(".json"):
                    continue
                try:
                    stamp = entry.stat().st_mtime
                except OSError:
                    continue  # pruned by another thread meanwhile
                version, named, _digest = entry.name.partition("-")
                current = bool(named) and version.isdigit() and int(version) in active
                files.append((current, stamp, entry.path))
    except OSError:
        return 0
    excess = len(files) - CACHE_FILES
    if excess <= 0:
        return 0
    files.sort()  # other versions' (and older names') first, then the oldest
    for _current, _stamp, path in files[:excess]:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            continue  # held open elsewhere (Windows): the next prune takes it
    return excess


def explain_item(project: Project, item_id: str | int, task: str,
                 class_name: str | None = None, *, device: str = "auto",
                 use_cache: bool = True) -> Explanation:
    """Why the task's active model version scores ``class_name`` (default: its top class)
    as it does for an item (its uid, ``<post id>_<n>`` or row id).

    Raises ExplainError (no such item or class, an encoder that cannot be explained),
    NoModel (the task has no model yet) or the encoders' loading errors (ModelMissing...).
    """
    from crisisdesk.core.fusion.predict import resolve_version

    with project.open_store() as store:
        facts = _item_facts(store, item_id)
        version = resolve_version(store, task)
        reads_text = zero_shot_reads_text(store, version)
        _text_predicted(store, facts, task, version,
                        _version_text_encoder(version, reads_text))
        key = {"format": FORMAT, "item": facts["uid"], "task": task,
               "class": class_name or "top", "model_version": int(version["id"]),
               "model_name": version["name"], "model_path": version["path"],
               "text": text_key(facts["text"]), "image": facts["image_sha256"],
               "reads_text": reads_text}
        path = cache_path(project, key)
        # A replaced file: the cached heat map is the imported picture's, not this one's;
        # a file gone since: there is no picture to draw it over, and a note must say why.
        if use_cache and path.is_file() and not facts["changed"] and \
                not facts["unreadable"]:
            try:
                cached = Explanation.from_json(
                    json.loads(path.read_text("utf-8"))["explanation"])
                cached.image_path, cached.sensitive = facts["image"], facts["sensitive"]
                # Not cached: the same text explained once its caption is set aside.
                cached.notes += [facts["text_note"]] if facts["text_note"] else []
                return cached
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged or older file: compute again and replace it
        active = set(active_versions(store).values())  # what a prune keeps first
        explainer = explainer_for(store, task, version, device)
        image_vector = None
        if facts["image_sha256"] and explainer.image_encoder is not None:
            # What predictions read: the head scores it when the file is gone since.
            image_vector = store.get_embeddings(
                "image", explainer.sidecar["image_encoder"], [facts["image_sha256"]]
            ).get(facts["image_sha256"])
        text_vector = None
        if explainer.text_encoder is not None:
            # The encoder's vector of it is checked against this (the same model?).
            stored_key = text_key(facts["text"])
            text_vector = store.get_embeddings(
                "text", explainer.sidecar["text_encoder"], [stored_key]).get(stored_key)
    if class_name is not None and class_name not in explainer.classes:
        raise ExplainError(f"{class_name!r} is not a class of task {task} "
                           f"(one of: {', '.join(explainer.classes)})")
    # A replaced file is not run through CLIP: the head scores its stored embedding, as
    # predictions do (embed checks the sha256 too), and there is no map of another picture.
    result = explainer.explain(
        image=Path(facts["image"]) if facts["image"] and not facts["changed"] else None,
        text=facts["text"],
        caption_start=facts["caption_start"], class_name=class_name, item=facts["uid"],
        task=task, image_vector=image_vector, text_vector=text_vector)
    if facts["status"] in ("missing", "unreadable") and explainer.image_encoder is not None:
        result.notes.append(f"image {facts['status']}: {facts['reason'] or 'no file'}")
    if facts["changed"] and explainer.image_encoder is not None:
        read = "the head read the imported file's embedding, as predictions do" \
            if image_vector is not None else "the imported file has no embedding to read"
        result.notes.append("image not explained: the file changed since it was imported "
                            f"(its sha256 differs); {read}")
    if not (facts["image"] and explainer.image_encoder is not None and result.image is None):
        # Not when the file could not be read: put back, it gives the heat map again.
        write_json_atomic(path, {"key": key, "explanation": result.to_json()})
        if _prune_due(path.parent):
            prune_cache(path.parent, active)
    result.image_path, result.sensitive = facts["image"], facts["sensitive"]
    result.notes += [facts["text_note"]] if facts["text_note"] else []
    return result


def forget_loaded() -> None:
    """Drop the heads and encoders kept in memory (after models were re-registered)."""
    with _LOCK:
        _EXPLAINERS.clear()
        _ENCODERS.clear()
