"""The terminal report of a :class:`~ftevals.harness.compare.Comparison`.

The summary columns (:data:`FIGURE_COLUMNS`, :data:`USAGE_COLUMNS`) are defined once here and
used by the HTML report too. A figure with an interval reads ``0.935 [0.920, 0.948]`` (the
95% interval; see ``ftevals.harness.intervals``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ftevals.harness.breakdown import Breakdown
from ftevals.harness.compare import (
    ClassReport,
    Comparison,
    JudgeAgreement,
    ModelEvalReport,
    PairedComparison,
)
from ftevals.harness.degenerate import answer_lines
from ftevals.harness.intervals import Interval
from ftevals.harness.seeds import seed_lines

MAX_FLIPS_SHOWN = 10


def fmt(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def fmt_ci(value: float | int | None, ci: Interval | None, digits: int = 3) -> str:
    """``0.935 [0.920, 0.948]``; the value alone when it has no interval; ``-`` for None."""
    if value is None or ci is None or ci.low is None or ci.high is None:
        return fmt(value, digits)
    return f"{fmt(value, digits)} [{ci.low:.{digits}f}, {ci.high:.{digits}f}]"


def fmt_p(value: float | None) -> str:
    """A p-value: 4 decimals, or 2 significant digits below 0.0001."""
    if value is None:
        return "-"
    return f"{value:.2g}" if 0 < value < 1e-4 else f"{value:.4f}"


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


def positive_class(row: ModelEvalReport) -> ClassReport | None:
    return row.per_class.get(row.positive_label) if row.positive_label else None


@dataclass(frozen=True)
class Column:
    """A summary column: ``title`` (``{positive}`` = the eval's positive label), the figure,
    its interval (if any) and decimals. Shown when some row of the eval has a value."""

    title: str
    value: Callable[[ModelEvalReport], float | int | None]
    interval: Callable[[ModelEvalReport], Interval | None] = lambda _: None
    digits: int = 3

    def cell(self, row: ModelEvalReport) -> str:
        return fmt_ci(self.value(row), self.interval(row), self.digits)


def _macro_f1(row: ModelEvalReport) -> float | None:
    return row.macro.f1 if row.macro is not None else None


def _positive_f1(row: ModelEvalReport) -> float | None:
    return report.f1 if (report := positive_class(row)) is not None else None


def _positive_f1_ci(row: ModelEvalReport) -> Interval | None:
    return report.f1_ci if (report := positive_class(row)) is not None else None


FIGURE_COLUMNS: list[Column] = [
    Column("accuracy", lambda r: r.accuracy, lambda r: r.accuracy_ci),
    Column("F1 {positive}", _positive_f1, _positive_f1_ci),
    Column("FPR", lambda r: r.fpr, lambda r: r.fpr_ci),
    Column("macro F1", _macro_f1, lambda r: r.macro.f1_ci if r.macro is not None else None),
    Column("MCC", lambda r: r.mcc, lambda r: r.mcc_ci),
    Column("AUPRC", lambda r: r.auprc, lambda r: r.auprc_ci),
    Column("score", lambda r: r.mean_score, lambda r: r.mean_score_ci),
    Column("metascore", lambda r: r.metascore, lambda r: r.metascore_ci),
    Column("human agreement", lambda r: r.human_agreement, lambda r: r.human_agreement_ci),
    Column("human kappa", lambda r: r.human_kappa, lambda r: r.human_kappa_ci),
]  # fmt: skip
"""Figures of the eval, with their 95% intervals."""

USAGE_COLUMNS: list[Column] = [
    Column("samples/s", lambda r: r.samples_per_s, digits=2),
    Column("lat p50 s", lambda r: r.latency_p50_s),
    Column("lat p95 s", lambda r: r.latency_p95_s),
    Column("tokens in", lambda r: r.prompt_tokens),
    Column("tokens out", lambda r: r.completion_tokens),
    Column("cost $", lambda r: r.cost_usd, digits=4),
    Column("$/1k samples", lambda r: r.cost_per_1k, digits=4),
]  # fmt: skip
"""Throughput, tokens and cost (no intervals: they describe the run, not the eval)."""


def shown(columns: list[Column], rows: list[ModelEvalReport]) -> list[tuple[str, Column]]:
    """(title, column) of the columns some row has a value for, titles filled in."""
    positive = next((r.positive_label for r in rows if r.positive_label), None)
    return [
        (c.title.format(positive=positive or "positive"), c)
        for c in columns
        if any(c.value(r) is not None for r in rows)
    ]


def split_of(row: ModelEvalReport) -> str:
    """The eval name without its base (``heldout.v1`` of ``safety-clf.heldout.v1``)."""
    return row.eval_name.removeprefix(f"{row.eval}.") or row.eval_name


def identity(
    rows: list[ModelEvalReport],
) -> tuple[list[str], Callable[[ModelEvalReport], list[str]]]:
    """The columns naming a row: model, then ``eval`` (the split) when the rows cover several
    evals of one base, and ``run`` when a model has several rows of one eval."""
    show_eval = len({row.eval_name for row in rows}) > 1
    show_run = len({(row.model, row.eval_name) for row in rows}) < len(rows)
    header = ["model", *(["eval"] if show_eval else []), *(["run"] if show_run else [])]

    def cells(row: ModelEvalReport) -> list[str]:
        run = [row.run_id or "-"] if show_run else []
        return [row.model, *([split_of(row)] if show_eval else []), *run]

    return header, cells


def summary_lines(rows: list[ModelEvalReport]) -> list[str]:
    """Columns: model, [eval], [run], n, failed, invalid, then the figures with intervals."""
    columns = shown(FIGURE_COLUMNS, rows)
    header, names = identity(rows)
    table = [[*header, "n", "failed", "invalid", *(title for title, _ in columns)]]
    for row in rows:
        counts = ["-", "-"] if row.baseline else [str(row.failed), str(row.invalid)]
        cells = [*names(row), str(row.n), *counts]
        table.append(cells + [column.cell(row) for _, column in columns])
    return _grid(table, "  ")


def usage_lines(rows: list[ModelEvalReport]) -> list[str]:
    """Throughput, latency, tokens and cost per model (rows of models only)."""
    rows = [row for row in rows if not row.baseline]
    columns = shown(USAGE_COLUMNS, rows)
    if not columns:
        return []
    header, names = identity(rows)
    table = [[*header, *(title for title, _ in columns)]]
    for row in rows:
        table.append(names(row) + [column.cell(row) for _, column in columns])
    return ["", "  usage:", *_grid(table, "    ")]


def balance_lines(baselines: list[ModelEvalReport]) -> list[str]:
    """Class balance of the eval's samples and what the baseline row is."""
    lines = []
    for base in baselines:
        n = sum(c.support for c in base.per_class.values())
        shares = ", ".join(
            f"{label} {c.support} ({c.support / n:.1%})" for label, c in base.per_class.items()
        )
        positive = f"; positive label {base.positive_label!r}" if base.positive_label else ""
        lines.append(f"  class balance of {base.eval_name} ({n} samples): {shares}{positive}")
        lines += [f"  {base.model} ({split_of(base)}): {note}" for note in base.notes]
    return lines


def flag_lines(rows: list[ModelEvalReport]) -> list[str]:
    return [f"  ! {row.model} ({split_of(row)}): {flag}" for row in rows for flag in row.flags]


def detail_lines(row: ModelEvalReport) -> list[str]:
    lines = [f"  {row.model}  [{row.eval_name}, run {row.run_id}]"]
    lines += [f"    note: {note}" for note in row.notes]
    if row.failed:
        lines.append(f"    failed samples (not scored): {row.failed}")
    if row.kind == "modelgraded":
        rates = row.choice_rates
        counts = ", ".join(
            f"{choice}={count} ({fmt_ci(rate.value, rate)})" if (rate := rates.get(choice))
            else f"{choice}={count}"
            for choice, count in row.choice_counts.items()
        )  # fmt: skip
        lines.append(f"    judge: {row.judge}; choices (rate [95% CI]): {counts}")
        if row.human_n:
            lines.append(
                f"    against human labels: n={row.human_n} agreement="
                f"{fmt_ci(row.human_agreement, row.human_agreement_ci)} "
                f"kappa={fmt_ci(row.human_kappa, row.human_kappa_ci)}"
            )
        return lines
    if not row.per_class:
        return lines
    if row.auprc is not None:
        auprc = fmt_ci(row.auprc, row.auprc_ci)
        lines.append(f"    AUPRC (positive class {row.positive_label!r}): {auprc}")
    table = [["", "precision", "recall", "f1-score", "support"]]
    named = [*row.per_class.items(), ("macro avg", row.macro), ("weighted avg", row.weighted)]
    for name, report in named:
        if report is not None:
            figures = [
                fmt_ci(report.precision, report.precision_ci),
                fmt_ci(report.recall, report.recall_ci),
                fmt_ci(report.f1, report.f1_ci),
            ]
            table.append([name, *figures, str(report.support)])
    return lines + _grid(table, "    ")


def paired_lines(pairs: list[PairedComparison]) -> list[str]:
    if not pairs:
        return []
    several = len({pair.eval_name for pair in pairs}) > 1

    def name(pair: PairedComparison) -> str:
        split = pair.eval_name.removeprefix(f"{pair.eval}.")
        return f"{pair.model_b} vs {pair.model_a}" + (f" ({split})" if several else "")

    table = [["B vs A", "n", "A only", "B only", "McNemar p", "B - A", "95% CI", "flips"]]
    for pair in pairs:
        ci = f"[{fmt(pair.ci_low)}, {fmt(pair.ci_high)}]" if pair.ci_low is not None else "-"
        p = fmt_p(pair.mcnemar_p) + (f" ({pair.mcnemar_method})" if pair.mcnemar_method else "")
        table.append(
            [
                f"{name(pair)} ({pair.metric})",
                str(pair.n),
                fmt(pair.a_only),
                fmt(pair.b_only),
                p,
                fmt(pair.diff),
                ci,
                str(len(pair.flips)),
            ]
        )
    lines = ["", "  paired, on the same samples:", *_grid(table, "    ")]
    lines += [f"    {name(pair)}: {pair.verdict}" for pair in pairs]
    for pair in pairs:
        if pair.flips:
            split = f" ({pair.eval_name.removeprefix(pair.eval + '.')})" if several else ""
            lines.append(
                f"    flipped, {pair.model_a} -> {pair.model_b}{split} ({len(pair.flips)}):"
            )
            for flip in pair.flips[:MAX_FLIPS_SHOWN]:
                truth = f" (expected {flip.expected})" if flip.expected is not None else ""
                lines.append(f"      {flip.sample_id}: {flip.a} -> {flip.b}{truth}")
            if len(pair.flips) > MAX_FLIPS_SHOWN:
                more = len(pair.flips) - MAX_FLIPS_SHOWN
                lines.append(f"      ... and {more} more (see --json, --csv or --html)")
    return lines


def judge_lines(judges: list[JudgeAgreement]) -> list[str]:
    if not judges:
        return []
    table = [["policy", "judge A", "judge B", "n", "agreement", "kappa"]]
    for j in judges:
        agreement, kappa = fmt_ci(j.agreement, j.agreement_ci), fmt_ci(j.kappa, j.kappa_ci)
        table.append([j.policy, j.judge_a, j.judge_b, str(j.n), agreement, kappa])
    return ["", "  judges of the same answers:", *_grid(table, "    ")]


def breakdown_table(found: Breakdown) -> list[list[str]]:
    """Header and one row per group (text and HTML); small groups marked too small to read."""
    positive = found.positive_label
    header = [found.field, "n", "accuracy"]
    if positive:
        header += ["positives", f"recall {positive}", "negatives", "FPR"]
    table = [[*header, ""]]
    for g in found.groups:
        cells = [g.value, str(g.n), fmt_ci(g.accuracy, g.accuracy_ci)]
        if positive:
            cells += [str(g.positives), fmt_ci(g.recall, g.recall_ci)]
            cells += [str(g.negatives), fmt_ci(g.fpr, g.fpr_ci)]
        too_small = f"too small to read (n < {found.min_group})"
        table.append([*cells, too_small if g.too_small else ""])
    return table


def breakdown_lines(found: Breakdown) -> list[str]:
    """One model's groups of one field."""
    title = f"  by {found.field}, {found.model}  [{found.eval_name}, run {found.run_id}]"
    if found.positive_label:
        title += f" (positive label {found.positive_label!r})"
    lines = ["", title]
    if found.note:
        lines.append(f"    note: {found.note}")
    return lines + (_grid(breakdown_table(found), "    ") if found.groups else [])


def render_table(comparison: Comparison) -> str:
    """Plain-text report: per eval, a summary line per model and baseline, class balance and
    flags, usage, empty and degenerate answers, seed groups, details, paired figures, judges
    and the ``--by`` groups."""
    blocks: list[str] = []
    for name in dict.fromkeys(row.eval for row in comparison.rows):
        rows = [row for row in comparison.rows if row.eval == name]
        baselines = [row for row in comparison.baselines if row.eval == name]
        lines = [f"eval: {name}", *summary_lines(rows + baselines)]
        context = balance_lines(baselines) + flag_lines(rows)
        lines += ["", *context] if context else []
        lines += usage_lines(rows)
        lines += answer_lines(rows)
        lines += seed_lines([group for group in comparison.seed_groups if group.eval == name])
        for row in rows:
            lines += ["", *detail_lines(row)]
        lines += paired_lines([p for p in comparison.paired if p.eval == name])
        lines += judge_lines([j for j in comparison.judges if j.eval == name])
        for found in comparison.breakdowns:
            if found.eval == name:
                lines += breakdown_lines(found)
        blocks.append("\n".join(lines))
    if comparison.contamination:
        blocks.insert(0, "\n".join(comparison.contamination))
    return "\n\n".join(blocks) + "\n"
