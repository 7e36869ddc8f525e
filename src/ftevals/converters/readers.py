"""Streaming readers of the non-JSONL inputs: CSV files and plain text files of prompts.

Both yield ``(line_number, record)`` like :func:`ftevals.jsonl.iter_jsonl`, so
:func:`~ftevals.converters.formats.iter_rows` treats every source alike. JSONL and text lines
are read by :func:`ftevals.jsonl.iter_records`, the one line reader; CSV keeps its blank lines
(a quoted field may span them), so it reads physical lines itself.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ftevals.errors import InputError
from ftevals.jsonl import MAX_LINE_BYTES, JsonlIssue, iter_records, raw_lines

LINES_FIELD = "text"
"""The field name a line of a ``lines`` file gets (it becomes the user message)."""


def column_names(width: int) -> list[str]:
    """Names of the columns of a CSV file read without a header: ``"1"``, ``"2"``, ..."""
    return [str(i) for i in range(1, width + 1)]


def iter_csv(
    path: Path,
    fields: tuple[str, ...],
    header: bool = True,
    defaults: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file as dicts; ``fields`` must be columns. Without ``header`` the columns
    are named by :func:`column_names` and every row must have as many as the first.
    Blank lines are skipped; a row with the wrong number of fields raises :class:`InputError`.
    ``defaults`` maps the fields the caller chose by default (not asked for by the user) to
    what to say when one is missing (``"label column: name one with ..."``)."""
    if not path.is_file():
        raise InputError(path, "file not found")
    with path.open("rb") as fh:
        reader = csv.reader(_decoded_lines(path, fh))
        names: list[str] | None = None
        try:
            if header:
                names = next(reader, None)
                if names is None:
                    raise InputError(path, "no header row (empty file)", 1)
                if len(set(names)) != len(names):
                    raise InputError(path, f"duplicate column names in {names}", 1)
                _check_fields(path, names, fields, header, defaults)
            for record in reader:
                if not record:
                    continue
                if names is None:
                    names = column_names(len(record))
                    _check_fields(path, names, fields, header, defaults)
                if len(record) != len(names):
                    what = "the header has" if header else "the first row has"
                    msg = f"{len(record)} fields, {what} {len(names)}"
                    raise InputError(path, msg, reader.line_num)
                yield reader.line_num, dict(zip(names, record, strict=True))
        except csv.Error as exc:
            raise InputError(path, f"invalid CSV: {exc}", reader.line_num) from None


def _decoded_lines(path: Path, fh: IO[bytes]) -> Iterator[str]:
    """Physical lines as text (line endings kept, for the csv module), so that a line that is
    not UTF-8 or too long is reported with its number."""
    for lineno, raw in raw_lines(fh):
        if raw is None:
            raise InputError(path, f"line longer than {MAX_LINE_BYTES} bytes", lineno)
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not valid UTF-8 ({exc.reason})", lineno) from None


def _check_fields(
    path: Path,
    names: list[str],
    fields: tuple[str, ...],
    header: bool,
    defaults: dict[str, str] | None = None,
) -> None:
    for name in fields:
        if name not in names:
            shown = ", ".join(n if len(n) <= 40 else n[:37] + "..." for n in names)
            hint = "" if not header else " (if the file has no header row, read it without one)"
            where = 1 if header else None
            default = (defaults or {}).get(name)
            if default is not None:  # a column the user never named: say which one is missing
                what, _, advice = default.partition(": ")
                message = f"no {what} (the default is column {name!r}; columns: {shown})"
                if advice:
                    message += f": {advice}"
                if header:
                    message += "; if the file has no header row, read it without one"
                raise InputError(path, message, where)
            raise InputError(path, f"no such column (columns: {shown}){hint}", where, name)


def iter_lines(
    path: Path, on_issue: Callable[[JsonlIssue], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``{"text": line}`` for each non-blank line of a UTF-8 text file (a BOM is ignored), read
    by the one line reader :func:`ftevals.jsonl.iter_records`.

    Blank lines are skipped and reported to ``on_issue`` (as ``blank``); a line that is not
    UTF-8 or longer than MAX_LINE_BYTES raises, or is reported when ``on_issue`` is given."""
    return iter_records(path, on_issue, loads=_text_record, parse=_text_object)


def _text_record(raw: bytes) -> dict[str, Any]:
    """A line as a record; ``ValueError`` (also for a blank line) sends it to the slow path."""
    text = raw.decode("utf-8").rstrip("\r\n")
    if not text.strip():
        raise ValueError("blank line")
    return {LINES_FIELD: text}


def _text_object(text: str) -> dict[str, Any]:
    return {LINES_FIELD: text}
