"""Scoring a task's active model version on a labelled split (``crisisdesk eval``).

The report is metrics.classification_report's (accuracy, macro and weighted F1, per-class
figures, confusion matrix) plus the expected calibration error, and ``optimistic`` when
the split is one the version's training looked at.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisisdesk.core.fusion.data import embedded_items
from crisisdesk.core.fusion.checkpoint import CheckpointError
from crisisdesk.core.fusion.predict import predictor_for, resolve_version, unusable_version
from crisisdesk.core.fusion.starts import BUNDLED
from crisisdesk.core.fusion.text_match import text_mismatch
from crisisdesk.core.fusion.versions import version_encoders
from crisisdesk.core.store import Store


def evaluate(store: Store, task: str, split: str) -> dict[str, Any]:
    """Score the task's active version on the labelled items of ``split``; the report's
    ``optimistic`` says why its figures flatter it, when they do."""
    from crisisdesk.core.fusion.metrics import (
        classification_report,
        expected_calibration_error,
    )

    scheme = store.scheme(task)
    version = resolve_version(store, task)
    try:
        predict = predictor_for(store, task, version)
    except (CheckpointError, OSError) as exc:
        # The file alone left the analyst to guess; predict says what to do, so does eval.
        raise CheckpointError(unusable_version(task, version, exc, "evaluated")) from exc
    rows = [(item, label) for item, label, item_split in store.labelled_items(task)
            if item_split == split and label in scheme.classes]
    if not rows:
        raise ValueError(f"no labelled {task} items in the {split} split")
    # An item whose image (or text) the head reads is not embedded yet is not scored, as
    # training leaves it out: the predictor would take it for an image-less post.
    image_encoder, text_encoder = version_encoders(store, version)
    seen, _ = embedded_items(store, [item for item, _ in rows], image_encoder=image_encoder,
                             text_encoder=text_encoder)
    kept, probs = predict(seen) if seen else ([], None)
    if not kept:
        # Else classification_report's bare "no items to score" names no task or cause.
        raise ValueError(f"the {version['name']} model could see none of the {len(rows)} "
                         f"labelled {task} items in the {split} split: they have no "
                         "embedding it reads (crisisdesk embed PROJECT, with the "
                         "encoders it was trained on)")
    truth = dict(rows)
    labels = np.array([scheme.classes.index(truth[item]) for item in kept])
    report = classification_report(labels, probs.argmax(axis=1), list(scheme.classes))
    # Figures on texts of another kind than the head trained on (captioned since) are
    # not its usual ones: said, as an eval after captioning otherwise reads as a drop.
    mismatch = text_mismatch(store, version, kept) if text_encoder else None
    report.update(task=task, split=split, model_version=version["name"],
                  items=len(rows), unseen=len(rows) - len(kept),
                  ece=expected_calibration_error(probs, labels),
                  optimistic=optimistic(version, split),
                  texts_note=mismatch.note(version["name"], version["config"]["text_source"])
                  if mismatch else None)
    return report


def optimistic(version: dict[str, Any], split: str) -> str | None:
    """Why a version's figures on ``split`` flatter it (None when they do not): the split
    early-stopped and calibrated its training (``--val-from dev``, while ``eval`` scores
    dev by default), or its seed was picked on it (the shipped heads)."""
    sidecar = version.get("config") or {}
    metrics = sidecar.get("metrics") or {}
    if sidecar.get("val_from") == "dev" and split == "dev":
        return ("this head early-stopped and was calibrated on dev; its unbiased figures "
                "are on test (crisisdesk eval PROJECT --split test)")
    if metrics.get("seed_picked_on") == "scored" and metrics.get("scored_split") == split:
        if str(version.get("path", "")).startswith(BUNDLED):
            # Its dev was CrisisMMD's, not necessarily this project's split of that name.
            return (f"this shipped head's seed was picked on CrisisMMD's {split} split: if "
                    f"this project's {split} split holds those posts (a CrisisMMD import), "
                    "its figure flatters it; the mean of its seeds (its sidecar's "
                    "metrics) is the fair figure")
        return (f"this head's seed was picked on its {split} figures; the mean of its "
                "seeds (its sidecar's metrics) is the fair figure")
    return None
