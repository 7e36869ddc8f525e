"""metrics and stats against scikit-learn and scipy, computed here on random data."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    cohen_kappa_score,
    matthews_corrcoef,
    precision_recall_curve,
)

from ftevals.harness import metrics, stats

LABELS = ["safe", "unsafe", "borderline"]


def _labels(rng: random.Random, n: int, invalid: bool = True) -> tuple[list[str], list[str]]:
    y_true = rng.choices(LABELS, weights=[5, 4, 1], k=n)
    pool = [*LABELS, "__invalid__"] if invalid else LABELS
    y_pred = [t if rng.random() < 0.6 else rng.choice(pool) for t in y_true]
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(5))
def test_precision_recall_f1_match_sklearn(seed: int) -> None:
    y_true, y_pred = _labels(random.Random(seed), 60 + seed * 7)
    per_class, macro, weighted = metrics.precision_recall_f1(y_true, y_pred, LABELS)
    want = classification_report(y_true, y_pred, labels=LABELS, output_dict=True, zero_division=0)
    pairs = [(per_class[label], want[label]) for label in LABELS]
    pairs += [(macro, want["macro avg"]), (weighted, want["weighted avg"])]
    for got, expected in pairs:
        assert got.precision == pytest.approx(expected["precision"], abs=1e-12)
        assert got.recall == pytest.approx(expected["recall"], abs=1e-12)
        assert got.f1 == pytest.approx(expected["f1-score"], abs=1e-12)
        assert got.support == expected["support"]


@pytest.mark.parametrize("seed", range(5))
def test_matthews_matches_sklearn(seed: int) -> None:
    y_true, y_pred = _labels(random.Random(seed), 50)
    assert metrics.matthews(y_true, y_pred) == pytest.approx(
        matthews_corrcoef(y_true, y_pred), abs=1e-12
    )
    binary_true = ["unsafe" if t == "unsafe" else "safe" for t in y_true]
    binary_pred = ["unsafe" if p == "unsafe" else "safe" for p in y_pred]
    assert metrics.matthews(binary_true, binary_pred) == pytest.approx(
        matthews_corrcoef(binary_true, binary_pred), abs=1e-12
    )


def test_matthews_degenerate_cases() -> None:
    assert metrics.matthews([], []) is None
    assert metrics.matthews(["a", "b"], ["a", "a"]) == matthews_corrcoef(["a", "b"], ["a", "a"])
    assert metrics.matthews(["a", "a"], ["a", "a"]) == 0.0  # sklearn: 0.0 when undefined


@pytest.mark.parametrize("seed", range(6))
def test_average_precision_and_sweep_match_sklearn(seed: int) -> None:
    rng = random.Random(seed)
    positive = [rng.random() < 0.4 for _ in range(80)]
    # ties on purpose: scores rounded to one decimal
    scores = [round(min(1.0, max(0.0, rng.gauss(0.65 if y else 0.35, 0.2))), 1) for y in positive]
    ap, curve = metrics.precision_recall_sweep(positive, scores)
    assert ap == pytest.approx(average_precision_score(positive, scores), abs=1e-12)
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    want = {
        float(t): (float(p), float(r))
        for p, r, t in zip(precision[:-1], recall[:-1], thresholds, strict=True)
    }
    assert len(curve) == len(set(scores))
    assert {p.threshold for p in curve} == set(want)
    for point in curve:
        assert (point.precision, point.recall) == pytest.approx(want[point.threshold])
        f1 = 2 * point.precision * point.recall / (point.precision + point.recall or 1)
        assert point.f1 == pytest.approx(f1)
    assert [p.threshold for p in curve] == sorted({*scores}, reverse=True)


def test_average_precision_without_positives_and_thinning() -> None:
    assert metrics.precision_recall_sweep([False, False], [0.2, 0.9]) == (None, [])
    items = list(range(500))
    thinned = metrics.thin(items, 101)
    assert len(thinned) == 101 and thinned[0] == 0 and thinned[-1] == 499
    assert metrics.thin(items[:5], 101) == items[:5]


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    rng = random.Random(seed)
    a = rng.choices(["Y", "N", "__invalid__"], weights=[6, 3, 1], k=40)
    b = [x if rng.random() < 0.7 else rng.choice(["Y", "N"]) for x in a]
    assert metrics.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert metrics.cohen_kappa(["Y", "Y"], ["Y", "Y"]) is None  # chance agreement is 1
    assert metrics.cohen_kappa([], []) is None


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (3, 9), (12, 13), (30, 10), (8, 40)])
def test_mcnemar_exact_and_chi2(b: int, c: int) -> None:
    result = stats.mcnemar(b, c)
    n = b + c
    if n == 0:
        assert (result.p_value, result.method) == (1.0, "none")
    elif n <= stats.EXACT_MAX_DISCORDANT:
        assert result.method == "exact"
        assert result.p_value == pytest.approx(sps.binomtest(b, n, 0.5).pvalue, abs=1e-12)
    else:
        chi2 = (abs(b - c) - 1) ** 2 / n
        assert result.method == "chi2" and result.statistic == pytest.approx(chi2)
        # survival function of chi-square with 1 degree of freedom, by hand
        assert result.p_value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)


def test_paired_bootstrap_is_fixed_and_agrees_with_scipy() -> None:
    rng = random.Random(7)
    a = [float(rng.random() < 0.6) for _ in range(150)]
    b = [float(rng.random() < 0.7) for _ in range(150)]
    ci = stats.paired_bootstrap(a, b)
    assert ci is not None and ci == stats.paired_bootstrap(a, b)  # fixed seed
    diffs = np.array(b) - np.array(a)
    assert ci.diff == pytest.approx(diffs.mean())
    assert ci.low < ci.diff < ci.high
    reference = sps.bootstrap(
        (diffs,), np.mean, n_resamples=20000, method="percentile", random_state=1
    ).confidence_interval
    assert ci.low == pytest.approx(reference.low, abs=0.02)
    assert ci.high == pytest.approx(reference.high, abs=0.02)
    same = stats.paired_bootstrap(a, a)
    assert same is not None and (same.low, same.diff, same.high) == (0.0, 0.0, 0.0)
    assert stats.paired_bootstrap([], []) is None
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1.0], [])
