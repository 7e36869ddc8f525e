"""Fine-tuning data formats, read into one chat-shaped :class:`Row` and written back.

Input formats (``fmt``):

* ``chat``: ``{"messages": [...]}`` (OpenAI chat fine-tuning lines);
* ``completion``: ``{"prompt", "completion"}`` -> user + assistant messages;
* ``text``: ``{"text"}`` -> one user message, no assistant turn;
* ``fields``: JSONL with a field mapping, ``csv``: a CSV file with the same mapping (with a
  header row, or without one: columns are then named ``1``, ``2``, ...). ``text_field``
  (default ``text``, or ``1`` without a header) becomes the user message and ``label_field``
  (default ``label``, or ``2``; required on every row unless labels are not wanted) the
  assistant message;
* ``lines``: a plain text file (``.txt``), one user prompt per non-blank line.

Every top-level key a format does not consume is kept in ``Row.metadata``; a ``"metadata"``
object is merged into it (its keys first). ``system`` prepends a system message to every row
that does not already start with one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals.converters.readers import LINES_FIELD, iter_csv, iter_lines
from ftevals.converters.rows import Row, normalise_text
from ftevals.converters.writers import (
    CHAT_PASSTHROUGH,
    WRITE_FORMATS,
    flatten,
    prompt_and_answer,
    row_to_record,
    write_rows,
)
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import JsonlIssue, iter_jsonl

ROLES = ("system", "user", "assistant", "tool", "function")
_ROLES = frozenset(ROLES)
READ_FORMATS = ("chat", "completion", "text", "fields", "csv", "lines")
NO_ANSWER_FORMATS = ("fields", "csv", "lines", "text")
"""Formats whose rows may come without an answer (one label can be given to every row)."""


def detect_format(path: str | Path) -> str:
    """``csv`` or ``lines`` by extension (``.csv``, ``.txt``), else from the keys of the first
    non-blank JSONL object."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() == ".txt":
        return "lines"
    for lineno, obj in iter_jsonl(path):
        keys = set(obj)
        if "messages" in keys:
            return "chat"
        if {"prompt", "completion"} <= keys:
            return "completion"
        if {"text", "label"} <= keys:
            return "fields"
        if "text" in keys:
            return "text"
        raise InputError(
            path,
            f"cannot detect the format from keys {sorted(keys)}: expected 'messages', "
            "'prompt' + 'completion' or 'text' (or give the format / a text field)",
            lineno,
        )
    raise InputError(path, "no rows")


def _check_message(path: str, line: int, i: int, msg: object) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise InputError(path, f"expected an object, got {type(msg).__name__}", line, where)
    role = msg.get("role")
    if role is None:
        raise InputError(path, "missing", line, f"{where}.role")
    if not isinstance(role, str) or role not in _ROLES:
        raise InputError(
            path, f"unknown role {role!r} (expected {', '.join(ROLES)})", line, f"{where}.role"
        )
    calls = msg.get("tool_calls") is not None or msg.get("function_call") is not None
    content = msg.get("content")
    if content is None and not (role == "assistant" and calls):
        what = "null" if "content" in msg else "missing"
        raise InputError(
            path, f"{what} (allowed only beside tool_calls/function_call)", line, f"{where}.content"
        )
    if content is not None and not isinstance(content, str):
        raise InputError(
            path, f"must be a string, got {type(content).__name__}", line, f"{where}.content"
        )
    if "name" in msg and not isinstance(msg["name"], str):
        raise InputError(path, "must be a string", line, f"{where}.name")
    weight = msg.get("weight")
    if "weight" in msg and (isinstance(weight, bool) or weight not in (0, 1)):
        raise InputError(path, f"must be 0 or 1, got {weight!r}", line, f"{where}.weight")
    return msg


def _metadata(obj: dict[str, Any], consumed: tuple[str, ...]) -> dict[str, Any]:
    if len(obj) == len(consumed):
        return {}
    base = obj.get("metadata")
    merged = isinstance(base, dict)
    meta: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    for key, value in obj.items():
        if key not in consumed and not (merged and key == "metadata"):
            meta[key] = value
    return meta


