"""``ftevals screen``: judges grade fine-tuning data itself with a model-graded spec.

Each row becomes the sample evals' ``ModelBasedClassify`` would grade without generating
(``input`` = the prompt turns, the spec's output variable = the existing assistant answer,
``{``/``}`` in the input doubled as that eval does), and each judge answers through evals' own
:func:`evals.elsuite.modelgraded.classify_utils.classify`, so the prompt and the parsing of the
verdict are exactly evals'. A verdict that parses to no choice is ``__invalid__`` (never
guessed); a call that fails is recorded as failed with its error, never as a verdict.

Results stream to ``OUT.csv`` and ``OUT.jsonl`` in input order, flushed row by row; both are
created with the first result, so a run that fails before it (an empty input, a bad first row,
no row with an answer) writes nothing. The report
counts each judge's choices and, for each pair of judges, their agreement and Cohen's kappa
over the rows both answered validly.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, Field

from ftevals.converters._fns import (
    Caller,
    answers_only,
    bounded_map,
    error_text,
    make_fn,
    registry,
)
from ftevals.converters.formats import Row, flatten, iter_rows
from ftevals.converters.samples import sample_input
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import dumps

FAILED = "__failed__"
MAX_LINES_SHOWN = 10


class Agreement(BaseModel):
    judges: tuple[str, str]
    n: int
    """Rows both judges answered with a valid choice."""
    agreement: float | None
    kappa: float | None
    """Cohen's kappa (sklearn); None when undefined (no rows, or a single choice throughout)."""


