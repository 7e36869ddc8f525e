"""Files the review app edits: each row as chat messages, written back in its own format.

A :class:`Codec` knows one format. It shows a record as messages (tolerantly: a broken record
is shown with its problems, never refused) and turns edited messages back into a record that
keeps every key it does not own. Rows the user did not edit are written back unchanged.

Formats: the fine-tuning formats of :mod:`ftevals.converters` (``chat``, ``completion``,
``text``, ``fields`` JSONL, ``csv``, ``lines``) and ``samples``, the evals samples files of
the registry (``{"input": ..., "ideal": ...}``), whose ``ideal`` is the label.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftevals.converters import detect_format
from ftevals.converters.formats import ROLES
from ftevals.converters.readers import iter_csv, iter_lines
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import JsonlIssue, iter_jsonl, write_atomic, write_jsonl

FORMATS = ("chat", "completion", "text", "fields", "csv", "lines", "samples")
FREE = ("chat", "samples")
"""Formats whose rows hold any messages; the others hold a user message and maybe a label."""
LABELLED = ("chat", "completion", "fields", "csv")
"""Formats whose rows need a final assistant message (the label or answer)."""
Message = dict[str, Any]


def display(value: Any) -> str:
    """The text shown for a stored label value (``ideal`` lists as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _keep(original: Any, text: str) -> Any:
    """``original`` when the edited text still shows it (an int label stays an int)."""
    return original if original is not None and display(original) == text else text


def _ideal(original: Any, text: str) -> Any:
    """An edited ``ideal``: a JSON list of strings stays a list (multi-label samples)."""
    if original is not None and display(original) == text:
        return original
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return text


def _user(text: Any) -> Message:
    return {"role": "user", "content": display(text) if text is not None else ""}


def _assistant(text: Any) -> Message:
    return {"role": "assistant", "content": display(text)}


def message_problems(messages: list[Message]) -> list[str]:
    """Problems of a message list (a reviewer's subset of the ``ftevals validate`` checks)."""
    if not messages:
        return ["no messages"]
    found: list[str] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            found.append(f"{where}: not an object")
            continue
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            found.append(f"{where}.role: unknown role {role!r} (expected {', '.join(ROLES)})")
        calls = msg.get("tool_calls") is not None or msg.get("function_call") is not None
        if content is None and not (role == "assistant" and calls):
            found.append(f"{where}.content: missing")
        elif content is not None and not isinstance(content, str):
            found.append(f"{where}.content: must be a string, got {type(content).__name__}")
        elif isinstance(content, str) and not content.strip() and role != "assistant":
            found.append(f"{where}.content: empty")
        if "weight" in msg and (isinstance(msg["weight"], bool) or msg["weight"] not in (0, 1)):
            found.append(f"{where}.weight: must be 0 or 1")
    return found


def label_of(messages: list[Message]) -> str | None:
    """The row's label: the text of a final assistant message, else None."""
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        content = last.get("content")
        return content if isinstance(content, str) else None
    return None


@dataclass
class Codec:
    """One format, with its field mapping for ``fields`` and ``csv``."""

    fmt: str
    text_field: str = "text"
    label_field: str = "label"

    def messages(self, record: dict[str, Any]) -> tuple[list[Message], list[str]]:
        """The record as messages, with the problems of the record itself."""
        found: list[str] = []
        if self.fmt == "chat":
            raw = record.get("messages")
            if not isinstance(raw, list):
                return [], ["messages: missing or not a list"]
            return list(raw), found
        if self.fmt == "samples":
            raw = record.get("input")
            if isinstance(raw, str):
                msgs = [_user(raw)]
            elif isinstance(raw, list):
                msgs = list(raw)
            else:
                msgs, found = [], ["input: missing or not a list/string"]
            if "ideal" in record:
                msgs.append(_assistant(record["ideal"]))
                if not display(record["ideal"]).strip():
                    found.append("ideal: empty")
            return msgs, found
        text_key, label_key = self.fields()
        if not isinstance(record.get(text_key), str):
            found.append(f"{text_key}: missing or not a string")
        msgs = [_user(record.get(text_key))]
        if label_key is not None:
            if record.get(label_key) is None:
                found.append(f"{label_key}: missing")
            else:
                msgs.append(_assistant(record[label_key]))
        return msgs, found

    def fields(self) -> tuple[str, str | None]:
        """(prompt key, label key or None) of a format with fixed fields."""
        if self.fmt == "completion":
            return "prompt", "completion"
        if self.fmt in ("text", "lines"):
            return "text", None
        return self.text_field, self.label_field

    def problems(self, messages: list[Message], record_problems: list[str]) -> list[str]:
        found = [*record_problems, *message_problems(messages)]
        if self.fmt in LABELLED:
            label = label_of(messages)
            if label is None:
                found.append("no final assistant message (the label)")
            elif not label.strip():
                found.append("empty label")
        return list(dict.fromkeys(found))

    def template(self) -> list[Message]:
        """The messages of a new row."""
        if self.fmt in ("text", "lines"):
            return [_user("")]
        return [_user(""), _assistant("")]

    def check_shape(self, messages: list[Message]) -> None:
        """Refuse edited messages this format cannot hold (nothing is dropped silently)."""
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                raise FtevalsError(f"messages[{i}]: expected an object with a string role")
        if self.fmt in FREE:
            return
        roles = [m["role"] for m in messages]
        allowed = [["user"]] if self.fmt in ("text", "lines") else [["user", "assistant"]]
        if self.fmt in ("fields", "csv"):
            allowed.append(["user"])
        if roles not in allowed or not all(isinstance(m.get("content"), str) for m in messages):
            shapes = " or ".join("+".join(a) for a in allowed)
            raise FtevalsError(f"a {self.fmt} row holds text messages {shapes}, got {roles}")

    def record(self, messages: list[Message], original: dict[str, Any]) -> dict[str, Any]:
        """``original`` with the fields this format owns replaced from ``messages``."""
        self.check_shape(messages)
        label = label_of(messages)
        prompt = messages[:-1] if label is not None else messages
        record = dict(original)
        if self.fmt == "chat":
            record["messages"] = messages
        elif self.fmt == "samples":
            single = len(prompt) == 1 and prompt[0].get("role") == "user"
            as_text = isinstance(original.get("input"), str) and single
            record["input"] = prompt[0].get("content") if as_text else prompt
            if label is None:
                record.pop("ideal", None)
            else:
                record["ideal"] = _ideal(original.get("ideal"), label)
        elif self.fmt == "completion":
            record["prompt"] = prompt[0]["content"]
            record["completion"] = label or ""
        elif self.fmt in ("text", "lines"):
            record["text"] = messages[0]["content"]
        else:
            record[self.text_field] = messages[0]["content"]
            if label is not None:
                record[self.label_field] = _keep(original.get(self.label_field), label)
            elif self.fmt == "csv":
                record[self.label_field] = ""
            else:
                record.pop(self.label_field, None)
        return record


@dataclass
class Loaded:
    """A file read for review."""

    codec: Codec
    records: list[tuple[int, dict[str, Any]]]
    """(line number, record) in file order."""
    notes: list[str] = field(default_factory=list)
    """What will not be written back as it was (blank lines, a BOM)."""
    columns: list[str] = field(default_factory=list)
    """CSV columns, in file order."""
    newline: str = "\n"


def detect(path: Path) -> str:
    """The format of ``path``: by extension for CSV and text, else by the first record's keys
    (``input`` means an evals samples file); ``chat`` for a file that does not exist yet."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".txt":
        return "lines"
    if not path.exists():
        return "chat"
    for _, obj in iter_jsonl(path):
        return "samples" if "input" in obj else detect_format(path)
    raise InputError(path, "no rows")


def read(path: Path, codec: Codec) -> Loaded:
    """Every record of ``path``. Lines that are not JSON objects (or not UTF-8, or too long)
    are refused with the first one's line number: saving would drop them. A file that does
    not exist yet has no rows; the first save creates it."""
    loaded = Loaded(codec, [])
    if not path.exists():
        loaded.columns = [codec.text_field, codec.label_field]
        loaded.notes.append("a new file: the first save creates it")
        return loaded
    blank = 0
    bad: list[JsonlIssue] = []

    def on_issue(issue: JsonlIssue) -> None:
        nonlocal blank
        if issue.kind == "blank":
            blank += 1
        elif issue.kind == "bom":
            loaded.notes.append("the UTF-8 byte order mark will not be written back")
        else:
            bad.append(issue)

    if codec.fmt == "csv":
        loaded.columns, loaded.newline = _csv_header(path, codec)
        loaded.records = list(iter_csv(path, (codec.text_field,)))
    elif codec.fmt == "lines":
        loaded.records = list(iter_lines(path, on_issue))
    else:
        loaded.records = list(iter_jsonl(path, on_issue))
    if bad:
        first = bad[0]
        msg = f"{first.message} ({len(bad)} unreadable line(s) in all; fix them in an editor)"
        raise InputError(path, msg, first.line)
    if blank:
        loaded.notes.append(f"{blank} blank line(s) will not be written back")
    return loaded


def _csv_header(path: Path, codec: Codec) -> tuple[list[str], str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    columns = next(csv.reader([first]), [])
    if codec.label_field not in columns:
        raise InputError(path, f"no label column {codec.label_field!r} (columns: {columns})", 1)
    return columns, newline


def write(path: Path, loaded: Loaded, records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` atomically (temporary file beside ``path``, then rename), keeping the
    file's permissions (a new file gets the umask's). Returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    mode = path.stat().st_mode & 0o7777
    fmt = loaded.codec.fmt
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, loaded.columns, lineterminator=loaded.newline)
        writer.writeheader()
        rows = [{c: r.get(c, "") for c in loaded.columns} for r in records]
        writer.writerows(rows)
        count = _write_text(path, buf.getvalue(), len(rows))
    elif fmt == "lines":
        texts = [str(r.get("text", "")) for r in records]
        for i, text in enumerate(texts):
            if "\n" in text or "\r" in text:
                raise FtevalsError(f"row {i + 1}: a text file holds one prompt per line")
        count = _write_text(path, "".join(t + "\n" for t in texts), len(texts))
    else:
        count = write_jsonl(path, records)
    os.chmod(path, mode)
    return count


def _write_text(path: Path, text: str, count: int) -> int:
    write_atomic(path, text)
    return count
