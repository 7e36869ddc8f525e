"""One self-contained HTML report: tables and plots, inline, that opens offline.

Plots are drawn with matplotlib (``Figure`` objects, no pyplot state) and embedded as base64
PNG ``<img>`` data URIs; the style sheet is inline. Nothing is loaded from the network or from
other files. Per eval: the summary table (the text report's columns, with 95% intervals, and
the majority baseline), class balance and flags, empty and degenerate answers, seed groups,
confusion matrices, per-class F1 by model, cost per 1,000 samples against macro F1,
precision-recall curves (where probabilities were recorded), model-graded choice counts,
paired comparisons with the flipped samples and the verdict in words, judge agreement, and the
``--by`` groups as a plot with error bars.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ftevals.harness.breakdown import Breakdown
from ftevals.harness.compare import Comparison, ModelEvalReport
from ftevals.harness.report_text import (
    FIGURE_COLUMNS,
    USAGE_COLUMNS,
    balance_lines,
    breakdown_table,
    cell_of,
    fmt,
    fmt_ci,
    fmt_p,
    shown,
    split_of,
)
from ftevals.harness.seeds import SeedGroup
from ftevals.jsonl import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
img{max-width:100%;display:block;margin:.5em 0}
.note{color:#666;font-size:.9em}
.flag{color:#a00;font-weight:600}
details{margin:.3em 0 1em}
"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def confusion_plot(rows: list[ModelEvalReport]) -> str:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.confusion]
    if not rows:
        return ""
    fig = Figure(figsize=(3.8 * len(rows), 3.4), layout="constrained")
    for ax, row in zip(fig.subplots(1, len(rows), squeeze=False)[0], rows, strict=True):
        columns = list(next(iter(row.confusion.values())))
        matrix = [[row.confusion[t][p] for p in columns] for t in row.confusion]
        ax.imshow(matrix, cmap="Blues", vmin=0)
        top = max(max(line) for line in matrix) or 1
        for i, line in enumerate(matrix):
            for j, count in enumerate(line):
                color = "white" if count > top / 2 else "black"
                ax.text(j, i, str(count), ha="center", va="center", fontsize=9, color=color)
        ax.set_xticks(range(len(columns)), [c.replace("__invalid__", "invalid") for c in columns])
        ax.set_yticks(range(len(matrix)), list(row.confusion))
        ax.set_xlabel("predicted")
        ax.set_ylabel("expected")
        ax.set_title(row.model, fontsize=9)
    return _png(fig)


def f1_plot(rows: list[ModelEvalReport]) -> str:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.per_class]
    if not rows:
        return ""
    labels = list(dict.fromkeys(label for r in rows for label in r.per_class))
    fig = Figure(figsize=(max(5.0, 1.2 * len(labels) * len(rows) / 2 + 3), 3.4))
    ax = fig.subplots()
    width = 0.8 / len(rows)
    for k, row in enumerate(rows):
        xs = [i + k * width for i in range(len(labels))]
        ax.bar(xs, [row.per_class[x].f1 if x in row.per_class else 0 for x in labels], width)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title("per-class F1 by model", fontsize=10)
    ax.legend([r.model for r in rows], fontsize=8, loc="lower right")
    return _png(fig)


def cost_plot(rows: list[ModelEvalReport]) -> str:
    from matplotlib.figure import Figure

    points = [r for r in rows if r.cost_per_1k is not None and r.macro is not None]
    if not points:
        return '<p class="note">cost against F1: no cost recorded (local models, or no price).</p>'
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    for row in points:
        assert row.macro is not None and row.cost_per_1k is not None
        ax.scatter(row.cost_per_1k, row.macro.f1)
        ax.annotate(row.model, (row.cost_per_1k, row.macro.f1), fontsize=8)
    ax.set_xlim(0, max(r.cost_per_1k or 0.0 for r in points) * 1.3 or 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("USD per 1,000 samples")
    ax.set_ylabel("macro F1")
    ax.set_title("cost against F1", fontsize=10)
    return _png(fig)


def pr_plot(rows: list[ModelEvalReport]) -> str:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.pr_curve]
    if not rows:
        return ""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for row in rows:
        recall = [p.recall for p in row.pr_curve]
        precision = [p.precision for p in row.pr_curve]
        ax.step(recall, precision, where="post", label=f"{row.model} (AP {fmt(row.auprc)})")
    ax.set_xlabel(f"recall of {rows[0].positive_label!r}")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("precision-recall (threshold sweep)", fontsize=10)
    return _png(fig)


def choices_plot(rows: list[ModelEvalReport]) -> str:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.choice_counts]
    if not rows:
        return ""
    choices = sorted({c for r in rows for c in r.choice_counts})
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    width = 0.8 / len(rows)
    for k, row in enumerate(rows):
        xs = [i + k * width for i in range(len(choices))]
        ax.bar(xs, [row.choice_counts.get(c, 0) for c in choices], width, label=row.model)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(choices))], choices)
    ax.legend(fontsize=8)
    ax.set_title("judge choices", fontsize=10)
    return _png(fig)


def _summary(rows: list[ModelEvalReport]) -> str:
    """The text report's columns (figures with 95% intervals, then usage), baselines last."""
    figures = shown(FIGURE_COLUMNS, rows)
    usage = shown(USAGE_COLUMNS, [r for r in rows if not r.baseline])
    header = ["model", "eval", "run", "n", "failed", "invalid"]
    header += [title for title, _ in figures] + [title for title, _ in usage]
    body = []
    for r in rows:
        counts = ["-", "-"] if r.baseline else [str(r.failed), str(r.invalid)]
        cells = [r.model, split_of(r), r.run_id or "-", str(r.n), *counts]
        cells += [cell_of(column, r) for _, column in figures]
        cells += [cell_of(column, r) if not r.baseline else "-" for _, column in usage]
        body.append(cells)
    return _table(header, body)


