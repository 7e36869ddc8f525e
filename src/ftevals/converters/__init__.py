"""Fine-tuning data -> OpenAI-evals samples (or other fine-tuning formats), with splits.

:func:`convert_file` is what ``ftevals convert`` calls; the pieces live in
:mod:`~ftevals.converters.formats` (read/validate/write rows), :mod:`~ftevals.converters.samples`
(samples, labels, de-duplication), :mod:`~ftevals.converters.split` (hash split, leakage) and
:mod:`~ftevals.converters.leakage` (duplicates between splits, contamination checks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, Field

from ftevals.converters import samples as _samples
from ftevals.converters.formats import (
    WRITE_FORMATS,
    Row,
    detect_format,
    iter_rows,
    open_records,
    read_rows,
    resolve_format,
    row_to_record,
    write_rows,
)
from ftevals.converters.leakage import SplitDuplicates
from ftevals.converters.samples import (
    MODES,
    ConflictCounter,
    LabelNormaliser,
    chat_sample_and_key,
    dedupe,
    prompt_key,
    row_to_sample,
    rows_to_samples,
    sample_and_key,
)
from ftevals.converters.split import SplitCheck, assign_split, split_key, split_rows
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import AtomicJsonlWriter, JsonlIssue, dumps_bytes

__all__ = [
    "ConvertReport",
    "LabelNormaliser",
    "Row",
    "assign_split",
    "convert_file",
    "dedupe",
    "detect_format",
    "iter_rows",
    "read_rows",
    "row_to_sample",
    "rows_to_samples",
    "split_rows",
    "write_rows",
]

TARGETS = ("samples", *WRITE_FORMATS)
MAX_LABELS = 50
"""Outputs with more distinct answers than this are free text: no per-label counts."""
LEAK_EXAMPLES = 5


CONFLICTS_SHOWN = 5
"""Prompts with conflicting labels whose lines the summary gives."""
LINES_SHOWN = 5
"""Lines given per such prompt."""
LABEL_CHARS = 40
"""Answers longer than this (or of several lines) are free text in the summary."""
ANSWERS_SHOWN = 3
"""Most common free-text answers the summary shows (clipped to LABEL_CHARS)."""


def _free_text(answer: str) -> bool:
    return len(answer) > LABEL_CHARS or "\n" in answer


def _clip(answer: str) -> str:
    """A free-text answer on one line: quoted, newlines escaped, clipped."""
    text = answer if len(answer) <= LABEL_CHARS else answer[: LABEL_CHARS - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


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
    blank_lines: int = 0
    """Blank lines skipped in the input (JSONL and text files)."""
    bom: bool = False
    """The input started with a UTF-8 byte order mark (ignored)."""
    written: dict[str, int] = Field(default_factory=dict)
    """Output path -> rows written, in write order."""
    duplicates_dropped: int = 0
    label_conflicts: int = 0
    """Distinct prompts found with more than one label in the input (before de-duplication)."""
    label_conflict_lines: list[list[int]] = Field(default_factory=list)
    """Input lines of the first CONFLICTS_SHOWN such prompts, one list per prompt."""
    leakage_count: int = 0
    """Test prompts (normalised user content) also present in train."""
    leakage_examples: list[str] = Field(default_factory=list)
    split_duplicates: SplitDuplicates | None = None
    """With a split: test prompts that duplicate train prompts (punctuation, near duplicates)."""
    label_counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Output path -> label -> count, most common first (outputs with <= MAX_LABELS labels)."""
    distinct_answers: dict[str, int] = Field(default_factory=dict)
    """Output path -> number of distinct labels/answers (outputs that have answers)."""

    def summary(self) -> str:
        lines = [f"read {self.rows_read} rows ({self.format}) from {self.input}"]
        if self.blank_lines:
            lines.append(f"skipped {self.blank_lines} blank lines")
        if self.bom:
            lines.append("ignored a UTF-8 byte order mark at the start of the file")
        if self.duplicates_dropped:
            lines.append(f"dropped {self.duplicates_dropped} duplicate prompts")
        if self.label_conflicts:
            lines.append(
                f"warning: {self.label_conflicts} prompts have conflicting labels "
                "(the same prompt with different answers), at:"
            )
            for group in self.label_conflict_lines:
                shown = ", ".join(f"{self.input}:{n}" for n in group[:LINES_SHOWN])
                more = f", +{len(group) - LINES_SHOWN} more" if len(group) > LINES_SHOWN else ""
                lines.append(f"  {shown}{more}")
            if self.label_conflicts > len(self.label_conflict_lines):
                lines.append(f"  +{self.label_conflicts - len(self.label_conflict_lines)} more")
        target = f"{self.to}, {self.mode}" if self.to == "samples" else self.to
        for path, count in self.written.items():
            line = f"wrote {count} {target} rows to {path}"
            if path in self.label_counts:
                labels = list(self.label_counts[path].items())
                if any(_free_text(label) for label, _ in labels):
                    shown = ", ".join(f"{_clip(a)}={n}" for a, n in labels[:ANSWERS_SHOWN])
                    hidden = len(labels) - ANSWERS_SHOWN
                    shown += f", +{hidden} more" if hidden > 0 else ""
                    line += f" [{len(labels)} distinct answers; most common: {shown}]"
                else:
                    shown = ", ".join(f"{label}={n}" for label, n in labels[:10])
                    more_labels = f", +{len(labels) - 10} more" if len(labels) > 10 else ""
                    line += f" [{shown}{more_labels}]"
            elif path in self.distinct_answers:
                line += f" [{self.distinct_answers[path]} distinct answers]"
            lines.append(line)
        if self.leakage_count:
            examples = "; ".join(repr(e[:60]) for e in self.leakage_examples)
            lines.append(f"leakage: {self.leakage_count} test prompts also in train: {examples}")
        if self.split_duplicates is not None and self.split_duplicates.total:
            lines.append(self.split_duplicates.warning("test", "train"))
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


