"""Evaluation of a classifier: scores with bootstrap intervals, calibration, temperature.

Conventions (the ones of scikit-learn's defaults, so numbers compare with published ones):

* Per-class precision / recall / F1 are 0 where their denominator is 0
  (``zero_division=0``); F1 is ``2 tp / (2 tp + fp + fn)``.
* Macro F1 averages over the classes that occur in the truth **or** in the predictions
  (scikit-learn's ``labels=None``: the union of ``y_true`` and ``y_pred``). A class that
  is predicted but never true therefore counts, with F1 0; a class absent from both is
  listed in ``per_class`` with zeros but left out of the average.
* Weighted F1 weights each class's F1 by its support (its count in the truth).
* 95% intervals are percentile bootstraps over items (Efron & Tibshirani 1993): the items
  are resampled with replacement ``bootstrap`` times and every score is recomputed on
  each resample, with the same conventions (the macro average of a resample runs over
  the classes present in that resample).
* Calibration: top-label expected calibration error with equal-width bins, and
  temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The scores that get intervals and that :func:`mean_std` summarises.
SCORES = ("accuracy", "macro_f1", "weighted_f1")
#: Bounds of a fitted temperature: beyond them the fit is saying "no information"
#: (T -> infinity) or "perfectly separable" (T -> 0), and a bound is the honest answer.
T_MIN, T_MAX = 0.01, 100.0
#: Bootstrap indices drawn per chunk (bounds the memory of a bootstrap on many items).
BOOTSTRAP_CELLS = 1 << 22


def _indices(labels: Sequence[Any] | np.ndarray, classes: Sequence[str], what: str
             ) -> np.ndarray:
    """Labels given as class names or as indices into ``classes``, as an int array."""
    values = list(labels) if not isinstance(labels, np.ndarray) else labels.tolist()
    if all(isinstance(v, str) for v in values):
        position = {name: i for i, name in enumerate(classes)}
        unknown = sorted({v for v in values if v not in position})
        if unknown:
            raise ValueError(f"{what} holds labels that are not classes: {unknown}")
        return np.array([position[v] for v in values], dtype=np.int64)
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must hold class names or integer class indices")
    array = array.astype(np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= len(classes)):
        raise ValueError(f"{what} holds class indices outside 0..{len(classes) - 1}")
    return array


def _scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of confusion matrices ``counts`` [..., K, K] (rows = true class)."""
    counts = counts.astype(np.float64)
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    support = counts.sum(axis=-1)  # true count per class
    predicted = counts.sum(axis=-2)  # predicted count per class
    n = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        both = support + predicted
        f1 = np.where(both > 0, 2 * tp / both, 0.0)
        present = both > 0  # the union of truth and predictions
        macro = (f1 * present).sum(axis=-1) / present.sum(axis=-1)
        weighted = (f1 * support).sum(axis=-1) / n
        accuracy = tp.sum(axis=-1) / n
    return {"accuracy": accuracy, "macro_f1": macro, "weighted_f1": weighted,
            "precision": precision, "recall": recall, "f1": f1, "support": support,
            "present": present}


def _confusions(pairs: np.ndarray, k: int, resamples: np.ndarray | None = None
                ) -> np.ndarray:
    """Confusion matrices [B, K, K] of ``pairs`` (true * K + pred) under ``resamples``
    (index rows [B, n]); one matrix [K, K] when ``resamples`` is None."""
    if resamples is None:
        return np.bincount(pairs, minlength=k * k).reshape(k, k)
    b = resamples.shape[0]
    # One bincount over all resamples at once: offset each resample's codes by b * K^2.
    codes = pairs[resamples] + (np.arange(b, dtype=np.int64) * k * k)[:, None]
    return np.bincount(codes.ravel(), minlength=b * k * k).reshape(b, k, k)


