"""One list of summary figures (``ftevals.harness.columns``): every figure shown in the text
and HTML reports is in the export, every interval has its bounds, every interval of a report
row is declared."""

from __future__ import annotations

import csv
import itertools
import types
from pathlib import Path
from typing import Any, get_args

from ftevals.harness.columns import SUMMARY_FIGURES, Figure, positive_class
from ftevals.harness.compare import ClassReport, Comparison, ModelEvalReport
from ftevals.harness.export import SUMMARY_COLUMNS, SUMMARY_KEYS, comparison_tables, write_csv
from ftevals.harness.intervals import Interval
from ftevals.harness.report_text import FIGURE_COLUMNS, USAGE_COLUMNS, cell_of, render_table

Tables = dict[str, tuple[list[str], list[dict[str, Any]]]]


def _full_row() -> ModelEvalReport:
    """A row with every figure and interval filled, each with its own value (a figure read
    from the wrong place cannot match by chance)."""
    values = (round(0.101 + 0.013 * i, 3) for i in itertools.count())

    def ci() -> Interval:
        value = next(values)
        return Interval(value=value, low=value - 0.05, high=value + 0.05, n=50, method="wilson")

    def report() -> ClassReport:
        p, r, f = ci(), ci(), ci()
        figures = {"precision": p.value, "recall": r.value, "f1": f.value, "support": 20}
        return ClassReport(**figures, precision_ci=p, recall_ci=r, f1_ci=f)

    row: dict[str, Any] = {"model": "m", "eval": "e", "eval_name": "e.dev.v0"}
    row |= {"kind": "classification", "run_id": "r1", "log": "e.jsonl", "n": 50, "failed": 2}
    for name, field in ModelEvalReport.model_fields.items():
        if name.endswith("_ci") and field.annotation == Interval | None:
            row[name] = interval = ci()
            row[name.removesuffix("_ci")] = interval.value
    row["labels"] = ["safe", "unsafe"]
    row["per_class"] = {"safe": report(), "unsafe": report()}
    row |= {"macro": report(), "weighted": report(), "positive_label": "unsafe", "invalid": 3}
    row |= {"choice_counts": {"A": 30, "B": 20}, "human_n": 40, "samples_per_s": 12.5}
    row |= {"prompt_tokens": 900, "completion_tokens": 60, "latency_p50_s": 0.21}
    row |= {"latency_p95_s": 0.43, "cost_usd": 0.0123, "cost_per_1k": 0.246}
    return ModelEvalReport(**row)


def _undeclared(figures: list[Figure], row: ModelEvalReport) -> list[str]:
    """Intervals of the row (``<figure>_ci``, its own and its averages') that no figure reads,
    or reads beside another figure than its own."""
    found = []
    holders: list[tuple[str, Any]] = [("", row), ("macro.", row.macro), ("weighted.", row.weighted)]
    for prefix, holder in holders:
        for name in type(holder).model_fields:
            if not name.endswith("_ci") or getattr(holder, name) is None:
                continue
            figure = getattr(holder, name.removesuffix("_ci"))
            if not any(
                f.interval(row) is getattr(holder, name) and f.value(row) == figure for f in figures
            ):
                found.append(prefix + name)
    return found


def _summary_and_positive(tables: Tables, row: ModelEvalReport) -> tuple[dict[str, Any], Any]:
    [record] = tables["summary"][1]
    [positive] = [r for r in tables["per_class"][1] if r["label"] == row.positive_label]
    return record, positive


def _not_exported(figures: list[Figure], tables: Tables, row: ModelEvalReport) -> list[str]:
    """Figures whose value is not in the export: the summary table, or for the positive
    class's figures its line of ``per_class``."""
    record, positive = _summary_and_positive(tables, row)
    columns = tables["summary"][0]
    missing = []
    for f in figures:
        if f.in_summary:
            exported = f.name in columns and record.get(f.name) == f.value(row)
        else:
            exported = f.source is positive_class and positive.get(f.field) == f.value(row)
        if f.value(row) is None or not exported:
            missing.append(f.name)
    return missing