def _string(path: str, line: int, obj: dict[str, Any], key: str, label: bool = False) -> str:
    if key not in obj:
        raise InputError(path, "missing", line, key)
    value = obj[key]
    if label and isinstance(value, bool):
        return "true" if value else "false"
    if label and isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise InputError(path, f"must be a string, got {type(value).__name__}", line, key)
    return value


def parse_record(
    src: str, line: int, obj: dict[str, Any], fmt: str, tf: str, lf: str | None
) -> Row:
    """One row of ``fmt``; ``lf`` None reads fields/csv/lines rows without a label."""
    if fmt == "chat":
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            what = "missing" if msgs is None else "must be a non-empty list"
            raise InputError(src, what, line, "messages")
        messages = msgs
        for m in msgs:  # only {"role", "content"} messages: nothing more to check
            if not (
                type(m) is dict
                and len(m) == 2
                and type(m.get("content")) is str
                and m.get("role") in ROLES
            ):
                messages = [_check_message(src, line, i, m) for i, m in enumerate(msgs)]
                break
        return Row(messages, {} if len(obj) == 1 else _metadata(obj, ("messages",)), line, src)
    if fmt == "completion":
        prompt = _string(src, line, obj, "prompt")
        completion = _string(src, line, obj, "completion")
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        return Row(messages, _metadata(obj, ("prompt", "completion")), line, src)
    if fmt == "text":
        text = _string(src, line, obj, "text")
        return Row([{"role": "user", "content": text}], _metadata(obj, ("text",)), line, src)
    text = _string(src, line, obj, tf)
    if not text.strip():
        raise InputError(src, "empty", line, tf)
    messages = [{"role": "user", "content": text}]
    if lf is None:
        return Row(messages, _metadata(obj, (tf,)), line, src)
    label = _string(src, line, obj, lf, label=True)
    if not label.strip():
        raise InputError(src, "empty", line, lf)
    messages.append({"role": "assistant", "content": label})
    return Row(messages, _metadata(obj, (tf, lf)), line, src)


def resolve_format(
    path: Path, fmt: str | None, text_field: str | None = None, label_field: str | None = None
) -> str:
    """The input format: ``fmt`` if given, ``fields``/``csv`` when a field is mapped, else
    :func:`detect_format`. Inconsistent choices raise :class:`FtevalsError`."""
    mapped = text_field is not None or label_field is not None
    if fmt is None:
        fmt = detect_format(path) if not mapped or path.suffix.lower() == ".csv" else "fields"
    if fmt not in READ_FORMATS:
        raise FtevalsError(f"unknown input format {fmt!r} (expected {', '.join(READ_FORMATS)})")
    if mapped and fmt not in ("fields", "csv"):
        raise FtevalsError(f"text/label fields apply to the csv and fields formats, not {fmt!r}")
    return fmt


def _fields(
    fmt: str, text_field: str | None, label_field: str | None, header: bool, labels: bool
) -> tuple[str, str | None]:
    """(text field, label field or None) of a read."""
    if fmt == "lines":
        return LINES_FIELD, None
    tf = text_field or ("text" if header else "1")
    lf = (label_field or ("label" if header else "2")) if labels else None
    return tf, lf


def _defaults(
    tf: str, lf: str | None, text_field: str | None, label_field: str | None
) -> dict[str, str]:
    """The fields of a read chosen by default, and what to say when one is missing."""
    defaults = {}
    if text_field is None:
        defaults[tf] = "text column: name one with --text-field"
    if lf is not None and label_field is None:
        defaults[lf] = (
            "label column: name one with --label-field, or give every row the same label "
            "with --label VALUE"
        )
    return defaults


@dataclass(frozen=True)
class Records:
    """A file's records, read by :func:`open_records`, and how each becomes a :class:`Row`:
    :func:`iter_rows` in two steps, for a caller that looks at the raw record first."""

    records: Iterator[tuple[int, dict[str, Any]]]
    """``(line_number, record)``: JSON objects, or CSV/text rows as dicts."""
    source: str
    fmt: str
    """How :func:`parse_record` reads the records (``lines`` are read as ``fields``)."""
    text_field: str
    label_field: str | None
    system: str | None
    label: str | None = None
    """One label (assistant turn) for every row, for inputs without answers."""

    def row(self, line: int, obj: dict[str, Any]) -> Row:
        """The validated row of one record; a bad record raises :class:`InputError`."""
        row = parse_record(self.source, line, obj, self.fmt, self.text_field, self.label_field)
        if self.system is not None and row.messages[0].get("role") != "system":
            row.messages.insert(0, {"role": "system", "content": self.system})
        if self.label is not None:
            row.messages.append({"role": "assistant", "content": self.label})
        return row


