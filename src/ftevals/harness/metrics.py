"""Classification and agreement figures: scikit-learn's, in the shapes the reports use.

``precision_recall_fscore_support``, ``matthews_corrcoef``, ``precision_recall_curve`` /
``average_precision_score`` and ``cohen_kappa_score`` compute every figure; this module only
turns their arrays into records and names the undefined cases (None).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PRF:
    """Precision, recall, F1 and support of one class or one average."""

    precision: float
    recall: float
    f1: float
    support: int


def precision_recall_f1(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> tuple[dict[str, PRF], PRF, PRF]:
    """Per-class figures of ``labels``, then macro and weighted averages over them.

    Predictions outside ``labels`` (invalid answers) count as wrong for every class:
    ``precision_recall_fscore_support(labels=labels, zero_division=0)``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    n = len(y_true)
    if not labels or not n:
        zero = PRF(0.0, 0.0, 0.0, n)
        return {label: PRF(0.0, 0.0, 0.0, 0) for label in labels}, zero, zero

    def prf(average: str | None) -> Any:
        return precision_recall_fscore_support(
            list(y_true), list(y_pred), labels=list(labels), average=average, zero_division=0
        )

    p, r, f, support = prf(None)
    per_class = {
        label: PRF(float(p[i]), float(r[i]), float(f[i]), int(support[i]))
        for i, label in enumerate(labels)
    }
    macro, weighted = prf("macro"), prf("weighted")
    return (
        per_class,
        PRF(float(macro[0]), float(macro[1]), float(macro[2]), n),
        PRF(float(weighted[0]), float(weighted[1]), float(weighted[2]), n),
    )


def matthews(y_true: Sequence[str], y_pred: Sequence[str]) -> float | None:
    """Multi-class Matthews correlation over every value seen (``matthews_corrcoef``): 0.0 when
    undefined (a constant prediction or truth); None without samples."""
    if not y_true:
        return None
    from sklearn.metrics import matthews_corrcoef

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one label only: sklearn warns, and returns 0.0
        return float(matthews_corrcoef(list(y_true), list(y_pred)))


@dataclass(frozen=True)
class PRPoint:
    """One threshold of the sweep: predict positive when p(positive) >= threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float


def precision_recall_sweep(
    positive: Sequence[bool], scores: Sequence[float]
) -> tuple[float | None, list[PRPoint]]:
    """Average precision (``average_precision_score``) and the points of the sweep
    (``precision_recall_curve``: one per distinct score, highest threshold first, predict
    positive when p >= threshold). None without positives."""
    if not positive or not any(positive):
        return None, []
    import numpy as np
    from sklearn.metrics import average_precision_score, precision_recall_curve

    truth = np.asarray(positive, dtype=bool)
    values = np.asarray(scores, dtype=float)
    precision, recall, thresholds = precision_recall_curve(truth, values)
    points = []
    for p, r, t in zip(precision[-2::-1], recall[-2::-1], thresholds[::-1], strict=True):
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        points.append(PRPoint(float(t), float(p), float(r), float(f1)))
    return float(average_precision_score(truth, values)), points


def thin(points: list[Any], max_points: int) -> list[Any]:
    """At most ``max_points`` evenly spaced items, always keeping the first and last."""
    if len(points) <= max_points or max_points < 2:
        return list(points)
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters on the same items (``cohen_kappa_score``); None when it is
    undefined (chance agreement 1) or there are no items."""
    if not a or len(set(a) | set(b)) == 1:  # one category for both: chance agreement is 1
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined kappa: None below
        value = float(cohen_kappa_score(list(a), list(b)))
    return value if math.isfinite(value) else None
