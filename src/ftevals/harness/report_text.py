"""The terminal report of a :class:`~ftevals.harness.compare.Comparison`."""

from __future__ import annotations

from ftevals.harness.compare import Comparison, ModelEvalReport, PairedComparison

MAX_FLIPS_SHOWN = 10


def fmt(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.{digits}f}"


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


# (title, ModelEvalReport attribute, decimals): shown when some row of the eval has a value
OPTIONAL_COLUMNS: list[tuple[str, str, int]] = [
    ("MCC", "mcc", 3), ("AUPRC", "auprc", 3), ("score", "mean_score", 3),
    ("human kappa", "human_kappa", 3),
    ("lat p50 s", "latency_p50_s", 3), ("lat p95 s", "latency_p95_s", 3),
    ("tokens in", "prompt_tokens", 0), ("tokens out", "completion_tokens", 0),
    ("cost $", "cost_usd", 4), ("$/1k samples", "cost_per_1k", 4),
]  # fmt: skip


def summary_lines(rows: list[ModelEvalReport]) -> list[str]:
    """Columns: model, [run], n, failed, accuracy, macro F1, invalid, samples/s, optional."""
    show_run = len({row.model for row in rows}) < len(rows)
    optional = [c for c in OPTIONAL_COLUMNS if any(getattr(r, c[1]) is not None for r in rows)]
    header = ["model", *(["run"] if show_run else []), "n", "failed", "accuracy", "macro F1"]
    table = [[*header, "invalid", "samples/s", *(title for title, _, _ in optional)]]
    for row in rows:
        macro_f1 = row.macro.f1 if row.macro is not None else None
        cells = [row.model, *([row.run_id] if show_run else []), str(row.n), str(row.failed)]
        cells += [fmt(row.accuracy), fmt(macro_f1), str(row.invalid), fmt(row.samples_per_s, 2)]
        cells += [fmt(getattr(row, attr), digits) for _, attr, digits in optional]
        table.append(cells)
    return _grid(table, "  ")


def detail_lines(row: ModelEvalReport) -> list[str]:
    lines = [f"  {row.model}  [run {row.run_id}]"]
    lines += [f"    note: {note}" for note in row.notes]
    if row.failed:
        lines.append(f"    failed samples (not scored): {row.failed}")
    if row.kind == "modelgraded":
        counts = ", ".join(f"{choice}={count}" for choice, count in row.choice_counts.items())
        lines.append(f"    judge: {row.judge}; choices: {counts}")
        if row.human_n:
            lines.append(
                f"    against human labels: n={row.human_n} agreement="
                f"{fmt(row.human_agreement)} kappa={fmt(row.human_kappa)}"
            )
        return lines
    if row.auprc is not None:
        lines.append(f"    AUPRC (positive class {row.positive_label!r}): {fmt(row.auprc)}")
    table = [["", "precision", "recall", "f1-score", "support"]]
    named = [*row.per_class.items(), ("macro avg", row.macro), ("weighted avg", row.weighted)]
    for name, report in named:
        if report is not None:
            figures = (report.precision, report.recall, report.f1)
            table.append([name, *(fmt(x) for x in figures), str(report.support)])
    return lines + _grid(table, "    ")


def paired_lines(pairs: list[PairedComparison]) -> list[str]:
    if not pairs:
        return []
    table = [["B vs A", "n", "A only", "B only", "McNemar p", "B - A", "95% CI", "flips"]]
    for pair in pairs:
        ci = f"[{fmt(pair.ci_low)}, {fmt(pair.ci_high)}]" if pair.ci_low is not None else "-"
        p = fmt_p(pair.mcnemar_p) + (f" ({pair.mcnemar_method})" if pair.mcnemar_method else "")
        table.append(
            [
                f"{pair.model_b} vs {pair.model_a} ({pair.metric})",
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
    for pair in pairs:
        if pair.flips:
            lines.append(f"    flipped, {pair.model_a} -> {pair.model_b} ({len(pair.flips)}):")
            for flip in pair.flips[:MAX_FLIPS_SHOWN]:
                truth = f" (expected {flip.expected})" if flip.expected is not None else ""
                lines.append(f"      {flip.sample_id}: {flip.a} -> {flip.b}{truth}")
            if len(pair.flips) > MAX_FLIPS_SHOWN:
                more = len(pair.flips) - MAX_FLIPS_SHOWN
                lines.append(f"      ... and {more} more (see --json, --csv or --html)")
    return lines


def render_table(comparison: Comparison) -> str:
    """Plain-text report: per eval, a summary line per model, details, paired figures."""
    blocks: list[str] = []
    for name in dict.fromkeys(row.eval for row in comparison.rows):
        rows = [row for row in comparison.rows if row.eval == name]
        lines = [f"eval: {name}", *summary_lines(rows)]
        for row in rows:
            lines += ["", *detail_lines(row)]
        lines += paired_lines([p for p in comparison.paired if p.eval == name])
        judges = [j for j in comparison.judges if j.eval == name]
        if judges:
            table = [["policy", "judge A", "judge B", "n", "agreement", "kappa"]]
            for j in judges:
                cells = [j.policy, j.judge_a, j.judge_b, str(j.n), fmt(j.agreement), fmt(j.kappa)]
                table.append(cells)
            lines += ["", "  judges of the same answers:", *_grid(table, "    ")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