def open_records(
    path: str | Path,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    system: str | None = None,
    *,
    header: bool = True,
    labels: bool = True,
    on_issue: Callable[[JsonlIssue], None] | None = None,
    label: str | None = None,
) -> Records:
    """The records of ``path`` (see :func:`iter_rows` for the arguments), streamed.
    ``label`` gives every row that one label (inputs without answers: ``fields``, ``csv``,
    ``lines``, ``text``), instead of a label field."""
    path = Path(path)
    fmt = resolve_format(path, fmt, text_field, label_field)
    if not header and fmt != "csv":
        raise FtevalsError(f"reading without a header applies to CSV files, not {fmt!r}")
    if label is not None:
        if label_field is not None:
            raise FtevalsError("give a label field or one label for every row, not both")
        if fmt not in NO_ANSWER_FORMATS:
            raise FtevalsError(
                f"one label for every row applies to {', '.join(NO_ANSWER_FORMATS)} input, "
                f"not {fmt!r} (its rows have answers)"
            )
        if not label.strip():
            raise FtevalsError("the label for every row is empty")
        labels = False
    tf, lf = _fields(fmt, text_field, label_field, header, labels)
    if fmt == "csv":
        fields = (tf,) if lf is None else (tf, lf)
        source = iter_csv(path, fields, header, _defaults(tf, lf, text_field, label_field))
    elif fmt == "lines":
        source = iter_lines(path, _reraise(path, on_issue) if on_issue else None)
    else:
        source = iter_jsonl(path, _reraise(path, on_issue) if on_issue else None)
    parse_as = "fields" if fmt == "lines" else fmt
    return Records(source, str(path), parse_as, tf, lf, system, label)


def iter_rows(
    path: str | Path,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    system: str | None = None,
    *,
    header: bool = True,
    labels: bool = True,
    on_issue: Callable[[JsonlIssue], None] | None = None,
) -> Iterator[Row]:
    """Read and validate ``path`` row by row (constant memory); a bad row raises
    :class:`InputError` naming file, line and field.

    ``header=False`` reads a CSV file without a header row (columns ``1``, ``2``, ...).
    ``labels=False`` reads fields/csv rows without an assistant turn (prompts to label); the
    label column, if any, stays in the metadata. ``on_issue`` receives blank lines and a BOM
    (see :func:`ftevals.jsonl.iter_jsonl`); without it blank lines are skipped silently.
    """
    records = open_records(
        path, fmt, text_field, label_field, system, header=header, labels=labels, on_issue=on_issue
    )
    row = records.row
    for line, obj in records.records:
        yield row(line, obj)


def _reraise(path: Path, on_issue: Callable[[JsonlIssue], None]) -> Callable[[JsonlIssue], None]:
    """Pass blank lines and a BOM on; raise on a bad line as ``iter_jsonl`` does by itself."""

    def handle(issue: JsonlIssue) -> None:
        if issue.kind not in ("blank", "bom"):
            raise InputError(path, issue.message, issue.line)
        on_issue(issue)

    return handle


def read_rows(
    path: str | Path,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    system: str | None = None,
    *,
    header: bool = True,
    labels: bool = True,
) -> list[Row]:
    """Every row of ``path`` (see :func:`iter_rows`); the first bad row raises."""
    return list(iter_rows(path, fmt, text_field, label_field, system, header=header, labels=labels))


__all__ = [
    "CHAT_PASSTHROUGH",
    "READ_FORMATS",
    "ROLES",
    "WRITE_FORMATS",
    "Records",
    "Row",
    "detect_format",
    "flatten",
    "iter_rows",
    "normalise_text",
    "open_records",
    "parse_record",
    "prompt_and_answer",
    "read_rows",
    "resolve_format",
    "row_to_record",
    "write_rows",
]
