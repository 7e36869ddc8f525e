"""Score one evals log: per-sample outcomes, then the figures of its report row.

Predicted labels: see ``ftevals.harness.labels`` (our classes' recorded ``label``; for evals'
``Match``, ``Includes`` and ``FuzzyMatch``, the label the answer names by the class's rule).

Failed samples: a sample failed when its ``match``/``metrics`` event has ``failed: true``
(with ``label: null``), or any of its ``sampling`` events has ``failed: true`` (with an
``error`` reason). Failed samples are counted in ``failed`` and left out of every figure: a
call that never answered is not a wrong answer. Answers that match no label stay in the
figures as the prediction :data:`INVALID`.

Probabilities: where the sampling event of a sample carries ``probs`` (label -> p), the
positive class is ``unsafe`` when it is a label, else the second label, and AUPRC (average
precision) and a threshold sweep are computed when every scored sample has a probability.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals.errors import InputError
from ftevals.harness import intervals, metrics
from ftevals.harness import labels as answers
from ftevals.harness.labels import INVALID as INVALID
from ftevals.harness.logs import EvalLog, LogEvent

POSITIVE_PREFERRED = "unsafe"
MAX_CURVE_POINTS = 101


@dataclass
class Outcome:
    """One scored sample: classification (expected, predicted) or model-graded (choice, score)."""

    sample_id: str
    expected: str | None = None
    predicted: str | None = None
    score: float | None = None

    @property
    def correct(self) -> bool:
        return self.predicted == self.expected


def is_failed(event: LogEvent) -> bool:
    return event.data.get("failed") is True


def failed_samples(log: EvalLog) -> set[str]:
    """Sample ids with a failure record (see the module docstring)."""
    kinds = ("match", "metrics", "sampling")
    return {e.sample_id or "" for e in log.events if e.type in kinds and is_failed(e)}


def _keyed(events: list[LogEvent]) -> list[tuple[str, LogEvent]]:
    """(key, event): the sample id, with ``#k`` for the k-th repeat of a sample id."""
    seen: Counter[str] = Counter()
    keyed = []
    for event in events:
        sid = event.sample_id or ""
        keyed.append((sid if not seen[sid] else f"{sid}#{seen[sid]}", event))
        seen[sid] += 1
    return keyed


