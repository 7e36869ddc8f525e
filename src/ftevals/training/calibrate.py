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

Pure Python on lists: a validation split has hundreds of rows, not millions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from ftevals.errors import FtevalsError


class Calibration(BaseModel):
    """How a classifier turns logits into probabilities and a label."""

    method: str = Field(default="temperature", description="Calibration method.")
    temperature: float = Field(gt=0, description="Logits are divided by this before softmax.")
    positive_label: str | None = Field(
        default=None, description="Label the threshold applies to (two-label classifiers)."
    )
    threshold: float | None = Field(
        default=None, ge=0, le=1, description="Answer positive_label when its probability >= this."
    )
    examples: int = Field(description="Validation examples the calibration was fitted on.")
    nll_before: float = Field(description="Validation negative log-likelihood at T = 1.")
    nll_after: float = Field(description="Validation negative log-likelihood at the fitted T.")
    ece_before: float = Field(description="Expected calibration error (10 bins) at T = 1.")
    ece_after: float = Field(description="Expected calibration error at the fitted T.")
    f1_at_threshold: float | None = Field(
        default=None, description="Validation F1 of positive_label at the threshold."
    )
    max_fpr: float | None = Field(
        default=None, description="Bound on the validation false-positive rate, if one was set."
    )


def describe(calibration: Calibration) -> str:
    """One log line: what was fitted, on how many examples, and the calibration error."""
    return (
        f"calibration on {calibration.examples} validation examples: "
        f"T={calibration.temperature:.3f}, threshold={calibration.threshold}, "
        f"ECE {calibration.ece_before:.3f} -> {calibration.ece_after:.3f}"
    )


def decide(
    logits: Sequence[float], labels: Sequence[str], calibration: Calibration | None
) -> tuple[str, list[float]]:
    """The answer and the (calibrated, when ``calibration`` is given) class probabilities."""
    if calibration is None:
        probs = softmax(logits)
        return labels[max(range(len(probs)), key=probs.__getitem__)], probs
    probs = softmax([x / calibration.temperature for x in logits])
    positive = calibration.positive_label
    if calibration.threshold is not None and positive is not None and positive in labels:
        index = list(labels).index(positive)
        if probs[index] >= calibration.threshold:
            return positive, probs
        others = [i for i in range(len(labels)) if i != index]
        return labels[max(others, key=probs.__getitem__)], probs
    return labels[max(range(len(probs)), key=probs.__getitem__)], probs


def softmax(row: Sequence[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    total = sum(exps)
    return [e / total for e in exps]


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
    """The T in [0.05, 20] minimising :func:`nll` (golden-section search on log T)."""
    if not targets:
        raise FtevalsError("calibration needs at least one validation example")
    lo, hi = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, targets, math.exp(a)), nll(logits, targets, math.exp(b))
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, targets, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, targets, math.exp(b))
    return math.exp((lo + hi) / 2)


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
    the higher threshold.
    """
    if not any(positives):
        raise FtevalsError("threshold selection needs a positive example in the validation split")
    ranked = sorted(zip(scores, positives, strict=True), key=lambda pair: -pair[0])
    total_pos = sum(positives)
    total_neg = len(ranked) - total_pos
    best_f1, best_cut = 0.0, min(1.0, (1.0 + ranked[0][0]) / 2)
    tp = fp = 0
    for i, (score, positive) in enumerate(ranked):
        tp += positive
        fp += not positive
        next_score = ranked[i + 1][0] if i + 1 < len(ranked) else 0.0
        if next_score == score:
            continue
        if max_fpr is not None and total_neg and fp / total_neg > max_fpr:
            break  # the rate only grows as the cut goes down
        f1 = 2 * tp / (2 * tp + fp + (total_pos - tp))
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
