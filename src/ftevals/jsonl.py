"""The one JSONL reader and writer: line-numbered errors, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ftevals.errors import InputError

MAX_LINE_BYTES = 16 * 1024 * 1024


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name file:line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(path, f"line longer than {MAX_LINE_BYTES} bytes", lineno)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(path, f"not valid UTF-8 ({exc.reason})", lineno) from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(
                    path, f"invalid JSON: {exc.msg} (column {exc.colno})", lineno
                ) from None
            if not isinstance(obj, dict):
                raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", lineno)
            yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a JSONL file (see :func:`iter_jsonl`)."""
    return [obj for _, obj in iter_jsonl(path)]


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (temporary file, then rename). Returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(dumps(row) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