class ScreenReport(BaseModel):
    input: str
    spec: str
    judges: list[str]
    choices: list[str]
    rows: int = 0
    screened: int = 0
    skipped_lines: list[int] = Field(default_factory=list)
    """Rows without an assistant turn to grade (the first MAX_LINES_SHOWN)."""
    skipped: int = 0
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Judge -> choice (``__invalid__``, ``__failed__`` included) -> rows."""
    errors: dict[str, list[str]] = Field(default_factory=dict)
    """Judge -> the first failed calls, ``line N: reason``."""
    agreement: list[Agreement] = Field(default_factory=list)
    usage: dict[str, dict[str, int]] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        lines = [f"screened {self.screened} of {self.rows} rows of {self.input} ({self.spec})"]
        if self.skipped:
            shown = ", ".join(map(str, self.skipped_lines))
            lines.append(f"skipped {self.skipped} rows without an assistant turn (lines {shown})")
        for judge, counts in self.counts.items():
            text = ", ".join(f"{c}={n}" for c, n in counts.items())
            lines.append(f"{judge}: {text}")
            lines.extend(f"  failed: {e}" for e in self.errors.get(judge, []))
            if self.screened and counts.get(FAILED) == self.screened:
                lines.append(f"FAILED: every call of {judge} failed: no verdicts")
        for a in self.agreement:
            kappa = "undefined" if a.kappa is None else f"{a.kappa:.3f}"
            agree = "n/a" if a.agreement is None else f"{a.agreement:.1%}"
            lines.append(
                f"{a.judges[0]} vs {a.judges[1]}: agreement {agree}, kappa {kappa}, n={a.n}"
            )
        lines.extend(f"wrote {path}" for path in self.outputs)
        return "\n".join(lines)


def _kappa(a: list[str], b: list[str], choices: list[str]) -> float | None:
    if not a:
        return None
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined kappa: reported as None below
        value = float(cohen_kappa_score(a, b, labels=choices))
    return value if math.isfinite(value) else None


def agreements(verdicts: list[list[str]], judges: list[str], choices: list[str]) -> list[Agreement]:
    """Pairwise agreement of judges over rows (``verdicts[row][judge]``)."""
    result = []
    for i in range(len(judges)):
        for j in range(i + 1, len(judges)):
            pairs = [(v[i], v[j]) for v in verdicts if v[i] in choices and v[j] in choices]
            a, b = [p[0] for p in pairs], [p[1] for p in pairs]
            agree = sum(x == y for x, y in pairs) / len(pairs) if pairs else None
            kappa = _kappa(a, b, choices)
            result.append(
                Agreement(judges=(judges[i], judges[j]), n=len(pairs), agreement=agree, kappa=kappa)
            )
    return result


def screen_file(
    src: str | Path,
    judges: list[str] | dict[str, Any],
    spec: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    header: bool = True,
    judge_args: dict[str, Any] | None = None,
    spec_args: dict[str, str] | None = None,
    eval_type: str | None = None,
    registries: list[str] | None = None,
    concurrency: int = 4,
    max_tokens: int = 1024,
    progress: bool = False,
) -> ScreenReport:
    """Screen ``src`` with ``spec`` by each judge (registry names, or name -> completion
    function objects); write ``out`` (``.csv``) and the same path with ``.jsonl``."""
    from evals.elsuite.modelgraded.classify_utils import classify, get_choice_strings
    from evals.elsuite.utils import scrub_formatting_from_prompt

    out = Path(out)
    out_jsonl = out.with_suffix(".jsonl")
    if out_jsonl == out:
        raise FtevalsError(f"{out}: the output should end in .csv (a .jsonl is written beside it)")
    for path in (out, out_jsonl):
        if path.resolve() == Path(src).resolve():
            raise FtevalsError(f"{path} is the input file: choose another --out")
    reg = registry(registries or [])
    try:
        mg = reg.get_modelgraded_spec(spec)
    except AssertionError as exc:
        raise FtevalsError(f"modelgraded spec {spec!r} not found: {exc}") from None
    if not (mg.eval_type or eval_type):
        raise FtevalsError(
            f"spec {spec!r} has no eval_type: give one (classify, cot_classify, ...)"
        )
    given = judges if isinstance(judges, dict) else {j: make_fn(j, judge_args, reg) for j in judges}
    fns = {name: answers_only(fn) for name, fn in given.items()}
    if not fns:
        raise FtevalsError("give at least one judge")
    names = list(fns)
    choices = list(get_choice_strings(mg.choice_strings))
    report = ScreenReport(input=str(src), spec=spec, judges=names, choices=choices)
    caller = Caller()

    def grade(item: tuple[int, Row]) -> list[dict[str, Any]]:
        _, row = item
        sample: dict[str, Any] = {}
        for key, output in mg.input_outputs.items():
            prompt = row.prompt_messages()
            sample[key] = scrub_formatting_from_prompt(sample_input(prompt))
            sample[output] = row.answer()
        verdicts = []
        for name in names:
            try:
                (choice, info), captured = caller(
                    classify,
                    mg=copy.deepcopy(mg),  # evals appends to a chat prompt in place
                    completion_fn=fns[name],
                    completion_kwargs={"max_tokens": max_tokens},
                    format_kwargs={**sample, **(spec_args or {})},
                    eval_type=None if mg.eval_type else eval_type,
                )
                rationale = str(info["sampled"][0]).strip()
                verdicts.append({"choice": choice, "rationale": rationale, "usage": captured.usage})
            except Exception as exc:  # a failed call is recorded as failed, never as a verdict
                verdicts.append({"choice": FAILED, "rationale": "", "error": error_text(exc)})
        return verdicts

    def rows() -> Iterator[tuple[int, Row]]:
        for row in iter_rows(src, fmt, text_field, label_field, header=header):
            report.rows += 1
            if row.answer() is None:
                report.skipped += 1
                if len(report.skipped_lines) < MAX_LINES_SHOWN:
                    report.skipped_lines.append(row.line)
                continue
            yield report.rows - report.skipped - 1, row

    counts = {name: Counter[str]() for name in names}
    table: list[list[str]] = []
    from tqdm import tqdm

    with (
        contextlib.ExitStack() as outputs,
        tqdm(desc="screening", unit="row", disable=not progress) as bar,
    ):
        sink: tuple[Any, IO[str]] | None = None  # opened with the first row: a run that
        ready: dict[int, tuple[Row, list[dict[str, Any]]]] = {}  # fails before writes nothing
        for (seq, row), verdicts, error in bounded_map(grade, rows(), concurrency):
            bar.update()
            if error is not None or verdicts is None:
                raise InputError(src, f"cannot screen this row: {error}", row.line)
            ready[seq] = (row, verdicts)
            while report.screened in ready:  # write in input order
                done_row, done = ready.pop(report.screened)
                if sink is None:
                    sink = _open_outputs(outputs, out, out_jsonl, names)
                _write(*sink, done_row, done, names)
                for name, verdict in zip(names, done, strict=True):
                    counts[name][verdict["choice"]] += 1
                    _note(report, name, done_row, verdict)
                table.append([v["choice"] for v in done])
                report.screened += 1
    if not report.screened:
        what = f"none of its {report.rows} rows has" if report.rows else "no row, so none has"
        raise InputError(
            src, f"nothing to screen: {what} an assistant turn to grade (nothing written)"
        )
    report.counts = {name: dict(counts[name].most_common()) for name in names}
    report.agreement = agreements(table, names, choices)
    report.outputs = [str(out), str(out_jsonl)]
    return report


def _open_outputs(
    stack: contextlib.ExitStack, out: Path, out_jsonl: Path, names: list[str]
) -> tuple[Any, IO[str]]:
    """OUT.csv (its header written) and OUT.jsonl, closed with ``stack``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fcsv = stack.enter_context(out.open("w", encoding="utf-8", newline=""))
    fjson = stack.enter_context(out_jsonl.open("w", encoding="utf-8"))
    writer = csv.writer(fcsv)
    header_row = ["line", "prompt", "completion"]
    for name in names:
        header_row += [f"{name}:choice", f"{name}:rationale", f"{name}:error"]
    writer.writerow(header_row)
    return writer, fjson


def _write(
    writer: Any, fjson: IO[str], row: Row, verdicts: list[dict[str, Any]], names: list[str]
) -> None:
    prompt = row.prompt_messages()
    completion = row.answer()
    cells: list[Any] = [row.line, flatten(prompt, for_completion=False).rstrip("\n"), completion]
    for verdict in verdicts:
        cells += [verdict["choice"], verdict["rationale"], verdict.get("error", "")]
    writer.writerow(cells)
    record = {
        "line": row.line,
        "input": sample_input(prompt),
        "completion": completion,
        "verdicts": dict(zip(names, verdicts, strict=True)),
    }
    fjson.write(dumps(record) + "\n")
    fjson.flush()


def _note(report: ScreenReport, name: str, row: Row, verdict: dict[str, Any]) -> None:
    for key, value in verdict.get("usage", {}).items():
        usage = report.usage.setdefault(name, {})
        usage[key] = usage.get(key, 0) + value
    if verdict["choice"] == FAILED:
        errors = report.errors.setdefault(name, [])
        if len(errors) < MAX_LINES_SHOWN:
            errors.append(f"line {row.line}: {verdict['error']}")