def _record(
    row: Row, to: str, mode: str, normalise: LabelNormaliser
) -> tuple[bytes, str | None, str]:
    """One output line (JSON in UTF-8), its label/answer (None for text output) and its
    :func:`~ftevals.converters.samples.prompt_key`."""
    if to == "samples":
        return sample_and_key(row, mode, normalise)
    if to == "text":
        return dumps_bytes(row_to_record(row, to)), None, prompt_key(row)
    row = _relabel(row, normalise)
    return dumps_bytes(row_to_record(row, to)), row.answer(), prompt_key(row)


class _Answers:
    """Label counts of one output: exact while there are at most MAX_LABELS distinct answers,
    then only the number of distinct answers (by hash), so free text never fills memory."""

    def __init__(self) -> None:
        self.counts: Counter[str] | None = Counter()
        self.distinct: set[int] = set()

    def add(self, answer: str) -> None:
        if self.counts is not None:
            self.counts[answer] += 1
            if len(self.counts) <= MAX_LABELS:
                return
            self.distinct = {hash(a) for a in self.counts}
            self.counts = None
        self.distinct.add(hash(answer))

    def report(self, path: str, report: ConvertReport) -> None:
        if self.counts is not None:
            if not self.counts:
                return
            report.distinct_answers[path] = len(self.counts)
            ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            report.label_counts[path] = dict(ordered)
        else:
            report.distinct_answers[path] = len(self.distinct)


