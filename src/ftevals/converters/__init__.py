"""Fine-tuning data -> OpenAI-evals samples (or other fine-tuning formats), with splits.

:func:`convert_file` is what ``ftevals convert`` calls; the pieces live in
:mod:`~ftevals.converters.formats` (read/validate/write rows), :mod:`~ftevals.converters.samples`
(samples, labels, de-duplication) and :mod:`~ftevals.converters.split` (hash split, leakage).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ftevals.converters import samples as _samples
from ftevals.converters.formats import (
    WRITE_FORMATS,
    Row,
    detect_format,
    read_rows,
    resolve_format,
    row_to_record,
    write_rows,
)
from ftevals.converters.samples import (
    MODES,
    LabelNormaliser,
    dedupe,
    label_conflicts,
    rows_to_samples,
)
from ftevals.converters.split import assign_split, leakage, split_rows
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import write_jsonl

__all__ = [
    "ConvertReport",
    "LabelNormaliser",
    "Row",
    "assign_split",
    "convert_file",
    "dedupe",
    "detect_format",
    "leakage",
    "read_rows",
    "rows_to_samples",
    "split_rows",
    "write_rows",
]

TARGETS = ("samples", *WRITE_FORMATS)
MAX_LABELS = 50
"""Outputs with more distinct answers than this are free text: no per-label counts."""
LEAK_EXAMPLES = 5


class ConvertReport(BaseModel):
    """What :func:`convert_file` read and wrote."""

    input: str
    """The source file."""
    format: str
    """Its format (given or detected)."""
    to: str
    """Output format: samples, chat, completion or text."""
    mode: str
    """Sample mode (classify or screen); only meaningful for samples."""
    rows_read: int
    written: dict[str, int] = Field(default_factory=dict)
    """Output path -> rows written, in write order."""
    duplicates_dropped: int = 0
    label_conflicts: int = 0
    """Distinct prompts found with more than one label in the input (before de-duplication)."""
    leakage_count: int = 0
    """Test prompts (normalised user content) also present in train."""
    leakage_examples: list[str] = Field(default_factory=list)
    label_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Output path -> label -> count, most common first (outputs with <= MAX_LABELS labels)."""
    distinct_answers: dict[str, int] = Field(default_factory=dict)
    """Output path -> number of distinct labels/answers (outputs that have answers)."""

    def summary(self) -> str:
        lines = [f"read {self.rows_read} rows ({self.format}) from {self.input}"]
        if self.duplicates_dropped:
            lines.append(f"dropped {self.duplicates_dropped} duplicate prompts")
        if self.label_conflicts:
            lines.append(f"warning: {self.label_conflicts} prompts have conflicting labels")
        target = f"{self.to}, {self.mode}" if self.to == "samples" else self.to
        for path, count in self.written.items():
            line = f"wrote {count} {target} rows to {path}"
            if path in self.label_counts:
                labels = list(self.label_counts[path].items())
                shown = ", ".join(f"{label}={n}" for label, n in labels[:10])
                more = f", +{len(labels) - 10} more" if len(labels) > 10 else ""
                line += f" [{shown}{more}]"
            elif path in self.distinct_answers:
                line += f" [{self.distinct_answers[path]} distinct answers]"
            lines.append(line)
        if self.leakage_count:
            examples = "; ".join(repr(e[:60]) for e in self.leakage_examples)
            lines.append(f"leakage: {self.leakage_count} test prompts also in train: {examples}")
        return "\n".join(lines)


def _relabel(row: Row, normalise: LabelNormaliser) -> Row:
    """The row with its final assistant turn normalised (when it is text)."""
    idx = row.assistant_index()
    if idx != len(row.messages) - 1 or idx is None:
        return row
    content = row.messages[idx].get("content")
    if not isinstance(content, str):
        return row
    messages = [*row.messages[:idx], {**row.messages[idx], "content": normalise(content)}]
    return replace(row, messages=messages)


