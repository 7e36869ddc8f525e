"""Baselines beside every classification eval, from the samples alone (no model call).

``baseline/majority`` answers the most common expected label for every sample of the eval
(the union of the samples the logs of that eval scored; ties: the label listed first). An eval
whose samples all expect one label (a look-alike set, all ``safe``) gets none: answering that
label is perfect there, and its false-positive rate is the figure to read. Where
the eval has a positive label (``scoring.positive_label``), its AUPRC is that of a constant
probability, which equals the positive rate: the floor any ranking must beat. Its figures
carry the same intervals as a model's.

A model is flagged when the majority baseline's accuracy, F1 of the positive class or AUPRC
lies within the model's 95% interval of that figure (on these samples the model is not
distinguishable from answering the majority label, or from a constant score), or above it
(the model does worse than the baseline).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ftevals.harness import scoring
from ftevals.harness.scoring import Outcome

if TYPE_CHECKING:
    from ftevals.harness.compare import ModelEvalReport
    from ftevals.harness.intervals import Interval

MAJORITY = "baseline/majority"

Scored = tuple["ModelEvalReport", list[Outcome]]


def majority_rows(scored: list[Scored]) -> list[ModelEvalReport]:
    """One ``baseline/majority`` row per classification eval (by ``eval_name``)."""
    from ftevals.harness.compare import ModelEvalReport

    found = []
    for name in dict.fromkeys(row.eval_name for row, _ in scored):
        group = [(row, out) for row, out in scored if row.eval_name == name]
        rows = [row for row, _ in group if row.kind == "classification" and row.labels]
        expected: dict[str, str] = {}
        for row, outcomes in group:
            if row.kind == "classification":
                for outcome in outcomes:
                    expected.setdefault(outcome.sample_id, outcome.expected or "")
        if not rows or len(set(expected.values())) < 2:
            continue  # one expected label: answering it is perfect, a baseline says nothing
        labels = list(dict.fromkeys(label for row in rows for label in row.labels))
        y_true = list(expected.values())
        counts = Counter(y_true)
        majority = max(labels, key=lambda label: (counts[label], -labels.index(label)))
        positive = scoring.positive_label(labels)
        constant = [0.5] * len(y_true) if positive is not None else None
        figures = scoring.classification_figures(y_true, [majority] * len(y_true), labels, constant)
        figures.pop("pr_curve", None)
        note = f"answers {majority!r} (the most common expected label) for every sample"
        if positive is not None:
            note += "; its AUPRC is a constant probability's, the positive rate"
        found.append(
            ModelEvalReport(
                model=MAJORITY,
                eval=rows[0].eval,
                eval_name=name,
                run_id="",
                log="",
                baseline=True,
                notes=[note],
                **figures,
            )
        )
    return found


def _flag(figure: str, interval: Interval | None, value: float | None) -> str | None:
    if interval is None or value is None or interval.low is None or interval.high is None:
        return None
    shown = f"{figure} {interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]"
    if interval.contains(value):
        return (
            f"{shown} contains the majority baseline's {value:.3f}: "
            "not distinguishable from it on these samples"
        )
    if interval.high < value:
        return f"{shown} is below the majority baseline's {value:.3f}"
    return None


def baseline_flags(row: ModelEvalReport, baseline: ModelEvalReport) -> list[str]:
    """Why ``row`` is within its interval of the majority baseline (empty when it is not)."""
    positive = baseline.positive_label
    checks = [("accuracy", row.accuracy_ci, baseline.accuracy)]
    support = baseline.per_class[positive].support if positive in baseline.per_class else 0
    if positive is not None and positive in row.per_class and support:
        f1 = (row.per_class[positive].f1_ci, baseline.per_class[positive].f1)
        checks.append((f"F1 of {positive!r}", *f1))
    checks.append(("AUPRC", row.auprc_ci, baseline.auprc))
    return [flag for name, ci, value in checks if (flag := _flag(name, ci, value))]


def add_baselines(scored: list[Scored]) -> list[ModelEvalReport]:
    """The baseline rows; flags added to the rows of ``scored`` that do not beat them."""
    baselines = majority_rows(scored)
    by_eval = {row.eval_name: row for row in baselines}
    for row, _ in scored:
        baseline = by_eval.get(row.eval_name)
        if baseline is not None and row.kind == "classification":
            row.flags += baseline_flags(row, baseline)
    return baselines