def _per_class(rows: list[ModelEvalReport]) -> str:
    body = [
        [
            r.model, label, fmt_ci(c.precision, c.precision_ci), fmt_ci(c.recall, c.recall_ci),
            fmt_ci(c.f1, c.f1_ci), str(c.support),
        ]
        for r in rows
        for label, c in r.per_class.items()
    ]  # fmt: skip
    if not body:
        return ""
    return _table(["model", "label", "precision", "recall", "F1", "support"], body)


def _notes(rows: list[ModelEvalReport], baselines: list[ModelEvalReport]) -> str:
    lines = [line.strip() for line in balance_lines(baselines)]
    lines += [f"{row.model}: {note}" for row in rows for note in row.notes]
    flags = [f"{row.model} ({split_of(row)}): {flag}" for row in rows for flag in row.flags]
    parts = [f'<p class="note">{html.escape(line)}</p>' for line in lines]
    parts += [f'<p class="flag">{html.escape(flag)}</p>' for flag in flags]
    return "\n".join(parts)


def breakdown_plot(found: list[Breakdown]) -> str:
    """Per group of one field: accuracy, recall on positives and false-positive rate, with
    95% intervals as error bars, one colour per model; groups too small to read are pale."""
    from matplotlib.figure import Figure

    found = [b for b in found if b.groups]
    if not found:
        return ""
    values = list(dict.fromkeys(g.value for b in found for g in b.groups))
    panels = [("accuracy", "accuracy", "accuracy_ci")]
    positive = found[0].positive_label
    if positive:
        panels += [(f"recall of {positive!r}", "recall", "recall_ci")]
        panels += [("false-positive rate", "fpr", "fpr_ci")]
    height = max(2.4, 0.35 * len(values) * len(found) + 1.2)
    fig = Figure(figsize=(3.6 * len(panels) + 1.6, height), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    bar = 0.8 / len(found)
    several = len({b.eval_name for b in found}) > 1
    names_of = [f"{b.model} ({b.eval_name})" if several else b.model for b in found]
    if len(set(names_of)) < len(names_of):
        names_of = [f"{name} [{b.run_id}]" for name, b in zip(names_of, found, strict=True)]
    for ax, (title, attr, ci_attr) in zip(axes, panels, strict=True):
        for k, b in enumerate(found):
            by_value = {g.value: g for g in b.groups}
            for i, value in enumerate(values):
                g = by_value.get(value)
                x, ci = (getattr(g, attr), getattr(g, ci_attr)) if g else (None, None)
                if g is None or x is None or ci is None or ci.low is None or ci.high is None:
                    continue
                ax.barh(
                    i + k * bar, x, bar, xerr=[[x - ci.low], [ci.high - x]], capsize=2,
                    color=f"C{k}", alpha=0.35 if g.too_small else 1.0,
                    label=names_of[k],
                )  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=9)
    sizes = {g.value: g.n for b in found for g in b.groups}
    names = [
        f"{v} (n={sizes[v]}, too small)" if sizes[v] < found[0].min_group else f"{v} (n={sizes[v]})"
        for v in values
    ]
    axes[0].set_yticks([i + 0.4 - bar / 2 for i in range(len(values))], names, fontsize=8)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    unique: dict[str, object] = {}
    for label, handle in zip(labels, handles, strict=True):
        unique.setdefault(label, handle)  # the first bar: a full-colour one when there is one
    axes[-1].legend(unique.values(), unique.keys(), fontsize=7, loc="lower right")
    fig.suptitle(f"by {found[0].field} (95% intervals; pale bars: too small to read)", fontsize=10)
    return _png(fig)


