"""A :class:`~ftevals.harness.compare.Comparison` as tables, JSON and CSV files (standard
library), and as pandas DataFrames (the ``analysis`` extra)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftevals.harness.columns import SUMMARY_FIGURES, summary_bounds, summary_values
from ftevals.harness.compare import Comparison, ModelEvalReport
from ftevals.jsonl import write_atomic

if TYPE_CHECKING:
    import pandas as pd


def _bounds(figures: list[str]) -> list[str]:
    """The interval columns of figures: ``<figure>_low``, ``<figure>_high``."""
    return [f"{figure}_{end}" for figure in figures for end in ("low", "high")]


SUMMARY_KEYS = [
    "eval", "model", "kind", "baseline", "run_id", "eval_name", "judge", "policy", "n", "failed",
]  # fmt: skip
"""The columns naming a summary row and its sample counts, before its figures."""
SUMMARY_INTERVALS = [figure.name for figure in SUMMARY_FIGURES if figure.bounds]
"""Figures of a summary row with an interval (bounds in ``<figure>_low``/``_high``), from
:data:`~ftevals.harness.columns.SUMMARY_FIGURES`."""
ANSWER_COLUMNS = [
    "answers", "empty", "degenerate", "degenerate_share", "degenerate_share_low",
    "degenerate_share_high", "degenerate_flagged", "ok_metric", "ok_n", "ok_value", "ok_value_low",
    "ok_value_high",
]  # fmt: skip
"""Summary columns of ``answer_quality`` (``ftevals.harness.degenerate``): answers read, empty,
degenerate, their share and interval, the flag, and the main figure (``ok_metric``) on the
``ok_n`` other answers (model-graded choice rates only in the JSON)."""
SUMMARY_COLUMNS = [
    *SUMMARY_KEYS, *summary_values(), *summary_bounds(), *ANSWER_COLUMNS, "flags", "notes", "log",
]  # fmt: skip
"""The summary table: keys, the figures of :data:`~ftevals.harness.columns.SUMMARY_FIGURES`
in their order, their interval bounds, the answers' columns, flags, notes and the log."""
PER_CLASS_COLUMNS = [
    "eval", "model", "run_id", "label", "precision", "recall", "f1", "support",
    *_bounds(["precision", "recall", "f1"]),
]  # fmt: skip
CONFUSION_COLUMNS = ["eval", "model", "run_id", "expected", "predicted", "count"]
CURVE_COLUMNS = ["eval", "model", "run_id", "threshold", "precision", "recall", "f1"]
PAIRED_COLUMNS = [
    "eval", "eval_name", "kind", "model_a", "model_b", "run_a", "run_b", "n", "a_only", "b_only",
    "mcnemar_p", "mcnemar_statistic", "mcnemar_method", "metric", "a_value", "b_value", "diff",
    "ci_low", "ci_high", "ci_level", "significant", "verdict", "flips",
]  # fmt: skip
FLIP_COLUMNS = ["eval", "model_a", "model_b", "run_a", "run_b", "sample_id", "expected", "a", "b"]
JUDGE_COLUMNS = [
    "eval", "eval_name", "policy", "judge_a", "judge_b", "run_a", "run_b", "n", "agreement",
    "kappa", *_bounds(["agreement", "kappa"]),
]  # fmt: skip
SEED_COLUMNS = [
    "eval", "eval_name", "model", "seeds", "figure", "mean", "std", "min", "max", "n", "runs",
]  # fmt: skip
BREAKDOWN_COLUMNS = [
    "eval", "model", "run_id", "field", "group", "n", "accuracy", "positives", "recall",
    "negatives", "fpr", *_bounds(["accuracy", "recall", "fpr"]), "too_small",
]  # fmt: skip
_INT_COLUMNS = {
    "summary": ["n", "failed", "invalid", "prompt_tokens", "completion_tokens", "human_n"]
    + ["answers", "empty", "degenerate", "ok_n"],
    "paired": ["a_only", "b_only"],
}


def _interval_bounds(model: Any, figures: list[str]) -> dict[str, float | None]:
    """``<figure>_low``/``_high`` from ``model.<figure>_ci`` (None without an interval)."""
    found: dict[str, float | None] = {}
    for figure in figures:
        ci = getattr(model, f"{figure}_ci", None)
        found[f"{figure}_low"] = ci.low if ci is not None else None
        found[f"{figure}_high"] = ci.high if ci is not None else None
    return found


def _summary_figures(row: ModelEvalReport) -> dict[str, Any]:
    """The figures of a summary row and their interval bounds (None where not computed)."""
    found: dict[str, Any] = {}
    for figure in SUMMARY_FIGURES:
        if figure.in_summary:
            found[figure.name] = figure.value(row)
        if figure.bounds:
            ci = figure.interval(row)
            low, high = figure.bounds
            found[low] = ci.low if ci is not None else None
            found[high] = ci.high if ci is not None else None
    return found