def _records(
    rows: list[Row], to: str, mode: str, normalise: LabelNormaliser
) -> tuple[list[dict[str, Any]], list[str]]:
    """Output records and their labels/answers."""
    if to == "samples":
        samples = rows_to_samples(rows, mode, normalise)
        key = "ideal" if mode == "classify" else "completion"
        return samples, [str(s[key]) for s in samples]
    if to == "text":
        return [row_to_record(row, to) for row in rows], []
    relabelled = [_relabel(row, normalise) for row in rows]
    answers = [a for a in (row.answer() for row in relabelled) if a is not None]
    return [row_to_record(row, to) for row in relabelled], answers


def convert_file(
    src: Path,
    *,
    to: str,
    out: Path,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    system: str | None = None,
    lower: bool = False,
    strip: bool = True,
    label_map: dict[str, str] | None = None,
    split: float | None = None,
    seed: str = "ftevals",
    dedupe: bool = False,
    mode: str = "classify",
) -> ConvertReport:
    """Convert ``src`` to ``to`` (samples, chat, completion or text) and write ``out``.

    Without ``split``, ``out`` is a file. With ``split`` (the test fraction, 0 < split < 1),
    ``out`` is a directory that receives ``train.jsonl`` and ``test.jsonl`` in the target
    format (samples too), split by :func:`~ftevals.converters.split.assign_split`.
    The label options (``strip``, ``lower``, ``label_map``) make the sample labels and also
    rewrite the final assistant turn of chat/completion outputs. ``dedupe`` keeps the first
    row of each normalised prompt. Rows keep input order; outputs are byte-identical across
    runs. Every row is converted before any file is written, so a bad row writes nothing.
    """
    src, out = Path(src), Path(out)
    if to not in TARGETS:
        raise FtevalsError(f"unknown output format {to!r} (expected {', '.join(TARGETS)})")
    if mode not in MODES:
        raise FtevalsError(f"unknown sample mode {mode!r} (expected {', '.join(MODES)})")
    if mode != "classify" and to != "samples":
        raise FtevalsError(f"mode {mode!r} applies to samples output only")
    if split is not None and not 0.0 < split < 1.0:
        raise FtevalsError(f"split (test fraction) must be between 0 and 1, got {split}")
    if split is None and out.is_dir():
        raise FtevalsError(f"{out} is a directory; give a file path (or a split)")
    if split is not None and out.exists() and not out.is_dir():
        raise FtevalsError(f"{out} is a file; with a split the output is a directory")

    fmt = resolve_format(src, fmt, text_field, label_field)
    rows = read_rows(src, fmt, text_field, label_field, system)
    if not rows:
        raise InputError(src, "no rows")
    normalise = LabelNormaliser(strip=strip, lower=lower, mapping=label_map)
    report = ConvertReport(
        input=str(src),
        format=fmt,
        to=to,
        mode=mode,
        rows_read=len(rows),
        label_conflicts=label_conflicts(rows, normalise),
    )
    if dedupe:
        rows, report.duplicates_dropped = _samples.dedupe(rows)  # the flag shadows dedupe()

    parts: dict[Path, list[Row]] = {out: rows}
    if split is not None:
        train, test = split_rows(rows, split, seed)
        parts = {out / "train.jsonl": train, out / "test.jsonl": test}
        leaked = leakage(train, test)
        report.leakage_count, report.leakage_examples = len(leaked), leaked[:LEAK_EXAMPLES]

    outputs = {path: _records(part, to, mode, normalise) for path, part in parts.items()}
    for path, (records, labels) in outputs.items():
        report.written[str(path)] = write_jsonl(path, records)
        if labels:
            counts = Counter(labels)
            report.distinct_answers[str(path)] = len(counts)
            if len(counts) <= MAX_LABELS:
                ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                report.label_counts[str(path)] = dict(ordered)
    return report
