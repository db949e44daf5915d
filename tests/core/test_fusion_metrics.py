"""Scores, bootstrap intervals, calibration error and temperature scaling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crisisdesk.core.fusion.metrics import (
    T_MAX,
    T_MIN,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    mean_std,
    softmax,
)

CLASSES = ["a", "b", "c"]


def noisy_predictions(n: int, k: int, accuracy: float, seed: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < accuracy, truth, rng.integers(0, k, n))
    return truth, pred


# -- classification_report ---------------------------------------------------------------

def test_hand_made_case() -> None:
    # confusion (rows = truth): a [1 1 0], b [0 2 0], c [1 0 1]
    report = classification_report([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], CLASSES,
                                   bootstrap=0)
    assert report["n"] == 6
    assert report["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 6)
    per = report["per_class"]
    assert per["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                      "support": 2})
    assert per["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8,
                                      "support": 2})
    assert per["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3,
                                      "support": 2})
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report["weighted_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)  # equal supports
    assert report["ci95"] is None


def test_class_names_and_indices_give_the_same_report() -> None:
    truth, pred = ["a", "a", "b", "c"], ["a", "b", "b", "b"]
    by_name = classification_report(truth, pred, CLASSES, bootstrap=50)
    by_index = classification_report(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), CLASSES,
                                     bootstrap=50)
    assert by_name == by_index


def test_macro_f1_runs_over_the_union_of_truth_and_predictions() -> None:
    # "d" is neither true nor predicted: listed with zeros, left out of the macro average.
    # "c" is predicted but never true: it counts, with F1 0 (scikit-learn's default).
    classes = ["a", "b", "c", "d"]
    report = classification_report(["a", "a", "b", "b"], ["a", "c", "b", "b"], classes,
                                   bootstrap=0)
    assert report["macro_classes"] == ["a", "b", "c"]
    assert report["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                        "support": 0}
    assert report["per_class"]["c"]["f1"] == 0.0
    f1_a, f1_b = 2 / 3, 1.0  # a: tp 1, fn 1; b: tp 2
    assert report["macro_f1"] == pytest.approx((f1_a + f1_b + 0.0) / 3)
    assert report["weighted_f1"] == pytest.approx((2 * f1_a + 2 * f1_b) / 4)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_scikit_learn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    k = 5
    truth = rng.integers(0, k - 1, 60)  # class 4 is never true...
    pred = rng.integers(0, k, 60)  # ...but may be predicted
    pred[pred == 2] = 1  # class 2 is never predicted
    report = classification_report(truth, pred, list("vwxyz"), bootstrap=0)
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(truth, pred))
    assert report["macro_f1"] == pytest.approx(
        metrics.f1_score(truth, pred, average="macro", zero_division=0))
    assert report["weighted_f1"] == pytest.approx(
        metrics.f1_score(truth, pred, average="weighted", zero_division=0))
    labels = list(range(k))
    p, r, f, s = metrics.precision_recall_fscore_support(truth, pred, labels=labels,
                                                         zero_division=0)
    for i, name in enumerate("vwxyz"):
        assert report["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    assert report["confusion"] == metrics.confusion_matrix(truth, pred, labels=labels).tolist()


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_items() -> None:
    widths = {}
    for n in (100, 2000):
        truth, pred = noisy_predictions(n, 5, 0.7, seed=1)
        report = classification_report(truth, pred, list("abcde"), bootstrap=1000, seed=0)
        for score in ("accuracy", "macro_f1", "weighted_f1"):
            lo, hi = report["ci95"][score]
            assert lo <= report[score] <= hi
        widths[n] = {s: hi - lo for s, (lo, hi) in report["ci95"].items()}
    for score, width in widths[2000].items():
        assert width < widths[100][score] / 2  # ~ 1 / sqrt(n): about 4.5x narrower


def test_bootstrap_is_deterministic_per_seed() -> None:
    # No speed bound here (house rule: speed goals are benchmarks that print figures).
    truth, pred = noisy_predictions(2000, 5, 0.7, seed=2)
    first = classification_report(truth, pred, list("abcde"), bootstrap=1000, seed=3)
    assert classification_report(truth, pred, list("abcde"), bootstrap=1000, seed=3) == first
    other = classification_report(truth, pred, list("abcde"), bootstrap=1000, seed=4)
    assert other["ci95"] != first["ci95"]
    assert other["accuracy"] == first["accuracy"]


def test_bootstrap_in_chunks_bounds_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from crisisdesk.core.fusion import metrics

    truth, pred = noisy_predictions(2000, 5, 0.7, seed=5)
    whole = classification_report(truth, pred, list("abcde"), bootstrap=1000)
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 2000 * 7)  # chunks of 7 resamples
    # The bound is on the indices drawn at once: each chunk's resamples reach
    # _confusions as one array. (The scores alone cannot show it: the chunks may draw
    # the very indices one whole draw would.)
    drawn: list[tuple[int, ...]] = []
    confusions = metrics._confusions

    def recording(pairs, k, resamples=None):
        if resamples is not None:
            drawn.append(resamples.shape)
        return confusions(pairs, k, resamples)

    monkeypatch.setattr(metrics, "_confusions", recording)
    chunked = classification_report(truth, pred, list("abcde"), bootstrap=1000)
    assert max(rows * n for rows, n in drawn) <= 2000 * 7
    assert sum(rows for rows, _ in drawn) == 1000 and len(drawn) == -(-1000 // 7)
    assert chunked == classification_report(truth, pred, list("abcde"), bootstrap=1000)
    for score, (lo, hi) in chunked["ci95"].items():  # the same distribution
        assert lo <= chunked[score] <= hi
        assert lo == pytest.approx(whole["ci95"][score][0], abs=0.01)
        assert hi == pytest.approx(whole["ci95"][score][1], abs=0.01)


@pytest.mark.parametrize(("truth", "pred", "message"), [
    ([0, 1], [0], "2 true labels for 1"),
    (["a", "zebra"], ["a", "a"], "not classes"),
    ([0, 3], [0, 0], "outside"),
    ([], [], "no items"),
], ids=["lengths", "unknown-name", "bad-index", "empty"])
def test_bad_input_is_refused(truth: list, pred: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classification_report(truth, pred, CLASSES)


# -- calibration -------------------------------------------------------------------------

def test_ece_hand_made_case() -> None:
    # Two bins: confidences 0.9 / 0.9 (one right) -> |0.5 - 0.9| * 2/4;
    # 0.6 / 0.6 (both right) -> |1 - 0.6| * 2/4.
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    truth = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, truth, bins=10) == pytest.approx(0.2 + 0.2)
    assert expected_calibration_error(probs, truth, bins=1) == pytest.approx(
        abs(0.75 - 0.75))


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    n, k = 20000, 4
    probs = rng.dirichlet(np.ones(k), size=n)
    # Labels drawn from the probabilities themselves: calibrated by construction.
    truth = (probs.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    assert expected_calibration_error(probs, truth) < 0.02
    sharp = probs ** 6
    sharp /= sharp.sum(axis=1, keepdims=True)  # same ranking, much more confident
    assert expected_calibration_error(sharp, truth) > 0.15


def sample_with_temperature(n: int, k: int, true_t: float, seed: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a model whose labels really follow softmax(logits / true_t)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, size=(n, k))
    p = softmax(logits, true_t)
    truth = (p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    return logits, np.minimum(truth, k - 1)


def test_fit_temperature_recovers_a_known_temperature() -> None:
    logits, truth = sample_with_temperature(20000, 5, 2.0, seed=0)
    fitted = fit_temperature(logits, truth)
    assert fitted == pytest.approx(2.0, abs=0.1)
    assert fit_temperature(logits, truth) == fitted  # deterministic
    # It is the NLL's minimum: a fine grid around it finds nothing lower.
    def nll(t: float) -> float:
        return float(-np.log(softmax(logits, t)[np.arange(len(truth)), truth]).mean())
    grid = np.linspace(fitted * 0.8, fitted * 1.2, 81)
    assert nll(fitted) <= min(nll(t) for t in grid) + 1e-9


def test_temperature_scaling_reduces_the_ece_of_overconfident_logits() -> None:
    logits, truth = sample_with_temperature(10000, 5, 2.0, seed=1)
    fitted = fit_temperature(logits[:5000], truth[:5000])  # fit on one half...
    held = slice(5000, None)  # ...score on the other
    before = expected_calibration_error(softmax(logits[held]), truth[held])
    after = expected_calibration_error(softmax(logits[held], fitted), truth[held])
    assert before > 0.1
    assert after < before / 3


def test_fit_temperature_is_bounded_at_the_extremes() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 3))
    separable = logits.argmax(axis=1)  # every prediction right: sharper is always better
    assert fit_temperature(logits, separable) == T_MIN
    uninformative = logits.argmin(axis=1)  # always wrong: flatter is always better
    assert fit_temperature(logits, uninformative) == T_MAX
    assert math.isfinite(fit_temperature(np.zeros((10, 3)), np.zeros(10, dtype=int)))


@pytest.mark.parametrize(("logits", "truth", "message"), [
    (np.zeros((0, 3)), np.zeros(0, dtype=int), "no items"),
    (np.zeros((2, 3)), np.array([0]), "must be"),
    (np.array([[0.0, np.nan]]), np.array([0]), "NaN"),
    (np.zeros((1, 2)), np.array([2]), "outside"),
], ids=["empty", "lengths", "nan", "bad-index"])
def test_fit_temperature_refuses_bad_input(logits: np.ndarray, truth: np.ndarray,
                                           message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, truth)


# -- over seeds --------------------------------------------------------------------------

def test_mean_std_over_seeds() -> None:
    reports = [{"accuracy": 0.8, "macro_f1": 0.6, "weighted_f1": 0.7},
               {"accuracy": 0.9, "macro_f1": 0.7, "weighted_f1": 0.7},
               {"accuracy": 0.7, "macro_f1": 0.8, "weighted_f1": 0.7}]
    summary = mean_std(reports)
    assert summary["accuracy"] == pytest.approx({"mean": 0.8, "std": 0.1, "n": 3})
    assert summary["macro_f1"] == pytest.approx({"mean": 0.7, "std": 0.1, "n": 3})
    assert summary["weighted_f1"] == pytest.approx({"mean": 0.7, "std": 0.0, "n": 3})
    assert mean_std(reports[:1])["accuracy"] == {"mean": 0.8, "std": 0.0, "n": 1}
    with pytest.raises(ValueError):
        mean_std([])
