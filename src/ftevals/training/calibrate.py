"""Calibrated class probabilities and a decision threshold for a trained classifier.

Fitted on the validation split (never on test data) after training, and stored with the
adapter in ``ftevals.json`` under ``calibration``:

* **temperature scaling** (Guo et al. 2017): one number T dividing the logits, chosen to
  minimise the negative log-likelihood of the validation labels; it changes confidence, not
  the ranking, so AUPRC is unchanged and probabilities mean what they say;
* **threshold**: for two labels, the calibrated probability of the positive label (``unsafe``)
  at or above which the classifier answers positive, chosen to maximise F1 of the positive
  label on the validation split (ties: the higher threshold, fewer false positives),
  optionally among thresholds whose validation false-positive rate is at most ``max_fpr``.

The temperature is found by ``scipy.optimize.minimize_scalar`` (bounded, on log T) and the
threshold sweep counts errors with ``sklearn.metrics.roc_curve``; :class:`Calibration` and its
application at inference live in :mod:`ftevals.runtime.calibration`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.runtime.calibration import Calibration, decide, softmax

__all__ = [
    "Calibration",
    "best_threshold",
    "calibrate",
    "decide",
    "describe",
    "expected_calibration_error",
    "fit_temperature",
    "nll",
    "softmax",
]


def describe(calibration: Calibration) -> str:
    """One log line: what was fitted, on how many examples, and the calibration error."""
    return (
        f"calibration on {calibration.examples} validation examples: "
        f"T={calibration.temperature:.3f}, threshold={calibration.threshold}, "
        f"ECE {calibration.ece_before:.3f} -> {calibration.ece_after:.3f}"
    )


def nll(logits: Sequence[Sequence[float]], targets: Sequence[int], temperature: float) -> float:
    """Mean negative log-likelihood of ``targets`` under softmax(logits / temperature)."""
    total = 0.0
    for row, target in zip(logits, targets, strict=True):
        scaled = [x / temperature for x in row]
        top = max(scaled)
        log_z = top + math.log(sum(math.exp(x - top) for x in scaled))
        total += log_z - scaled[target]
    return total / len(targets)


def fit_temperature(logits: Sequence[Sequence[float]], targets: Sequence[int]) -> float:
    """The T in [0.05, 20] minimising :func:`nll` (bounded Brent search on log T, scipy)."""
    from scipy.optimize import minimize_scalar

    if not targets:
        raise FtevalsError("calibration needs at least one validation example")
    found = minimize_scalar(
        lambda log_t: nll(logits, targets, math.exp(log_t)),
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-9},
    )
    return math.exp(float(found.x))


def expected_calibration_error(
    probs: Sequence[Sequence[float]], targets: Sequence[int], bins: int = 10
) -> float:
    """ECE of the top-class confidence: sum over bins of |accuracy - confidence| x share."""
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, confidence sum, correct
    for row, target in zip(probs, targets, strict=True):
        best = max(range(len(row)), key=row.__getitem__)
        slot = totals[min(bins - 1, int(row[best] * bins))]
        slot[0] += 1
        slot[1] += row[best]
        slot[2] += float(best == target)
    n = len(targets)
    return sum(abs(c - s) / n for count, s, c in totals if count)


def best_threshold(
    scores: Sequence[float], positives: Sequence[bool], max_fpr: float | None = None
) -> tuple[float, float]:
    """(threshold, F1): the score cut maximising F1 of the positive class.

    With ``max_fpr``, only cuts whose false-positive rate (negatives at or above the cut,
    over all negatives) is at most ``max_fpr`` count; if none does, the cut sits above every
    score (nothing is flagged, F1 0). Candidates are midpoints between consecutive distinct
    scores, so the threshold does not sit exactly on a validation example; ties in F1 go to
    the higher threshold. The counts at every cut come from ``sklearn.metrics.roc_curve``.
    """
    import warnings

    import numpy as np
    from sklearn.metrics import roc_curve

    if not any(positives):
        raise FtevalsError("threshold selection needs a positive example in the validation split")
    total_pos = sum(bool(p) for p in positives)
    total_neg = len(positives) - total_pos
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no negatives: sklearn warns that the FPR is undefined
        fpr, tpr, cuts = roc_curve(
            np.asarray(positives, dtype=bool),
            np.asarray(scores, dtype=float),
            drop_intermediate=False,
        )
    # row 0 is sklearn's "nothing flagged" point; row i >= 1 flags every score >= cuts[i]
    tp = np.rint(tpr[1:] * total_pos).astype(int)
    fp = np.rint(np.nan_to_num(fpr[1:]) * total_neg).astype(int) if total_neg else 0 * tp
    distinct = [float(c) for c in cuts[1:]]
    best_f1, best_cut = 0.0, min(1.0, (1.0 + distinct[0]) / 2)
    for i, score in enumerate(distinct):
        next_score = distinct[i + 1] if i + 1 < len(distinct) else 0.0
        if max_fpr is not None and total_neg and fp[i] / total_neg > max_fpr:
            break  # the rate only grows as the cut goes down
        f1 = 2 * int(tp[i]) / (2 * int(tp[i]) + int(fp[i]) + (total_pos - int(tp[i])))
        if f1 > best_f1:
            best_f1, best_cut = f1, (score + next_score) / 2
    return best_cut, best_f1


def calibrate(
    logits: Sequence[Sequence[float]],
    targets: Sequence[int],
    labels: Sequence[str],
    positive_label: str | None = None,
    max_fpr: float | None = None,
) -> Calibration:
    """Fit the temperature, and the threshold when there are two labels (at most ``max_fpr``
    validation false-positive rate, when given)."""
    temperature = fit_temperature(logits, targets)
    raw = [softmax(row) for row in logits]
    scaled = [softmax([x / temperature for x in row]) for row in logits]
    values: dict[str, Any] = {
        "temperature": temperature,
        "examples": len(targets),
        "nll_before": nll(logits, targets, 1.0),
        "nll_after": nll(logits, targets, temperature),
        "ece_before": expected_calibration_error(raw, targets),
        "ece_after": expected_calibration_error(scaled, targets),
    }
    if len(labels) == 2:
        positive = positive_label or ("unsafe" if "unsafe" in labels else labels[1])
        if positive not in labels:
            raise FtevalsError(f"positive label {positive!r} is not one of {list(labels)}")
        index = list(labels).index(positive)
        threshold, f1 = best_threshold(
            [p[index] for p in scaled], [t == index for t in targets], max_fpr
        )
        values.update(
            positive_label=positive, threshold=threshold, f1_at_threshold=f1, max_fpr=max_fpr
        )
    return Calibration(**values)
