"""Fine-tuning data formats, read into one chat-shaped :class:`Row` and written back.

Input formats (``fmt``):

* ``chat``: ``{"messages": [...]}`` (OpenAI chat fine-tuning lines);
* ``completion``: ``{"prompt", "completion"}`` -> user + assistant messages;
* ``text``: ``{"text"}`` -> one user message, no assistant turn;
* ``fields``: JSONL with a field mapping, ``csv``: a CSV file with a header and the same
  mapping. ``text_field`` (default ``text``) becomes the user message and ``label_field``
  (default ``label``, required on every row) the assistant message.

Every top-level key a format does not consume is kept in ``Row.metadata``; a ``"metadata"``
object is merged into it (its keys first). ``system`` prepends a system message to every row
that does not already start with one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import iter_jsonl, write_jsonl

ROLES = ("system", "user", "assistant", "tool", "function")
READ_FORMATS = ("chat", "completion", "text", "fields", "csv")
WRITE_FORMATS = ("chat", "completion", "text")
# Top-level keys the fine-tuning API accepts beside "messages"; written back by ``write_rows``.
CHAT_PASSTHROUGH = ("tools", "functions", "parallel_tool_calls")


@dataclass
class Row:
    """One fine-tuning example normalised to chat messages."""

    messages: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def assistant_index(self) -> int | None:
        """Index of the last assistant message, or None."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].get("role") == "assistant":
                return i
        return None

    def prompt_messages(self) -> list[dict[str, Any]]:
        """Messages before the last assistant turn (all messages when there is none)."""
        idx = self.assistant_index()
        return self.messages if idx is None else self.messages[:idx]

    def answer(self) -> str | None:
        """Content of the last assistant turn (None when absent or not text)."""
        idx = self.assistant_index()
        content = None if idx is None else self.messages[idx].get("content")
        return content if isinstance(content, str) else None


def normalise_text(text: str) -> str:
    """Comparison form of a text: whitespace runs collapsed, case folded."""
    return " ".join(text.split()).casefold()


