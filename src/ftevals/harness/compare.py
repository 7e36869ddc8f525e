"""Compare evals runs across models: one report row per log (model x eval).

A log with ``match`` events is scored as a classification (``kind="classification"``): the
figures are those of sklearn's ``classification_report(labels=<label set>, zero_division=0)``,
with answers that match no label predicted as :data:`INVALID`. A log without ``match`` events
but with ``metrics`` events carrying a ``choice`` (``ModelBasedClassify``) is summarised as
``kind="modelgraded"``. Another kind is added by writing a ``_<kind>(log) -> dict`` scorer and
dispatching to it in :func:`report_log`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ftevals.errors import InputError
from ftevals.harness.logs import EvalLog, LogEvent

if TYPE_CHECKING:
    import pandas as pd

INVALID = "__invalid__"
"""Prediction of an answer that matches no label (also ModelBasedClassify's invalid choice)."""


class ClassReport(BaseModel):
    """Precision, recall, F1 and support of one class or one average."""

    precision: float
    recall: float
    f1: float
    support: int


class ModelEvalReport(BaseModel):
    """The figures of one log: one model on one eval.

    ``model`` is the run's completion functions joined by ','; ``eval`` the base eval name;
    ``n`` the scored samples (match events, or metrics events with a choice). Classification
    fills ``accuracy``, ``labels`` (report order), ``per_class``, ``macro``, ``weighted`` and
    ``confusion`` (expected -> predicted, incl. '__invalid__' -> count); model-graded fills
    ``choice_counts``, ``mean_score`` (mean non-null score) and ``metascore`` (metaeval only).
    ``invalid`` counts answers matching no label / choices '__invalid__'. ``samples_per_s`` is
    n / (last event time - spec time), which excludes model loading. Token sums, latency
    percentiles and cost come from sampling events that carry them (else None).
    """

    model: str
    eval: str
    kind: Literal["classification", "modelgraded"]
    run_id: str
    log: str
    n: int
    accuracy: float | None = None
    labels: list[str] = Field(default_factory=list)
    per_class: dict[str, ClassReport] = Field(default_factory=dict)
    macro: ClassReport | None = None
    weighted: ClassReport | None = None
    invalid: int = 0
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    choice_counts: dict[str, int] = Field(default_factory=dict)
    mean_score: float | None = None
    metascore: float | None = None
    samples_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    cost_usd: float | None = None


class Comparison(BaseModel):
    """Reports of several logs, in the order the logs were given."""

    rows: list[ModelEvalReport]


def compare_logs(logs: list[EvalLog]) -> Comparison:
    """One :class:`ModelEvalReport` per log."""
    return Comparison(rows=[report_log(log) for log in logs])


def report_log(log: EvalLog) -> ModelEvalReport:
    """Score one log by its kind and add its throughput and usage figures."""
    matches = log.events_of("match")
    graded = [event for event in log.events_of("metrics") if "choice" in event.data]
    if matches:
        figures = _classification(log, matches)
    elif graded:
        figures = _modelgraded(graded)
    else:
        hint = "" if log.final_report is not None else " (interrupted run: no final report)"
        msg = f"no 'match' events and no 'metrics' events with a 'choice'{hint}: nothing to score"
        raise InputError(log.path, msg)
    n = figures["n"]
    return ModelEvalReport(
        model=log.model,
        eval=log.base_eval,
        run_id=log.run_id,
        log=str(log.path),
        samples_per_s=_samples_per_s(log, n),
        **figures,
        **_sampling_stats(log),
    )


def _spec_labels(log: EvalLog) -> list[str]:
    """``spec.run_config.eval_spec.args.labels`` if present."""
    node: Any = log.spec
    for key in ("run_config", "eval_spec", "args"):
        node = node.get(key) if isinstance(node, dict) else None
    labels = node.get("labels") if isinstance(node, dict) else None
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


def _predicted(event: LogEvent, labels: set[str]) -> str:
    """``data.label`` when recorded (ftevals' eval class), else ``data.picked``."""
    value = event.data["label"] if "label" in event.data else event.data.get("picked")
    return value if isinstance(value, str) and value in labels else INVALID


def _classification(log: EvalLog, matches: list[LogEvent]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true = [_expected(log, event) for event in matches]
    spec_labels = _spec_labels(log)
    labels = spec_labels + sorted(set(y_true) - set(spec_labels))
    if INVALID in labels:
        raise InputError(log.path, f"{INVALID!r} cannot be a label")
    label_set = set(labels)
    y_pred = [_predicted(event, label_set) for event in matches]

    def prfs(average: str | None) -> Any:
        return precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )

    per_class = {
        label: ClassReport(precision=float(p), recall=float(r), f1=float(f), support=int(s))
        for label, p, r, f, s in zip(labels, *prfs(None), strict=True)
    }
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = prfs(average)
        averages[average] = ClassReport(
            precision=float(p), recall=float(r), f1=float(f), support=len(y_true)
        )
    confusion = {label: dict.fromkeys([*labels, INVALID], 0) for label in labels}
    for true, pred in zip(y_true, y_pred, strict=True):
        confusion[true][pred] += 1
    return {
        "kind": "classification",
        "n": len(matches),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "labels": labels,
        "per_class": per_class,
        "macro": averages["macro"],
        "weighted": averages["weighted"],
        "invalid": y_pred.count(INVALID),
        "confusion": confusion,
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _modelgraded(graded: list[LogEvent]) -> dict[str, Any]:
    choices = Counter(str(event.data["choice"]) for event in graded)
    scores = [s for e in graded if (s := _number(e.data.get("score"))) is not None]
    metascores = [float(m) for e in graded if isinstance(m := e.data.get("metascore"), bool)]
    return {
        "kind": "modelgraded",
        "n": len(graded),
        "invalid": choices.get(INVALID, 0),
        "choice_counts": dict(sorted(choices.items())),
        "mean_score": _mean(scores),
        "metascore": _mean(metascores),
    }


def _samples_per_s(log: EvalLog, n: int) -> float | None:
    last = log.last_event_at
    if last is None or n == 0:
        return None
    seconds = (last - log.created_at).total_seconds()
    return n / seconds if seconds > 0 else None


def _sampling_stats(log: EvalLog) -> dict[str, Any]:
    """Token sums, latency percentiles and cost from sampling events that carry them."""
    import numpy as np

    sampling = [event.data for event in log.events_of("sampling")]
    usages = [usage for data in sampling if isinstance(usage := data.get("usage"), dict)]
    latencies = [x for data in sampling if (x := _number(data.get("latency_s"))) is not None]
    costs = [x for data in sampling if (x := _number(data.get("cost_usd"))) is not None]

    def tokens(key: str) -> int | None:
        return int(sum(_number(usage.get(key)) or 0.0 for usage in usages)) if usages else None

    return {
        "prompt_tokens": tokens("prompt_tokens"),
        "completion_tokens": tokens("completion_tokens"),
        "latency_p50_s": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_p95_s": float(np.percentile(latencies, 95)) if latencies else None,
        "cost_usd": sum(costs) if costs else None,
    }


def _fmt(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _grid(rows: list[list[str]], indent: str) -> list[str]:
    """Fixed-width lines: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


# (title, ModelEvalReport attribute, decimals): shown when some row of the eval has a value
_OPTIONAL_COLUMNS: list[tuple[str, str, int]] = [
    ("lat p50 s", "latency_p50_s", 3), ("lat p95 s", "latency_p95_s", 3),
    ("tokens in", "prompt_tokens", 0), ("tokens out", "completion_tokens", 0),
    ("cost $", "cost_usd", 4), ("score", "mean_score", 3),
]  # fmt: skip


def _summary_lines(rows: list[ModelEvalReport]) -> list[str]:
    show_run = len({row.model for row in rows}) < len(rows)
    optional = [c for c in _OPTIONAL_COLUMNS if any(getattr(r, c[1]) is not None for r in rows)]
    header = ["model", *(["run"] if show_run else []), "n", "accuracy", "macro F1", "invalid"]
    table = [[*header, "samples/s", *(title for title, _, _ in optional)]]
    for row in rows:
        macro_f1 = row.macro.f1 if row.macro is not None else None
        cells = [row.model, *([row.run_id] if show_run else []), str(row.n)]
        cells += [_fmt(row.accuracy), _fmt(macro_f1), str(row.invalid), _fmt(row.samples_per_s, 2)]
        cells += [_fmt(getattr(row, attr), digits) for _, attr, digits in optional]
        table.append(cells)
    return _grid(table, "  ")


def _detail_lines(row: ModelEvalReport) -> list[str]:
    lines = [f"  {row.model}  [run {row.run_id}]"]
    if row.kind == "modelgraded":
        counts = ", ".join(f"{choice}={count}" for choice, count in row.choice_counts.items())
        return [*lines, f"    choices: {counts}"]
    table = [["", "precision", "recall", "f1-score", "support"]]
    named = [*row.per_class.items(), ("macro avg", row.macro), ("weighted avg", row.weighted)]
    for name, report in named:
        if report is not None:
            figures = (report.precision, report.recall, report.f1)
            table.append([name, *(_fmt(x) for x in figures), str(report.support)])
    return lines + _grid(table, "    ")


def render_table(comparison: Comparison) -> str:
    """Plain-text report: per eval, one summary line per model, then per-class figures."""
    blocks: list[str] = []
    for name in dict.fromkeys(row.eval for row in comparison.rows):
        rows = [row for row in comparison.rows if row.eval == name]
        lines = [f"eval: {name}", *_summary_lines(rows)]
        for row in rows:
            lines += ["", *_detail_lines(row)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


SUMMARY_COLUMNS = [
    "eval", "model", "kind", "run_id", "n", "accuracy",
    "macro_precision", "macro_recall", "macro_f1",
    "weighted_precision", "weighted_recall", "weighted_f1",
    "invalid", "samples_per_s", "prompt_tokens", "completion_tokens",
    "latency_p50_s", "latency_p95_s", "cost_usd",
    "choice_counts", "mean_score", "metascore", "log",
]  # fmt: skip
PER_CLASS_COLUMNS = ["eval", "model", "run_id", "label", "precision", "recall", "f1", "support"]
_INT_COLUMNS = ["n", "invalid", "prompt_tokens", "completion_tokens"]


def comparison_frames(comparison: Comparison) -> dict[str, pd.DataFrame]:
    """``summary`` (one row per model x eval) and ``per_class`` (per model x eval x label)."""
    import pandas as pd

    summary: list[dict[str, Any]] = []
    per_class: list[dict[str, Any]] = []
    for row in comparison.rows:
        record = row.model_dump(include=set(SUMMARY_COLUMNS))
        for name in ("macro", "weighted"):
            avg = getattr(row, name)
            for metric in ("precision", "recall", "f1"):
                record[f"{name}_{metric}"] = getattr(avg, metric) if avg is not None else None
        record["choice_counts"] = json.dumps(row.choice_counts) if row.choice_counts else None
        summary.append(record)
        for label, report in row.per_class.items():
            keys = {"eval": row.eval, "model": row.model, "run_id": row.run_id, "label": label}
            per_class.append({**keys, **report.model_dump()})
    summary_frame = pd.DataFrame(summary, columns=SUMMARY_COLUMNS)
    summary_frame = summary_frame.astype({column: "Int64" for column in _INT_COLUMNS})
    return {
        "summary": summary_frame,
        "per_class": pd.DataFrame(per_class, columns=PER_CLASS_COLUMNS),
    }


def write_json(comparison: Comparison, path: str | Path) -> Path:
    """Write the comparison as indented JSON (the :class:`Comparison` schema)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comparison.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def write_csv(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Write ``summary.csv`` and ``per_class.csv`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in comparison_frames(comparison).items():
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    return written
