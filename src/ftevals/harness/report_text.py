"""The terminal report of a :class:`~ftevals.harness.compare.Comparison`.

The summary columns (:data:`FIGURE_COLUMNS`, :data:`USAGE_COLUMNS`, used by the HTML report
too) are the ``figures`` and ``usage`` tables of ``ftevals.harness.columns``, where each
summary figure is declared once. A figure with an interval reads ``0.935 [0.920, 0.948]``
(the 95% interval; see ``ftevals.harness.intervals``).
"""

from __future__ import annotations

from collections.abc import Callable

from ftevals.harness.breakdown import Breakdown
from ftevals.harness.columns import Figure, in_table
from ftevals.harness.compare import (
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


FIGURE_COLUMNS: list[Figure] = in_table("figures")
"""Figures of the eval, with their 95% intervals."""

USAGE_COLUMNS: list[Figure] = in_table("usage")
"""Throughput, tokens and cost (no intervals: they describe the run, not the eval)."""


def cell_of(column: Figure, row: ModelEvalReport) -> str:
    """The column's figure of ``row`` with its interval, ``-`` when not computed."""
    return fmt_ci(column.value(row), column.interval(row), column.digits)


def shown(columns: list[Figure], rows: list[ModelEvalReport]) -> list[tuple[str, Figure]]:
    """(title, column) of the columns some row has a value for, titles filled in
    (``{positive}``: the eval's positive label)."""
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
        table.append(cells + [cell_of(column, row) for _, column in columns])
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
        table.append(names(row) + [cell_of(column, row) for _, column in columns])
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
