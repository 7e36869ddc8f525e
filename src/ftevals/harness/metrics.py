"""Classification and agreement figures, computed from their definitions with numpy.

The tests check each function against scikit-learn (``classification_report``,
``matthews_corrcoef``, ``average_precision_score``, ``cohen_kappa_score``); the code here
does not use it, so the checks are independent.
"""

from __future__ import annotations

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


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # sklearn's zero_division=0


def precision_recall_f1(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> tuple[dict[str, PRF], PRF, PRF]:
    """Per-class figures of ``labels``, then macro and weighted averages over them.

    Predictions outside ``labels`` (invalid answers) count as wrong for every class, as in
    ``sklearn.metrics.precision_recall_fscore_support(labels=labels, zero_division=0)``.
    """
    per_class: dict[str, PRF] = {}
    for label in labels:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p == label)
        predicted = sum(1 for p in y_pred if p == label)
        support = sum(1 for t in y_true if t == label)
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[label] = PRF(precision, recall, f1, support)
    reports = list(per_class.values())
    total = sum(r.support for r in reports)

    def average(weights: list[float]) -> PRF:
        den = sum(weights)
        return PRF(
            precision=_ratio(
                sum(w * r.precision for w, r in zip(weights, reports, strict=True)), den
            ),
            recall=_ratio(sum(w * r.recall for w, r in zip(weights, reports, strict=True)), den),
            f1=_ratio(sum(w * r.f1 for w, r in zip(weights, reports, strict=True)), den),
            support=len(y_true),
        )

    macro = average([1.0] * len(reports))
    weighted = average([float(r.support) for r in reports]) if total else PRF(0, 0, 0, len(y_true))
    return per_class, macro, weighted


def matthews(y_true: Sequence[str], y_pred: Sequence[str]) -> float | None:
    """Multi-class Matthews correlation (Gorodkin's R_K) over every value seen.

    0.0 when undefined (a constant prediction or truth), as scikit-learn; None without samples.
    """
    if not y_true:
        return None
    classes = sorted(set(y_true) | set(y_pred))
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    matrix = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[index[t]][index[p]] += 1
    s = len(y_true)
    c = sum(matrix[i][i] for i in range(k))
    t_k = [sum(row) for row in matrix]
    p_k = [sum(matrix[i][j] for i in range(k)) for j in range(k)]
    cov_ytyp = c * s - sum(p * t for p, t in zip(p_k, t_k, strict=True))
    cov_ypyp = s * s - sum(p * p for p in p_k)
    cov_ytyt = s * s - sum(t * t for t in t_k)
    den = cov_ypyp * cov_ytyt
    return float(cov_ytyp / den**0.5) if den > 0 else 0.0


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
    """Average precision (the area under the step PR curve) and the points of the sweep.

    AP = sum over thresholds of (R_n - R_{n-1}) * P_n, thresholds = the distinct scores in
    decreasing order (scikit-learn's ``average_precision_score``). None without positives.
    """
    n_pos = sum(1 for y in positive if y)
    if not positive or n_pos == 0:
        return None, []
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    points: list[PRPoint] = []
    tp = fp = 0
    ap = previous_recall = 0.0
    for rank, i in enumerate(order):
        tp += positive[i]
        fp += not positive[i]
        last_of_threshold = rank + 1 == len(order) or scores[order[rank + 1]] != scores[i]
        if last_of_threshold:
            precision, recall = tp / (tp + fp), tp / n_pos
            ap += (recall - previous_recall) * precision
            previous_recall = recall
            f1 = _ratio(2 * precision * recall, precision + recall)
            points.append(PRPoint(float(scores[i]), precision, recall, f1))
    return ap, points


def thin(points: list[Any], max_points: int) -> list[Any]:
    """At most ``max_points`` evenly spaced items, always keeping the first and last."""
    if len(points) <= max_points or max_points < 2:
        return list(points)
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters on the same items; None when chance agreement is 1."""
    if not a:
        return None
    n = len(a)
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    categories = set(a) | set(b)
    expected = sum((list(a).count(c) / n) * (list(b).count(c) / n) for c in categories)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)
