"""``ftevals validate``: format errors, token statistics and a cost estimate of a fine-tuning file.

The file is streamed in constant memory: histograms of the per-example figures (exact
distributions, bounded by the distinct values) and the first ``max_errors`` errors, never
the rows. Chat files get every check
of :mod:`~ftevals.converters.checks`; other formats are read as
:mod:`~ftevals.converters.formats` reads them, each unreadable row being one ``invalid_row``
error, and counted as the chat examples they become.

The estimate follows the OpenAI cookbook: 3 epochs, raised so that at least 100 examples are
seen (at most 25 epochs) or lowered so that at most 25,000 are (at least 1 epoch); billed
tokens are each example's tokens capped at the model's example limit, times the epochs. The
price comes from the one price table (:func:`ftevals.pricing.training_cost_usd`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ftevals.converters.checks import TOP_LEVEL_KEYS, Problem, check_example, is_simple
from ftevals.converters.formats import parse_record, resolve_format
from ftevals.converters.tokens import counter_for
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import JsonlIssue, iter_jsonl
from ftevals.pricing import price_for, training_cost_usd

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
MAX_LINES_SHOWN = 10
ISSUE_TYPES = {"invalid_json": "invalid_json", "encoding": "encoding", "too_long": "line_too_long"}


class FormatError(BaseModel):
    line: int
    type: str
    field: str | None = None
    message: str


class Distribution(BaseModel):
    """The cookbook's summary of a per-example figure (p5/p95 are really the 5th and 95th
    percentiles here; the notebook labels its 10th/90th that way)."""

    min: float
    max: float
    mean: float
    median: float
    p5: float
    p95: float


class ValidationReport(BaseModel):
    file: str
    format: str
    model: str | None
    tokenizer: str
    examples: int = 0
    """Rows read (JSON objects, or rows of another format)."""
    valid_examples: int = 0
    error_counts: dict[str, int] = Field(default_factory=dict)
    errors: list[FormatError] = Field(default_factory=list)
    """The first ``max_errors`` errors, in file order."""
    warning_counts: dict[str, int] = Field(default_factory=dict)
    warning_lines: dict[str, list[int]] = Field(default_factory=dict)
    """The first lines of each warning."""
    distributions: dict[str, Distribution] = Field(default_factory=dict)
    context_length: int
    context_source: str
    epochs: int | None = None
    epochs_source: str = "the cookbook's rule"
    billing_tokens: int = 0
    """Tokens of one epoch, each example capped at the context length."""
    trained_tokens: int = 0
    training_price_per_1m: float | None = None
    cost_usd: float | None = None

    @property
    def error_total(self) -> int:
        return sum(self.error_counts.values())


def default_epochs(n: int) -> int:
    """The cookbook's epoch count for ``n`` examples."""
    if n <= 0:
        return TARGET_EPOCHS
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS


class _Collector:
    """Counts errors and warnings and keeps the first few of each."""

    def __init__(self, report: ValidationReport, max_errors: int) -> None:
        self.report = report
        self.max_errors = max_errors
        self.errors: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()

    def error(self, line: int, problem: Problem) -> None:
        self.errors[problem.type] += 1
        if len(self.report.errors) < self.max_errors:
            self.report.errors.append(
                FormatError(
                    line=line, type=problem.type, field=problem.field, message=problem.message
                )
            )

    def warn(self, kind: str, line: int) -> None:
        self.warnings[kind] += 1
        lines = self.report.warning_lines.setdefault(kind, [])
        if len(lines) < MAX_LINES_SHOWN:
            lines.append(line)

    def issue(self, issue: JsonlIssue) -> None:
        if issue.kind in ("blank", "bom"):
            self.warn("blank_line" if issue.kind == "blank" else "byte_order_mark", issue.line)
            return
        self.report.examples += 1
        kind = ISSUE_TYPES.get(issue.kind, "data_type")
        self.error(issue.line, Problem(kind, None, issue.message))


def _raw_message(exc: InputError) -> str:
    prefix = exc.path if exc.line is None else f"{exc.path}:{exc.line}"
    if exc.field:
        prefix += f": field {exc.field!r}"
    return str(exc).removeprefix(prefix + ": ")


def _distribution(counts: Counter[int]) -> Distribution:
    """Exact statistics from a histogram of integer values (numpy's default linear
    interpolation for the percentiles), so memory is bounded by the distinct values."""
    values = sorted(counts)
    cumulative = list(itertools.accumulate(counts[v] for v in values))
    n = cumulative[-1]

    def at(rank: int) -> int:  # the rank-th smallest value, from 0
        return values[bisect.bisect_right(cumulative, rank)]

    def quantile(q: float) -> float:
        position = (n - 1) * q
        low = math.floor(position)
        high = min(low + 1, n - 1)
        return at(low) + (position - low) * (at(high) - at(low))

    return Distribution(
        min=float(values[0]),
        max=float(values[-1]),
        mean=round(sum(v * counts[v] for v in values) / n, 2),
        median=quantile(0.5),
        p5=quantile(0.05),
        p95=quantile(0.95),
    )


