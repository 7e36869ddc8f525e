"""Calibration applied at inference: logits to (calibrated) probabilities and a label.

:class:`Calibration` is fitted on the validation split after training
(:mod:`ftevals.training.calibrate`) and stored with the adapter in ``ftevals.json``; the
classifier and the causal LM's choice scoring apply it with :func:`decide`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field


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