def _breakdown_section(found: list[Breakdown]) -> str:
    parts = []
    for field in dict.fromkeys(b.field for b in found):
        of_field = [b for b in found if b.field == field]
        parts += [f"<h3>by {html.escape(field)}</h3>", breakdown_plot(of_field)]
        for b in of_field:
            header, *body = breakdown_table(b)
            title = f"{b.model} by {field}"
            table = _table(header, body) if body else ""
            note = f'<p class="note">{html.escape(b.note)}</p>' if b.note else ""
            parts.append(f"<details><summary>{html.escape(title)}</summary>{note}{table}</details>")
    return "\n".join(part for part in parts if part)


def _answers(rows: list[ModelEvalReport]) -> str:
    """Empty and degenerate answers per row, and the main figure without them."""
    from ftevals.harness.degenerate import answer_table

    table = answer_table(rows)
    if not table:
        return ""
    title = "<h3>empty and degenerate answers</h3>"
    return title + _table(table[0], table[1:])


def _seeds(groups: list[SeedGroup]) -> str:
    """Runs of one model that differ only in seed: mean ± std [min, max] per figure."""
    from ftevals.harness.seeds import seed_table

    table = seed_table(groups)
    if not table:
        return ""
    notes = "".join(
        f'<p class="note">{html.escape(f"{g.model}: {note}")}</p>'
        for g in groups
        for note in g.notes
    )
    return "<h3>over seeds (mean ± std [min, max])</h3>" + _table(table[0], table[1:]) + notes


def _eval_section(name: str, comparison: Comparison) -> str:
    rows = [r for r in comparison.rows if r.eval == name]
    baselines = [r for r in comparison.baselines if r.eval == name]
    parts = [f"<h2>eval: {html.escape(name)}</h2>", _summary(rows + baselines)]
    parts.append(_notes(rows, baselines))
    parts += [_answers(rows), _seeds([g for g in comparison.seed_groups if g.eval == name])]
    parts += [confusion_plot(rows), f1_plot(rows), _per_class(rows), cost_plot(rows)]
    parts += [pr_plot(rows), choices_plot(rows)]
    pairs = [p for p in comparison.paired if p.eval == name]
    if pairs:
        parts.append("<h3>paired, on the same samples</h3>")
        header = ["B vs A", "metric", "n", "A only", "B only", "McNemar p", "B - A", "95% CI"]
        body = [
            [
                f"{p.model_b} vs {p.model_a}", p.metric, str(p.n), fmt(p.a_only), fmt(p.b_only),
                f"{fmt_p(p.mcnemar_p)} {p.mcnemar_method or ''}".strip(), fmt(p.diff),
                f"[{fmt(p.ci_low)}, {fmt(p.ci_high)}]",
            ]
            for p in pairs
        ]  # fmt: skip
        parts.append(_table(header, body))
        for p in pairs:
            verdict = f"{p.model_b} vs {p.model_a}: {p.verdict}"
            parts.append(f'<p class="note">{html.escape(verdict)}</p>')
        for p in pairs:
            flips = [[f.sample_id, f.expected or "", f.a or "", f.b or ""] for f in p.flips]
            title = f"{len(flips)} samples flipped, {p.model_a} -> {p.model_b}"
            table = _table(["sample", "expected", p.model_a, p.model_b], flips) if flips else ""
            parts.append(f"<details><summary>{html.escape(title)}</summary>{table}</details>")
    judges = [j for j in comparison.judges if j.eval == name]
    if judges:
        parts.append("<h3>judges of the same answers</h3>")
        body = [
            [
                j.policy, j.judge_a, j.judge_b, str(j.n), fmt_ci(j.agreement, j.agreement_ci),
                fmt_ci(j.kappa, j.kappa_ci),
            ]
            for j in judges
        ]  # fmt: skip
        parts.append(_table(["policy", "judge A", "judge B", "n", "agreement", "kappa"], body))
    parts.append(_breakdown_section([b for b in comparison.breakdowns if b.eval == name]))
    return "\n".join(part for part in parts if part)


def render_html(comparison: Comparison) -> str:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    logs = "".join(f"<li>{html.escape(r.log)}</li>" for r in comparison.rows)
    sections = [
        _eval_section(name, comparison) for name in dict.fromkeys(r.eval for r in comparison.rows)
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>ftevals report</title><style>{STYLE}</style></head><body>"
        f'<h1>ftevals report</h1><p class="note">generated {stamp} from {len(comparison.rows)}'
        f" logs</p><details><summary>logs</summary><ul>{logs}</ul></details>"
        + "".join(f'<p class="flag">{html.escape(w)}</p>' for w in comparison.contamination)
        + "\n".join(sections)
        + "</body></html>\n"
    )


def write_html(comparison: Comparison, path: str | Path) -> Path:
    """Write the report to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render_html(comparison))
    return path
