"""``ftevals label``: a teacher completion function labels raw prompts into chat fine-tuning data.

Distillation, as the seeds did with GPT-4: each prompt (a text file line, a CSV or JSONL row, or
the prompt turns of a chat example) goes to the teacher, and its answer becomes the assistant
turn. Calls run in a bounded thread pool; each finished row is appended to OUT and flushed at
once, keyed by a hash of its prompt messages (system prompt included), so a re-run skips what
is there and an interrupt loses nothing already answered. ``metadata`` keeps the teacher's name
and arguments, raw answer, token usage and the source line; ``ftevals convert OUT --to chat``
strips it before an upload (the fine-tuning API refuses unknown keys). A failed call is counted
and reported, never written: the next run retries it.

Resume is keyed on the teacher too: every row records ``teacher`` and ``teacher_args`` (the
arguments that choose the answers; retry and timeout settings left out, and never an argument
named like a secret), and a run whose teacher differs from a row's refuses to add to OUT
(:class:`TeacherMismatch`) unless ``overwrite`` starts OUT afresh. Rows without ``teacher``
(data written by hand) are not checked; rows of older runs without ``teacher_args`` are checked
by name only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ftevals.completion_fns.langchain_fn import SECRET_SUFFIXES
from ftevals.converters._fns import Caller, answers_only, bounded_map, error_text, make_fn, registry
from ftevals.converters.formats import Row, iter_rows
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import JsonlIssue, dumps, iter_jsonl

MAX_FAILURES_SHOWN = 5
RETRY_ARGS = frozenset({"max_attempts", "max_total_s", "base_delay", "timeout", "on_failure"})
"""Teacher arguments that change how calls are retried, not what they answer: not keyed on."""


class TeacherMismatch(InputError):
    """OUT holds labels of another teacher (or other teacher arguments) than this run's."""


class LabelReport(BaseModel):
    input: str
    out: str
    teacher: str
    prompts: int = 0
    """Rows read from the input."""
    already_labelled: int = 0
    """Rows whose prompt OUT already holds (skipped)."""
    duplicates: int = 0
    """Rows repeating an earlier prompt of this run (labelled once)."""
    labelled: int = 0
    failed: int = 0
    failures: list[str] = Field(default_factory=list)
    """The first failures, ``line N: reason``."""
    blank_lines: int = 0
    repaired_partial_line: bool = False
    """OUT ended with an incomplete line (an interrupted write), which was removed."""
    overwritten: bool = False
    """OUT existed and was emptied first (``overwrite``)."""
    usage: dict[str, int] = Field(default_factory=dict)
    """Teacher token usage of this run, as its completion function recorded it."""

    def summary(self) -> str:
        lines = [
            f"read {self.prompts} prompts from {self.input}",
            f"labelled {self.labelled} with {self.teacher} into {self.out}",
        ]
        if self.overwritten:
            lines.append(f"replaced the earlier contents of {self.out} (--overwrite)")
        if self.already_labelled:
            lines.append(f"skipped {self.already_labelled} prompts already labelled in {self.out}")
        if self.duplicates:
            lines.append(f"skipped {self.duplicates} repeated prompts (labelled once)")
        if self.blank_lines:
            lines.append(f"skipped {self.blank_lines} blank lines")
        if self.repaired_partial_line:
            lines.append("removed an incomplete last line of an interrupted run from the output")
        if self.usage:
            lines.append("teacher usage: " + ", ".join(f"{k}={v}" for k, v in self.usage.items()))
        if self.failed:
            every = " (every call)" if not self.labelled else ""
            lines.append(
                f"FAILED: {self.failed} teacher calls{every} (not written; re-run to retry):"
            )
            lines.extend(f"  {failure}" for failure in self.failures)
        return "\n".join(lines)