def _without_bounds(figures: list[Figure], tables: Tables, row: ModelEvalReport) -> list[str]:
    """Figures with an interval whose ``_low``/``_high`` columns are missing or wrong."""
    record, positive = _summary_and_positive(tables, row)
    columns = tables["summary"][0]
    missing = []
    for f in figures:
        if not f.with_ci:
            continue
        ci = f.interval(row)
        name, line = (f.name, record) if f.in_summary else (f.field, positive)
        ends = [f"{name}_low", f"{name}_high"]
        if ci is None or (f.in_summary and not set(ends) <= set(columns)):
            missing.append(f.name)
        elif [line.get(end) for end in ends] != [ci.low, ci.high]:
            missing.append(f.name)
    return missing


def test_every_interval_of_a_row_is_declared() -> None:
    row = _full_row()
    assert _undeclared(SUMMARY_FIGURES, row) == []
    # the check sees an interval nobody declares
    without_mcc = [f for f in SUMMARY_FIGURES if f.name != "mcc"]
    assert _undeclared(without_mcc, row) == ["mcc_ci"]
    without_macro_recall = [f for f in SUMMARY_FIGURES if f.name != "macro_recall"]
    assert _undeclared(without_macro_recall, row) == ["macro.recall_ci"]


def test_every_number_of_a_row_is_a_key_or_a_declared_figure() -> None:
    numbers = {
        name
        for name, field in ModelEvalReport.model_fields.items()
        if set(get_args(field.annotation) or [field.annotation]) - {types.NoneType} <= {int, float}
    }
    assert {"n", "accuracy", "human_n", "cost_per_1k"} <= numbers
    row = _full_row()
    declared = {f.field for f in SUMMARY_FIGURES if f.source(row) is row}
    assert numbers - set(SUMMARY_KEYS) - declared == set()


def test_figures_shown_in_the_reports_are_exported_with_their_bounds(tmp_path: Path) -> None:
    row = _full_row()
    comparison = Comparison(rows=[row])
    tables = comparison_tables(comparison)
    shown = [*FIGURE_COLUMNS, *USAGE_COLUMNS]
    assert shown and all(f.title and f.table in ("figures", "usage") for f in shown)
    assert _not_exported(shown, tables, row) == []
    assert _without_bounds(SUMMARY_FIGURES, tables, row) == []
    # the checks see a figure the export lacks, and bounds it lacks
    p99 = Figure("latency_p99_s", "usage", "lat p99 s", attribute="latency_p95_s")
    assert _not_exported([*shown, p99], tables, row) == ["latency_p99_s"]
    columns, rows = tables["summary"]
    cut = [c for c in columns if c != "mcc_high"]
    assert _without_bounds(SUMMARY_FIGURES, {**tables, "summary": (cut, rows)}, row) == ["mcc"]
    # the text report shows each of them, with its interval
    text = render_table(comparison)
    for f in shown:
        assert f.title.format(positive="unsafe") in text and cell_of(f, row) in text
    # the CSV header is the declared order: keys, figures, bounds, then the answers' columns
    [path] = [p for p in write_csv(comparison, tmp_path) if p.name == "summary.csv"]
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header == SUMMARY_COLUMNS and len(set(header)) == len(header)
    figures = [f.name for f in SUMMARY_FIGURES if f.in_summary]
    bounds = [end for f in SUMMARY_FIGURES for end in f.bounds]
    assert header[len(SUMMARY_KEYS) :][: len(figures) + len(bounds)] == figures + bounds


def test_declarations_are_consistent() -> None:
    names = [f.name for f in SUMMARY_FIGURES]
    assert len(set(names)) == len(names)
    assert not set(names) & set(SUMMARY_KEYS)
    for f in SUMMARY_FIGURES:
        assert bool(f.title) == (f.table != "export"), f.name  # shown figures have a title
        assert not (f.table == "usage" and f.with_ci), f.name  # usage describes the run
    assert [f.title for f in FIGURE_COLUMNS][:3] == ["accuracy", "F1 {positive}", "FPR"]