def validate_file(
    path: str | Path,
    model: str | None = None,
    *,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    epochs: int | None = None,
    max_errors: int = 50,
) -> ValidationReport:
    """Check ``path`` (JSONL) as fine-tuning data for ``model`` (see the module docstring)."""
    path = Path(path)
    fmt = resolve_format(path, fmt, text_field, label_field)
    if fmt in ("csv", "lines"):
        raise FtevalsError(
            f"{path}: validate reads JSONL fine-tuning files, not {fmt!r} (convert it first)"
        )
    counter = counter_for(model)
    report = ValidationReport(
        file=str(path),
        format=fmt,
        model=model,
        tokenizer=counter.name,
        context_length=counter.context_length,
        context_source=counter.context_source,
    )
    out = _Collector(report, max_errors)
    totals, assistants, lengths = Counter[int](), Counter[int](), Counter[int]()
    limit, billing, src = counter.context_length, 0, str(path)
    for line, obj in iter_jsonl(path, on_issue=out.issue):
        report.examples += 1
        if fmt == "chat":
            problems = [] if is_simple(obj) else check_example(obj)
            for problem in problems:
                out.error(line, problem)
            if problems:
                continue
            messages = obj["messages"]
            for key in obj:
                if key not in TOP_LEVEL_KEYS:
                    out.warn(f"unrecognized_top_level_key:{key}", line)
        else:
            try:
                row = parse_record(
                    src, line, obj, fmt, text_field or "text", label_field or "label"
                )
            except InputError as exc:
                out.error(line, Problem("invalid_row", exc.field, _raw_message(exc)))
                continue
            messages = row.messages
        roles = {m.get("role") for m in messages}
        if "system" not in roles:
            out.warn("missing_system_message", line)
        if "user" not in roles:
            out.warn("missing_user_message", line)
        total, assistant = counter.count(messages)
        if total > limit:
            out.warn("over_context_length", line)
        totals[total] += 1
        assistants[assistant] += 1
        lengths[len(messages)] += 1
        billing += min(total, limit)
        report.valid_examples += 1

    if not report.examples:
        blanks = out.warnings["blank_line"]
        raise InputError(path, f"no rows ({blanks} blank lines)" if blanks else "no rows (empty)")
    report.error_counts = dict(out.errors.most_common())
    report.warning_counts = dict(out.warnings.most_common())
    if report.valid_examples:
        report.distributions = {
            "messages_per_example": _distribution(lengths),
            "tokens_per_example": _distribution(totals),
            "assistant_tokens_per_example": _distribution(assistants),
        }
    report.epochs = epochs if epochs is not None else default_epochs(report.valid_examples)
    if epochs is not None:
        report.epochs_source = "given"
    report.billing_tokens = billing
    report.trained_tokens = billing * report.epochs
    if model is not None:
        price = price_for(model)
        report.training_price_per_1m = price.training if price is not None else None
        report.cost_usd = training_cost_usd(model, report.trained_tokens)
    return report


def _warning_text(kind: str, report: ValidationReport) -> str:
    texts = {
        "missing_system_message": "examples without a system message",
        "missing_user_message": "examples without a user message",
        "over_context_length": (
            f"examples over {report.context_length:,} tokens (will be truncated)"
        ),
        "blank_line": "blank lines (skipped)",
        "byte_order_mark": "UTF-8 byte order mark at the start (ignored here; strip it)",
    }
    if kind.startswith("unrecognized_top_level_key:"):
        return f"examples with the top-level key {kind.split(':', 1)[1]!r} (the API may refuse it)"
    return texts.get(kind, kind)


def render(report: ValidationReport) -> str:
    """The human-readable report."""
    head = f"{report.file}: {report.examples} examples ({report.format})"
    lines = [f"{head}, {report.valid_examples} valid"]
    if report.error_total:
        counts = ", ".join(f"{k}={v}" for k, v in report.error_counts.items())
        lines.append(f"format errors: {report.error_total} ({counts})")
        for err in report.errors:
            field = f": field {err.field!r}" if err.field else ""
            lines.append(f"  {report.file}:{err.line}{field}: {err.type}: {err.message}")
        if report.error_total > len(report.errors):
            lines.append(f"  ... and {report.error_total - len(report.errors)} more")
    else:
        lines.append("no format errors")
    for kind, n in report.warning_counts.items():
        shown = report.warning_lines.get(kind, [])
        more = ", ..." if n > len(shown) else ""
        where = f" (lines {', '.join(map(str, shown))}{more})"
        lines.append(f"warning: {n} {_warning_text(kind, report)}{where}")
    lines.append(
        f"tokens: {report.tokenizer}; example limit {report.context_length:,} "
        f"from {report.context_source}"
    )
    for name, d in report.distributions.items():
        lines.append(
            f"  {name.replace('_', ' ')}: min {d.min:g}, max {d.max:g}, mean {d.mean:g}, "
            f"median {d.median:g}, p5 {d.p5:g}, p95 {d.p95:g}"
        )
    lines.append(
        f"estimate: {report.valid_examples} valid examples x {report.epochs} epochs "
        f"({report.epochs_source}): {report.billing_tokens:,} billed tokens per epoch, "
        f"{report.trained_tokens:,} trained tokens"
    )
    if report.model is None:
        lines.append("price: name a model (--model) for a price")
    elif report.cost_usd is None:
        lines.append(f"price: no training price for {report.model!r} in the price table")
    else:
        lines.append(
            f"price: ${report.cost_usd:,.2f} at ${report.training_price_per_1m:g} per 1M "
            f"trained tokens ({report.model}, list price; see ftevals/data/prices.yaml)"
        )
    return "\n".join(lines)


def report_json(report: ValidationReport) -> dict[str, Any]:
    """The report as JSON-ready data (``--json``), with the error total."""
    return {**report.model_dump(), "error_total": report.error_total}