def detect_format(path: str | Path) -> str:
    """``csv`` by extension, else from the keys of the first non-blank JSONL object."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return "csv"
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


def _check_message(path: Path, line: int, i: int, msg: object) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise InputError(path, f"expected an object, got {type(msg).__name__}", line, where)
    role = msg.get("role")
    if role is None:
        raise InputError(path, "missing", line, f"{where}.role")
    if role not in ROLES:
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
    return dict(msg)


def _metadata(obj: dict[str, Any], consumed: tuple[str, ...]) -> dict[str, Any]:
    base = obj.get("metadata")
    merged = isinstance(base, dict)
    meta: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    for key, value in obj.items():
        if key not in consumed and not (merged and key == "metadata"):
            meta[key] = value
    return meta


def _string(path: Path, line: int, obj: dict[str, Any], key: str, label: bool = False) -> str:
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


def _parse(path: Path, line: int, obj: dict[str, Any], fmt: str, tf: str, lf: str) -> Row:
    if fmt == "chat":
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            what = "missing" if msgs is None else "must be a non-empty list"
            raise InputError(path, what, line, "messages")
        messages = [_check_message(path, line, i, m) for i, m in enumerate(msgs)]
        return Row(messages, _metadata(obj, ("messages",)), line, str(path))
    if fmt == "completion":
        prompt = _string(path, line, obj, "prompt")
        completion = _string(path, line, obj, "completion")
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        return Row(messages, _metadata(obj, ("prompt", "completion")), line, str(path))
    if fmt == "text":
        text = _string(path, line, obj, "text")
        return Row([{"role": "user", "content": text}], _metadata(obj, ("text",)), line, str(path))
    text = _string(path, line, obj, tf)
    label = _string(path, line, obj, lf, label=True)
    if not text.strip():
        raise InputError(path, "empty", line, tf)
    if not label.strip():
        raise InputError(path, "empty", line, lf)
    messages = [{"role": "user", "content": text}, {"role": "assistant", "content": label}]
    return Row(messages, _metadata(obj, (tf, lf)), line, str(path))


def _iter_csv(path: Path, fields: tuple[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputError(path, "no header row", 1)
            if len(set(header)) != len(header):
                raise InputError(path, f"duplicate column names in {header}", 1)
            for name in fields:
                if name not in header:
                    raise InputError(
                        path, f"no such column (columns: {', '.join(header)})", 1, name
                    )
            for record in reader:
                if not record:
                    continue
                if len(record) != len(header):
                    msg = f"{len(record)} fields, the header has {len(header)}"
                    raise InputError(path, msg, reader.line_num)
                yield reader.line_num, dict(zip(header, record, strict=True))
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not valid UTF-8 ({exc.reason})") from None
    except csv.Error as exc:
        raise InputError(path, f"invalid CSV: {exc}") from None


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


def read_rows(
    path: str | Path,
    fmt: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    system: str | None = None,
) -> list[Row]:
    """Read and validate every row of ``path``; the first bad row raises :class:`InputError`."""
    path = Path(path)
    fmt = resolve_format(path, fmt, text_field, label_field)
    tf, lf = text_field or "text", label_field or "label"
    source = _iter_csv(path, (tf, lf)) if fmt == "csv" else iter_jsonl(path)
    rows = [_parse(path, line, obj, fmt, tf, lf) for line, obj in source]
    if system is not None:
        for row in rows:
            if row.messages[0].get("role") != "system":
                row.messages.insert(0, {"role": "system", "content": system})
    return rows


def flatten(messages: list[dict[str, Any]], for_completion: bool = True) -> str:
    """Chat messages as one text, exactly like ``evals.prompt.base.chat_prompt_to_text_prompt``.

    One message gives its content. Otherwise each message is a line prefixed ``User: ``,
    ``Assistant: `` (also for ``name`` example_user/example_assistant) or nothing (system),
    and ``for_completion`` appends a final ``Assistant:`` cue.
    """
    if len(messages) == 1:
        return str(messages[0]["content"])
    prefixes = {"system": "", "example_user": "User: ", "example_assistant": "Assistant: "}
    text = ""
    for msg in messages:
        role = str(msg["name"] if "name" in msg else msg["role"])
        text += f"{prefixes.get(role, role.capitalize() + ': ')}{msg['content']}\n"
    if for_completion:
        text += "Assistant:"
    return text.lstrip()


def prompt_and_answer(row: Row) -> tuple[list[dict[str, Any]], str | None]:
    """Split a row at its last assistant turn: (prompt messages, answer or None).

    The assistant turn must be the final message and hold text, and every prompt message must
    hold text (tool-call turns cannot be flattened); otherwise :class:`InputError`.
    """
    idx = row.assistant_index()
    answer: str | None = None
    prompt = row.messages
    if idx is not None:
        if idx != len(row.messages) - 1:
            extra = len(row.messages) - 1 - idx
            why = f"{extra} message(s) after the last assistant turn"
            raise InputError(row.source, why, row.line, f"messages[{idx + 1}]")
        content = row.messages[idx].get("content")
        if not isinstance(content, str):
            why = "the last assistant turn has no text content"
            raise InputError(row.source, why, row.line, f"messages[{idx}].content")
        prompt, answer = row.messages[:idx], content
    if not prompt:
        raise InputError(row.source, "no message before the assistant turn", row.line, "messages")
    for i, message in enumerate(prompt):
        if not isinstance(message.get("content"), str):
            why = "no text content (tool-call turns cannot be used as a prompt)"
            raise InputError(row.source, why, row.line, f"messages[{i}].content")
    return prompt, answer


def row_to_record(row: Row, fmt: str) -> dict[str, Any]:
    """One output line (see :func:`write_rows`)."""
    if fmt == "chat":
        record: dict[str, Any] = {"messages": row.messages}
        record.update({k: row.metadata[k] for k in CHAT_PASSTHROUGH if k in row.metadata})
        return record
    if fmt not in WRITE_FORMATS:
        raise FtevalsError(f"unknown output format {fmt!r} (expected {', '.join(WRITE_FORMATS)})")
    prompt, answer = prompt_and_answer(row)
    if fmt == "text":
        return {"text": flatten(prompt, for_completion=False).rstrip("\n")}
    if answer is None:
        raise InputError(row.source, "completion output needs an assistant turn", row.line)
    return {"prompt": flatten(prompt), "completion": answer}


def write_rows(rows: list[Row], path: str | Path, fmt: str) -> int:
    """Write rows as JSONL (atomically) and return the count. Formats:

    * ``chat``: ``messages`` plus ``tools``/``functions``/``parallel_tool_calls`` from the
      metadata; other metadata is dropped (the fine-tuning API rejects unknown keys);
    * ``completion``: ``prompt`` = :func:`flatten` of the messages before the last assistant
      turn (a lone user message gives its content, else ``User: ...`` lines and a final
      ``Assistant:`` cue), ``completion`` = that turn's content;
    * ``text``: ``text`` = the same prompt messages flattened without the cue.
    """
    if fmt not in WRITE_FORMATS:
        raise FtevalsError(f"unknown output format {fmt!r} (expected {', '.join(WRITE_FORMATS)})")
    return write_jsonl(path, [row_to_record(row, fmt) for row in rows])