def spec_args(log: EvalLog) -> dict[str, Any]:
    """``spec.run_config.eval_spec.args`` ({} when absent)."""
    node: Any = log.spec
    for key in ("run_config", "eval_spec", "args"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _spec_labels(log: EvalLog) -> list[str]:
    labels = spec_args(log).get("labels")
    if labels is None:
        return []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        field = "spec.run_config.eval_spec.args.labels"
        raise InputError(log.path, "labels must be a list of strings", None, field)
    return list(dict.fromkeys(labels))


def _expected(log: EvalLog, event: LogEvent) -> str:
    value = event.data.get("expected")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        msg = f"expected one label (a string or a one-element list), got {json.dumps(value)[:80]}"
        raise InputError(log.path, msg, event.line, "data.expected")
    return value


def _probabilities(log: EvalLog) -> dict[str, dict[str, float]]:
    """Sample id -> ``probs`` of its last sampling event that has them."""
    found: dict[str, dict[str, float]] = {}
    for event in log.events_of("sampling"):
        probs = event.data.get("probs")
        if isinstance(probs, dict) and not is_failed(event):
            found[event.sample_id or ""] = {
                str(k): float(v) for k, v in probs.items() if isinstance(v, int | float)
            }
    return found


def positive_label(labels: list[str]) -> str | None:
    """``unsafe`` when it is a label, else the second of exactly two labels, else None."""
    if POSITIVE_PREFERRED in labels:
        return POSITIVE_PREFERRED
    return labels[1] if len(labels) == 2 else None


def _several_answers(event: LogEvent) -> bool:
    value = event.data.get("expected")
    return isinstance(value, list) and len(value) > 1


def accepted_answers(
    log: EvalLog, matches: list[tuple[str, LogEvent]]
) -> tuple[dict[str, Any], list[Outcome]]:
    """A log whose samples accept several answers (question answering with a list ``ideal``):
    no label set, so accuracy alone, from evals' ``correct``; outcomes ``right``/``wrong``."""
    for _, event in matches:
        value = event.data.get("expected")
        answers = value if isinstance(value, list) else [value]
        if not answers or not all(isinstance(answer, str) for answer in answers):
            msg = f"expected a string or a list of strings, got {json.dumps(value)[:80]}"
            raise InputError(log.path, msg, event.line, "data.expected")
    outcomes = [
        Outcome(key, "right", "right" if event.data.get("correct") is True else "wrong")
        for key, event in matches
    ]
    n, right = len(outcomes), sum(1 for o in outcomes if o.correct)
    note = "samples accept several answers: accuracy only (evals' verdict), no per-label figures"
    figures = {
        "kind": "classification",
        "n": n,
        "accuracy": right / n if n else None,
        "accuracy_ci": intervals.wilson(right, n),
        "notes": [note],
    }
    return figures, outcomes


def classification(log: EvalLog, failed: set[str]) -> tuple[dict[str, Any], list[Outcome]]:
    matches = [(k, e) for k, e in _keyed(log.events_of("match")) if e.sample_id not in failed]
    if any(_several_answers(event) for _, event in matches):
        return accepted_answers(log, matches)
    y_true = [_expected(log, event) for _, event in matches]
    spec_labels = _spec_labels(log)
    recorded = answers.recorded_labels([event for _, event in matches])
    labels = spec_labels + sorted((set(y_true) | recorded) - set(spec_labels))
    if INVALID in labels:
        raise InputError(log.path, f"{INVALID!r} cannot be a label")
    rule, sampled = answers.class_rule(log), answers.sampled_answers(log)
    y_pred = [
        answers.predicted_label(event, truth, labels, rule, sampled)
        for (_, event), truth in zip(matches, y_true, strict=True)
    ]
    positive = positive_label(labels)
    probs = _probabilities(log)
    scored = [probs.get(event.sample_id or "", {}).get(positive or "") for _, event in matches]
    scores = [float(p) for p in scored if p is not None]
    figures = classification_figures(
        y_true, y_pred, labels, scores if len(scores) == len(scored) else None
    )
    outcomes = [Outcome(key, t, p) for (key, _), t, p in zip(matches, y_true, y_pred, strict=True)]
    events = [event for _, event in matches]
    overlaps = answers.overlapping_hits(events, y_true, labels, rule, sampled)
    if overlaps:
        cls = answers.eval_class(log)
        figures["notes"] = [
            f"{overlaps} answers scored right by {cls} also name another label "
            "(substring or prefix of one another): kept right, as evals scored them"
        ]
    return figures, outcomes


def classification_figures(
    y_true: list[str], y_pred: list[str], labels: list[str], scores: list[float] | None = None
) -> dict[str, Any]:
    """The figures of a classification row, each with its interval (``ftevals.harness.
    intervals``). ``scores``: p(positive label) per sample, for AUPRC and the sweep."""
    per_class, macro, weighted = metrics.precision_recall_f1(y_true, y_pred, labels)
    confusion = {label: dict.fromkeys([*labels, INVALID], 0) for label in labels}
    for true, pred in zip(y_true, y_pred, strict=True):
        confusion[true][pred] += 1
    n = len(y_true)
    positive = positive_label(labels)
    truth = [t == positive for t in y_true]
    with_scores = positive is not None and n > 0 and scores is not None
    index = {label: i for i, label in enumerate([*labels, INVALID])}
    t_index, p_index = [index[t] for t in y_true], [index[p] for p in y_pred]

    def statistic(counts: Any) -> dict[str, Any]:
        matrix = intervals.confusion_counts(counts, t_index, p_index, len(index))
        found = intervals.classification_figures(matrix, len(labels))
        if with_scores and scores is not None:
            found["auprc"] = intervals.average_precision(counts, truth, scores)
        return found

    draws = intervals.bootstrap(n, statistic)

    def averaged(name: str, prf: metrics.PRF) -> dict[str, Any]:
        ci = {
            f"{figure}_ci": intervals.percentile_interval(
                getattr(prf, figure), draws.get(f"{name}_{figure}"), n
            )
            for figure in ("precision", "recall", "f1")
        }
        return vars(prf) | ci

    classes = {}
    for i, (label, prf) in enumerate(per_class.items()):
        tp, predicted = confusion[label][label], sum(row[label] for row in confusion.values())
        classes[label] = vars(prf) | {
            "precision_ci": intervals.share(tp, predicted, prf.precision),
            "recall_ci": intervals.share(tp, prf.support, prf.recall),
            "f1_ci": intervals.percentile_interval(prf.f1, draws.get(f"f1:{i}"), n),
        }
    correct = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p)
    mcc = metrics.matthews(y_true, y_pred)
    figures: dict[str, Any] = {
        "kind": "classification",
        "n": n,
        "accuracy": correct / n if n else None,
        "accuracy_ci": intervals.wilson(correct, n),
        "labels": labels,
        "per_class": classes,
        "macro": averaged("macro", macro),
        "weighted": averaged("weighted", weighted),
        "mcc": mcc,
        "mcc_ci": intervals.percentile_interval(mcc, draws.get("mcc"), n),
        "invalid": y_pred.count(INVALID),
        "confusion": confusion,
        "positive_label": positive,
    }
    if positive is not None:
        negatives = [p for t, p in zip(y_true, y_pred, strict=True) if t != positive]
        false_pos = negatives.count(positive)
        figures["fpr"] = false_pos / len(negatives) if negatives else None
        figures["fpr_ci"] = intervals.wilson(false_pos, len(negatives))
    if with_scores and scores is not None:
        ap, curve = metrics.precision_recall_sweep(truth, scores)
        figures["auprc"] = ap
        figures["auprc_ci"] = intervals.percentile_interval(ap, draws.get("auprc"), n)
        figures["pr_curve"] = [vars(p) for p in metrics.thin(curve, MAX_CURVE_POINTS)]
    return figures


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def modelgraded(log: EvalLog, failed: set[str]) -> tuple[dict[str, Any], list[Outcome]]:
    graded = [
        (key, event)
        for key, event in _keyed([e for e in log.events_of("metrics") if "choice" in e.data])
        if event.sample_id not in failed
    ]
    outcomes = [
        Outcome(key, predicted=str(e.data["choice"]), score=_number(e.data.get("score")))
        for key, e in graded
    ]
    choices = Counter(o.predicted for o in outcomes)
    scores = [o.score for o in outcomes if o.score is not None]
    metascores = [float(m) for _, e in graded if isinstance(m := e.data.get("metascore"), bool)]
    n = len(graded)
    counts = dict(sorted((str(k), v) for k, v in choices.items()))
    figures = {
        "kind": "modelgraded",
        "n": n,
        "invalid": choices.get(INVALID, 0),
        "choice_counts": counts,
        "choice_rates": {choice: intervals.wilson(count, n) for choice, count in counts.items()},
        "mean_score": _mean(scores),
        "mean_score_ci": intervals.mean_interval(scores),
        "metascore": _mean(metascores),
        "metascore_ci": intervals.wilson(int(sum(metascores)), len(metascores)),
    }
    return figures, outcomes


