"""Planning a predict run: which items each model version is to predict (those it has
no prediction for, and those whose prediction is stale: what it would see now differs
from what it saw), read in slices so that a cancel stops it."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from crisisdesk.core.fusion.data import item_inputs
from crisisdesk.core.fusion.versions import version_encoders
from crisisdesk.core.progress import Progress
from crisisdesk.core.store import Store

#: Items whose embedding keys the stale check reads between two chances to cancel.
PLAN_SLICE = 20_000


def key_encoders(version: dict[str, Any], image: str | None, text: str | None
                  ) -> tuple[str | None, str | None]:
    """The (image, text) encoders whose keys predicting with ``version`` reads: those of
    what it sees (``image``, ``text``: version_encoders'), and a head's sidecar's two, as
    predict_items hands a one-modality head the other's tensors too."""
    config = version["config"]
    return image or config.get("image_encoder"), text or config.get("text_encoder")


#: What each item's image or text looks like now to one encoder, per (kind, encoder):
#: item -> item_inputs' (fingerprint, complete) with the other modality left out. One
#: predict run reads each item once per modality for all its versions: a task's active,
#: image-only and text-only versions, and the tasks' versions, share encoders.
SeenNow = dict[tuple[str, str], dict[int, tuple[str, bool]]]

#: A task, one of its versions, whether that is the task's own (else an image-only or
#: text-only one, for their queue), and the items the version is to predict.
Plan = tuple[str, dict[str, Any], bool, list[int]]


def items_to_predict(store: Store, task: str, version: dict[str, Any], seen_now: SeenNow
                      ) -> Generator[Progress, None, list[int]]:
    """Items with no prediction from ``version``, and those whose prediction is stale:
    what the version would see of them now (a caption's text, an image embedded since)
    differs from what it saw, and is all embedded (until then the old one stands).
    A version reading images only gets the items with a usable image only: it can never
    predict the others. Yields between slices read, so a cancel stops it."""
    encoders = version_encoders(store, version)
    missing = store.items_without_prediction(task, version["id"],
                                             with_image=encoders[1] is None)
    stored = store.prediction_inputs(task, version["id"])
    if not stored:
        return missing
    parts = []
    for kind, encoder in zip(("image", "text"), encoders, strict=True):
        if encoder is None:
            continue
        part = seen_now.setdefault((kind, encoder), {})
        unread = [item for item in stored if item not in part]
        for start in range(0, len(unread), PLAN_SLICE):
            chunk = unread[start:start + PLAN_SLICE]
            part.update(item_inputs(store, chunk,
                                    image_encoder=encoder if kind == "image" else None,
                                    text_encoder=encoder if kind == "text" else None))
            yield Progress(0, 0, f"{task}: finding the items to predict")
        parts.append(part)
    stale = [item for item, seen in stored.items()
             if (now := _seen(parts, item))[1] and now[0] != seen]
    return sorted(set(missing).union(stale))


def _seen(parts: list[dict[int, tuple[str, bool]]], item: int) -> tuple[str, bool]:
    """What a version reading the encoders of ``parts`` (image first) sees of ``item``,
    as item_inputs says it: the image part's "<sha>|" and the text part's "|<key>" make
    "<sha>|<key>", complete when both are."""
    if not parts:  # a version reading no encoder (never made): sees nothing, as before
        return "|", True
    if len(parts) == 1:
        return parts[0][item]
    (image, image_complete), (text, text_complete) = parts[0][item], parts[1][item]
    return image + text[1:], image_complete and text_complete