def classification_report(y_true: Sequence[Any] | np.ndarray,
                          y_pred: Sequence[Any] | np.ndarray,
                          classes: Sequence[str], *, bootstrap: int = 1000,
                          seed: int = 0) -> dict[str, Any]:
    """Accuracy, macro / weighted F1, per-class scores, confusion matrix, 95% intervals.

    ``y_true`` / ``y_pred`` hold class names or indices into ``classes``. Returns
    ``{"n", "classes", "accuracy", "macro_f1", "weighted_f1", "macro_classes",
    "per_class": {class: {precision, recall, f1, support}}, "confusion" (rows = true
    class, columns = predicted, in ``classes`` order), "ci95": {score: [lo, hi]}}``;
    ``ci95`` is None when ``bootstrap`` is 0. See the module docstring for conventions.
    """
    classes = list(classes)
    if not classes:
        raise ValueError("no classes")
    truth = _indices(y_true, classes, "y_true")
    pred = _indices(y_pred, classes, "y_pred")
    if len(truth) != len(pred):
        raise ValueError(f"{len(truth)} true labels for {len(pred)} predictions")
    if len(truth) == 0:
        raise ValueError("no items to score")
    if bootstrap < 0:
        raise ValueError("bootstrap must be >= 0")
    k = len(classes)
    pairs = truth * k + pred
    confusion = _confusions(pairs, k)
    point = _scores(confusion)
    report: dict[str, Any] = {
        "n": int(len(truth)),
        "classes": classes,
        **{score: float(point[score]) for score in SCORES},
        "macro_classes": [c for c, p in zip(classes, point["present"], strict=True) if p],
        "per_class": {
            c: {"precision": float(point["precision"][i]), "recall": float(point["recall"][i]),
                "f1": float(point["f1"][i]), "support": int(point["support"][i])}
            for i, c in enumerate(classes)},
        "confusion": confusion.astype(int).tolist(),
        "ci95": None,
    }
    if bootstrap:
        rng = np.random.default_rng(seed)
        n = len(truth)
        # Resamples in chunks of at most ~4M drawn indices (32 MB), whatever the size.
        chunk = max(1, min(bootstrap, BOOTSTRAP_CELLS // n))
        spread: dict[str, list[np.ndarray]] = {score: [] for score in SCORES}
        for start in range(0, bootstrap, chunk):
            resamples = rng.integers(0, n, size=(min(chunk, bootstrap - start), n))
            scores = _scores(_confusions(pairs, k, resamples))
            for score in SCORES:
                spread[score].append(scores[score])
        report["ci95"] = {score: [float(v) for v in np.percentile(
            np.concatenate(spread[score]), [2.5, 97.5])] for score in SCORES}
    return report


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities of ``logits`` [n, K] divided by ``temperature`` (float64)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    return _softmax(np.asarray(logits, dtype=np.float64) / temperature)


def expected_calibration_error(probs: np.ndarray, y_true: Sequence[int] | np.ndarray,
                               bins: int = 15) -> float:
    """Top-label ECE: sum over confidence bins of (bin share) * |accuracy - confidence|.

    The confidence of an item is its highest probability, its prediction that class; bins
    are equal-width, ``(i / bins, (i + 1) / bins]``. ``y_true`` holds class indices
    (columns of ``probs``). 0 for a perfectly calibrated classifier.
    """
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if probs.ndim != 2 or len(probs) != len(truth):
        raise ValueError(f"probs must be [n, K] with n = {len(truth)}, not {probs.shape}")
    if len(truth) == 0:
        raise ValueError("no items to score")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == truth).astype(np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.bincount(which, weights=correct - confidence, minlength=bins)
    # sum_b (n_b / n) * |mean_b(correct) - mean_b(confidence)| = sum_b |sum_b(gap)| / n
    return float(np.abs(gap[count > 0]).sum() / len(truth))


def _nll_slope(beta: float, logits: np.ndarray, target: np.ndarray) -> float:
    """d/d(beta) of the mean NLL of softmax(beta * logits): E_p[z] - z_true, averaged."""
    p = _softmax(beta * logits)
    # As sum_j p_j (z_j - z_true), not E_p[z] - z_true: when p is nearly one-hot on the
    # true class the difference of the two large terms rounds to 0 and reads as "flat".
    return float((p * (logits - target[:, None])).sum(axis=1).mean())


def fit_temperature(logits: np.ndarray, y_true: Sequence[int] | np.ndarray) -> float:
    """The temperature T > 0 that minimises the NLL of ``softmax(logits / T)``.

    Fitted on held-out data (validation split), never on the training items. The NLL is
    convex in beta = 1 / T (a log-sum-exp of linear functions minus a linear one), so its
    slope is monotone and a bisection on the slope's sign, over log beta, finds the global
    minimum deterministically. Clamped to [T_MIN, T_MAX]: when the logits carry no
    information the optimum is T -> infinity, when they separate the data perfectly
    T -> 0, and the bound is returned.
    """
    z = np.asarray(logits, dtype=np.float64)
    truth = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if z.ndim != 2 or len(z) != len(truth):
        raise ValueError(f"logits must be [n, K] with n = {len(truth)}, not {z.shape}")
    if len(truth) == 0:
        raise ValueError("no items to fit a temperature on")
    if not np.isfinite(z).all():
        raise ValueError("logits hold NaN or infinite values")
    if truth.min() < 0 or truth.max() >= z.shape[1]:
        raise ValueError(f"y_true holds class indices outside 0..{z.shape[1] - 1}")
    target = z[np.arange(len(truth)), truth]
    lo, hi = math.log(1 / T_MAX), math.log(1 / T_MIN)  # bounds of log beta
    if _nll_slope(math.exp(lo), z, target) >= 0:
        return T_MAX  # the NLL still falls as beta -> 0
    if _nll_slope(math.exp(hi), z, target) <= 0:
        return T_MIN  # the NLL still falls as beta grows
    for _ in range(60):  # the bracket shrinks to ~1e-17 of its width: past float precision
        mid = (lo + hi) / 2
        if _nll_slope(math.exp(mid), z, target) < 0:
            lo = mid
        else:
            hi = mid
    return float(1 / math.exp((lo + hi) / 2))


def mean_std(reports: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (ddof 1; 0 for one report) of accuracy, macro F1
    and weighted F1 over reports, e.g. runs with different seeds:
    ``{score: {"mean", "std", "n"}}``."""
    if not reports:
        raise ValueError("no reports to summarise")
    out: dict[str, dict[str, float]] = {}
    for score in SCORES:
        values = np.array([float(r[score]) for r in reports], dtype=np.float64)
        out[score] = {"mean": float(values.mean()),
                      "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                      "n": len(values)}
    return out