def judge_and_policy(log: EvalLog) -> tuple[str | None, str]:
    """The judge and the policy (models under test) of a model-graded log.

    ftevals' ``JudgedClassify`` names its judge in each metrics event (``judge``) and every
    completion function of the run is a model under test. Otherwise evals' convention: the
    last completion function judges the others (a single one judges itself).
    """
    named = {e.data.get("judge") for e in log.events_of("metrics") if "choice" in e.data}
    fns = log.completion_fns
    if len(named) == 1 and isinstance(judge := next(iter(named)), str):
        return judge, ",".join(fns)
    return (fns[-1] if fns else None), ",".join(fns[:-1] if len(fns) > 1 else fns)


def samples_file(log: EvalLog) -> tuple[Path | None, str | None]:
    """The eval's samples file, found as evals finds it, or None and why not.

    ``samples_jsonl`` as given, else under ``<eval registry_path>/data``.
    """
    name = spec_args(log).get("samples_jsonl")
    if not isinstance(name, str):
        return None, "the eval names no samples_jsonl"
    eval_spec = log.spec.get("run_config", {}).get("eval_spec", {})
    root = eval_spec.get("registry_path") if isinstance(eval_spec, dict) else None
    candidates = [Path(name)] + ([Path(str(root)) / "data" / name] if root else [])
    path = next((p for p in candidates if p.is_file()), None)
    return (path, None) if path else (None, f"samples file {name} not found")


def sample_line(log: EvalLog, sample_id: str) -> int | None:
    """The 0-based row of the samples file behind ``sample_id`` (``<base>.<split>.<i>``,
    with ``#k`` for a repeat), or None when the id has another form."""
    prefix = f"{log.base_eval}.{log.split}."
    tail = sample_id.split("#", 1)[0].removeprefix(prefix)
    return int(tail) if tail != sample_id and tail.isdigit() else None


def human_labels(log: EvalLog) -> tuple[dict[str, str], str | None]:
    """Sample id -> the ``choice`` a person gave (evals' metaeval samples), or why none."""
    from ftevals.jsonl import read_jsonl

    if not isinstance(spec_args(log).get("samples_jsonl"), str):
        return {}, None
    path, why = samples_file(log)
    if path is None:
        return {}, f"human labels not checked: {why}"
    labels = {}
    prefix = f"{log.base_eval}.{log.split}."
    for i, row in enumerate(read_jsonl(path)):
        if isinstance(row.get("choice"), str):
            labels[f"{prefix}{i}"] = row["choice"]
    return labels, None


def sampling_stats(log: EvalLog, samples: int) -> dict[str, Any]:
    """Token sums, latency percentiles and cost from sampling events that carry them."""
    import numpy as np

    sampling = [event.data for event in log.events_of("sampling")]
    usages = [usage for data in sampling if isinstance(usage := data.get("usage"), dict)]
    latencies = [x for data in sampling if (x := _number(data.get("latency_s"))) is not None]
    costs = [x for data in sampling if (x := _number(data.get("cost_usd"))) is not None]

    def tokens(key: str) -> int | None:
        return int(sum(_number(usage.get(key)) or 0.0 for usage in usages)) if usages else None

    cost = sum(costs) if costs else None
    return {
        "prompt_tokens": tokens("prompt_tokens"),
        "completion_tokens": tokens("completion_tokens"),
        "latency_p50_s": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_p95_s": float(np.percentile(latencies, 95)) if latencies else None,
        "cost_usd": cost,
        "cost_per_1k": cost / samples * 1000 if cost is not None and samples else None,
    }