class _Leakage:
    """Split keys met on both sides (impossible with one hash split, which sends equal keys to
    the same side; kept as a check). Remembers 8 bytes per distinct key."""

    def __init__(self) -> None:
        self.sides: dict[str, set[bytes]] = {"train": set(), "test": set()}
        self.leaked: set[bytes] = set()
        self.examples: list[str] = []

    def add(self, key: str, side: str) -> None:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        self.sides[side].add(digest)
        other = self.sides["test" if side == "train" else "train"]
        if digest in other and digest not in self.leaked:
            self.leaked.add(digest)
            if len(self.examples) < LEAK_EXAMPLES:
                self.examples.append(key)


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
    header: bool = True,
    label: str | None = None,
) -> ConvertReport:
    """Convert ``src`` to ``to`` (samples, chat, completion or text) and write ``out``.

    Without ``split``, ``out`` is a file. With ``split`` (the test fraction, 0 < split < 1),
    ``out`` is a directory that receives ``train.jsonl`` and ``test.jsonl`` in the target
    format (samples too), split by :func:`~ftevals.converters.split.assign_split`.
    The label options (``strip``, ``lower``, ``label_map``) make the sample labels and also
    rewrite the final assistant turn of chat/completion outputs. ``dedupe`` keeps the first
    row of each normalised prompt. ``header=False`` reads a CSV file without a header row.
    ``label`` gives every row of an input without answers (csv, fields, lines, text) that
    one label (e.g. ``unsafe`` for a list of harmful prompts).
    Rows keep input order; outputs are byte-identical across runs.

    Rows are streamed: memory does not grow with the file, except 20 bytes per row for the
    label-conflict count and, with ``dedupe`` or ``split``, a digest per distinct prompt.
    With ``split``, the split keys are kept too, for the duplicate check between the sides.
    Outputs are written to temporary files renamed at the end, so a bad row writes nothing.
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
    if out.resolve() == src.resolve():
        raise FtevalsError(f"{out} is the input file: choose another output")

    fmt = resolve_format(src, fmt, text_field, label_field)
    normalise = LabelNormaliser(strip=strip, lower=lower, mapping=label_map)
    report = ConvertReport(input=str(src), format=fmt, to=to, mode=mode, rows_read=0)

    def on_issue(issue: JsonlIssue) -> None:
        if issue.kind == "blank":
            report.blank_lines += 1
        elif issue.kind == "bom":
            report.bom = True

    paths = {"all": out} if split is None else {s: out / f"{s}.jsonl" for s in ("train", "test")}
    conflicts = ConflictCounter(normalise)
    seen = _samples.DedupeFilter() if dedupe else None
    leaks = _Leakage() if split is not None else None
    check = SplitCheck() if split is not None else None
    answers = {side: _Answers() for side in paths}
    records = open_records(
        src, fmt, text_field, label_field, system, header=header, on_issue=on_issue, label=label
    )
    # chat records of plain messages become samples without a Row in between (the same lines)
    plain_chat = to == "samples" and records.fmt == "chat" and system is None and split is None
    rows_read = 0
    answer: str | None
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(AtomicJsonlWriter(p)) for s, p in paths.items()}
        for line_no, obj in records.records:
            rows_read += 1
            plain = chat_sample_and_key(obj, line_no, mode, normalise) if plain_chat else None
            if plain is not None:
                row = None
                line, answer, key = plain
                conflicts.add_key(key, answer, line_no)
            else:
                row = records.row(line_no, obj)  # every row is checked
                line, answer, key = _record(row, to, mode, normalise)
                conflicts.add(row, answer if to == "samples" else None, key)
            if seen is not None and not seen.keep_key(key):
                continue
            side = "all"
            if split is not None:
                assert row is not None and leaks is not None  # no plain_chat with a split
                assert check is not None
                skey = split_key(row)
                side = assign_split(skey, split, seed)
                leaks.add(skey, side)
                check.add(side, line_no, skey)
            writers[side].write_bytes(line)
            if answer is not None:
                answers[side].add(answer)
        if not rows_read:
            raise InputError(src, "no rows")
    report.rows_read = rows_read
    for side, path in paths.items():
        report.written[str(path)] = writers[side].count
        answers[side].report(str(path), report)
    report.label_conflicts, report.label_conflict_lines = conflicts.conflicts(CONFLICTS_SHOWN)
    report.duplicates_dropped = seen.dropped if seen is not None else 0
    if leaks is not None:
        report.leakage_count, report.leakage_examples = len(leaks.leaked), leaks.examples
    if check is not None:
        report.split_duplicates = check.result()
    return report