def _answer_columns(row: Any) -> dict[str, Any]:
    """The :data:`ANSWER_COLUMNS` of a row (None without answers read)."""
    q = row.answer_quality
    if q is None:
        return dict.fromkeys(ANSWER_COLUMNS)
    share, value = _interval_bounds(q, ["share"]), _interval_bounds(q, ["value"])
    return {
        "answers": q.answers, "empty": q.empty, "degenerate": q.degenerate,
        "degenerate_share": q.share, "degenerate_share_low": share["share_low"],
        "degenerate_share_high": share["share_high"], "degenerate_flagged": q.flagged,
        "ok_metric": q.metric, "ok_n": q.n_ok, "ok_value": q.value,
        "ok_value_low": value["value_low"], "ok_value_high": value["value_high"],
    }  # fmt: skip


def comparison_tables(comparison: Comparison) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """Tables ``summary`` (models, then baselines), ``per_class``, ``confusion``, ``pr_curve``,
    ``paired``, ``flips``, ``judges``, ``breakdown`` and ``seed_groups`` (one line per group
    and figure): ``name -> (columns, rows)``, the columns being the ``*_COLUMNS`` lists."""
    rows: dict[str, list[dict[str, Any]]] = {
        "summary": [], "per_class": [], "confusion": [], "pr_curve": [],
        "paired": [], "flips": [], "judges": [], "breakdown": [], "seed_groups": [],
    }  # fmt: skip
    for row in [*comparison.rows, *comparison.baselines]:
        record = row.model_dump(include={*SUMMARY_KEYS, "log"}) | _summary_figures(row)
        record["choice_counts"] = json.dumps(row.choice_counts) if row.choice_counts else None
        record["notes"] = "; ".join(row.notes) or None
        record["flags"] = "; ".join(row.flags) or None
        record |= _answer_columns(row)
        rows["summary"].append(record)
        keys = {"eval": row.eval, "model": row.model, "run_id": row.run_id}
        for label, report in row.per_class.items():
            figures = report.model_dump(include={"precision", "recall", "f1", "support"})
            bounds = _interval_bounds(report, ["precision", "recall", "f1"])
            rows["per_class"].append({**keys, "label": label, **figures, **bounds})
        for expected, predicted in row.confusion.items():
            for label, count in predicted.items():
                cell = {"expected": expected, "predicted": label, "count": count}
                rows["confusion"].append({**keys, **cell})
        rows["pr_curve"] += [{**keys, **point.model_dump()} for point in row.pr_curve]
    for pair in comparison.paired:
        rows["paired"].append({**pair.model_dump(exclude={"flips"}), "flips": len(pair.flips)})
        keys = pair.model_dump(include={"eval", "model_a", "model_b", "run_a", "run_b"})
        rows["flips"] += [{**keys, **flip.model_dump()} for flip in pair.flips]
    for judge in comparison.judges:
        record = judge.model_dump(exclude={"agreement_ci", "kappa_ci"})
        rows["judges"].append(record | _interval_bounds(judge, ["agreement", "kappa"]))
    for found in comparison.breakdowns:
        keys = {"eval": found.eval, "model": found.model, "run_id": found.run_id}
        for g in found.groups:
            record = g.model_dump(exclude={"accuracy_ci", "recall_ci", "fpr_ci", "value"})
            bounds = _interval_bounds(g, ["accuracy", "recall", "fpr"])
            rows["breakdown"].append(
                {**keys, "field": found.field, "group": g.value, **record, **bounds}
            )
    for group in comparison.seed_groups:
        keys = group.model_dump(include={"eval", "eval_name", "model"})
        seeds, runs = " ".join(map(str, group.seeds)), " ".join(group.runs)
        for figure, spread in group.figures.items():
            record = {**keys, "seeds": seeds, "figure": figure, **spread.model_dump()}
            rows["seed_groups"].append(record | {"runs": runs})
    columns = {
        "summary": SUMMARY_COLUMNS, "per_class": PER_CLASS_COLUMNS,
        "confusion": CONFUSION_COLUMNS, "pr_curve": CURVE_COLUMNS, "paired": PAIRED_COLUMNS,
        "flips": FLIP_COLUMNS, "judges": JUDGE_COLUMNS, "breakdown": BREAKDOWN_COLUMNS,
        "seed_groups": SEED_COLUMNS,
    }  # fmt: skip
    return {name: (columns[name], rows[name]) for name in columns}


def comparison_frames(comparison: Comparison) -> dict[str, pd.DataFrame]:
    """:func:`comparison_tables` as pandas DataFrames (counts as nullable ``Int64``)."""
    from ftevals import extras

    extras.require("analysis", "DataFrames of a comparison")
    import pandas as pd

    frames = {
        name: pd.DataFrame(rows, columns=columns)
        for name, (columns, rows) in comparison_tables(comparison).items()
    }
    for name, ints in _INT_COLUMNS.items():
        frames[name] = frames[name].astype({column: "Int64" for column in ints})
    return frames


def write_json(comparison: Comparison, path: str | Path) -> Path:
    """Write the comparison as indented JSON (the :class:`Comparison` schema)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, comparison.model_dump_json(indent=2) + "\n")
    return path


def write_csv(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Write one CSV per table of :func:`comparison_tables` into ``out_dir``; return paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (columns, rows) in comparison_tables(comparison).items():
        path = out_dir / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)  # None is written as an empty cell, as pandas did
        written.append(path)
    return written