def prompt_hash(messages: list[dict[str, Any]]) -> str:
    """Resume key of a prompt: sha256 (128 bits shown) of its messages as canonical JSON."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _repair_tail(out: Path) -> bool:
    """Make OUT end with a newline. A last line without one is complete JSON (kept) or a write
    cut short by an interrupt (removed: True)."""
    with out.open("rb+") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return False
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        pos = size
        while True:
            start = max(0, pos - (1 << 16))
            fh.seek(start)
            cut = fh.read(pos - start).rfind(b"\n")
            if cut >= 0 or start == 0:
                line_start = start + cut + 1 if cut >= 0 else 0
                break
            pos = start
        fh.seek(line_start)
        try:
            json.loads(fh.read())
        except ValueError:
            fh.truncate(line_start)
            return True
        fh.write(b"\n")
    return False


def teacher_identity(name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """What resume is keyed on: ``{"teacher": name, "teacher_args": {...}}``, the arguments as
    text, sorted, without :data:`RETRY_ARGS` and without any named like a secret."""
    kept = {
        str(k): str(v)
        for k, v in sorted((args or {}).items())
        if k not in RETRY_ARGS and not str(k).endswith(SECRET_SUFFIXES)
    }
    return {"teacher": name, "teacher_args": kept}


def _describe(identity: dict[str, Any]) -> str:
    args = identity.get("teacher_args")
    if not isinstance(args, dict):
        return f"{identity['teacher']} (arguments not recorded)"
    shown = ",".join(f"{k}={v}" for k, v in args.items())
    return f"{identity['teacher']} ({shown or 'no arguments'})"


def _check_teacher(out: Path, line: int, meta: dict[str, Any], identity: dict[str, Any]) -> None:
    name = meta.get("teacher")
    if not isinstance(name, str):
        return  # not written by `ftevals label`: nothing to compare
    args = meta.get("teacher_args")
    same = name == identity["teacher"] and (
        not isinstance(args, dict) or args == identity["teacher_args"]
    )
    if not same:
        old = {"teacher": name, "teacher_args": args}
        raise TeacherMismatch(
            out,
            f"labelled by {_describe(old)}, this run's teacher is {_describe(identity)}: "
            "resuming would mix their labels; pass --overwrite to replace the file, "
            "or choose a new --out",
            line,
        )


def done_keys(out: Path, identity: dict[str, Any] | None = None) -> set[str]:
    """Prompt hashes already in OUT (from ``metadata.prompt_hash``, else its messages); with
    ``identity`` (:func:`teacher_identity`), :class:`TeacherMismatch` at the first row of
    another teacher."""
    keys: set[str] = set()
    for line, obj in iter_jsonl(out):
        meta = obj.get("metadata")
        if identity is not None and isinstance(meta, dict):
            _check_teacher(out, line, meta, identity)
        key = meta.get("prompt_hash") if isinstance(meta, dict) else None
        messages = obj.get("messages")
        if not isinstance(key, str):
            if not isinstance(messages, list) or not messages:
                raise InputError(out, "not a chat example (cannot resume from it)", line)
            key = prompt_hash(messages[:-1])
        keys.add(key)
    return keys


def label_file(
    src: str | Path,
    teacher: str | Any,
    out: str | Path,
    *,
    fmt: str | None = None,
    text_field: str | None = None,
    system: str | None = None,
    header: bool = True,
    teacher_args: dict[str, Any] | None = None,
    registries: list[str] | None = None,
    concurrency: int = 4,
    progress: bool = False,
    overwrite: bool = False,
) -> LabelReport:
    """Label every prompt of ``src`` with ``teacher`` (a registry name, or a completion
    function object) into ``out`` (see the module docstring); ``overwrite`` empties ``out``
    first instead of resuming."""
    src, out = Path(src), Path(out)
    name = teacher if isinstance(teacher, str) else type(teacher).__name__
    identity = teacher_identity(name, teacher_args)
    fn = answers_only(
        make_fn(teacher, teacher_args, registry(registries or []))
        if isinstance(teacher, str)
        else teacher
    )
    report = LabelReport(input=str(src), out=str(out), teacher=name)
    if out.exists() and not out.is_file():
        raise FtevalsError(f"{out} is not a file")
    if out.resolve() == src.resolve():
        raise FtevalsError(f"{out} is the input file: choose another --out")
    existing: set[str] = set()
    if out.exists() and overwrite:
        out.write_bytes(b"")
        report.overwritten = True
    elif out.exists():
        report.repaired_partial_line = _repair_tail(out)
        existing = done_keys(out, identity)
    seen: set[str] = set()

    def on_issue(issue: JsonlIssue) -> None:
        report.blank_lines += issue.kind == "blank"

    def todo() -> Iterator[tuple[Row, list[dict[str, Any]], str]]:
        rows = iter_rows(
            src, fmt, text_field, None, system, header=header, labels=False, on_issue=on_issue
        )
        for row in rows:
            report.prompts += 1
            prompt = row.prompt_messages()
            key = prompt_hash(prompt)
            if key in existing or key in seen:
                report.already_labelled += key in existing
                report.duplicates += key not in existing
                continue
            seen.add(key)
            yield row, prompt, key

    caller = Caller()

    def ask(item: tuple[Row, list[dict[str, Any]], str]) -> tuple[str, dict[str, int]]:
        result, captured = caller(fn, item[1])
        completions = result.get_completions()
        if not completions or not isinstance(completions[0], str):
            raise ValueError(f"no text answer (got {completions!r:.80})")
        return completions[0], captured.usage

    from tqdm import tqdm

    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        out.open("a", encoding="utf-8") as fh,
        tqdm(desc="labelling", unit="prompt", disable=not progress) as bar,
    ):
        for (row, prompt, key), answer, error in bounded_map(ask, todo(), concurrency):
            bar.update()
            if error is None and (answer is None or not answer[0].strip()):
                error = ValueError("empty answer")
            if error is not None or answer is None:
                report.failed += 1
                if len(report.failures) < MAX_FAILURES_SHOWN:
                    reason = error_text(error) if error else "no answer"
                    report.failures.append(f"line {row.line}: {reason}")
                continue
            raw, usage = answer
            for k, v in usage.items():
                report.usage[k] = report.usage.get(k, 0) + v
            meta = {
                **row.metadata,
                "prompt_hash": key,
                **identity,
                "raw_answer": raw,
                "usage": usage,
                "source_line": row.line,
            }
            record = {"messages": [*prompt, {"role": "assistant", "content": raw.strip()}]}
            fh.write(dumps({**record, "metadata": meta}) + "\n")
            fh.flush()
            report.labelled += 1
    return report
