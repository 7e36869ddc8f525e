"""The one JSONL reader and writer: line-numbered errors, atomic writes.

:func:`write_atomic` and :func:`atomic_path` are the one write-then-rename of the package (any
file, JSONL or not; temporary files from :func:`create_temp`), and :func:`file_sha256` the one
file hash.

:func:`iter_records` is the one line-numbered reader loop: JSONL (:func:`iter_jsonl`) and, with
a text parser, files of one prompt a line (:func:`ftevals.converters.readers.iter_lines`).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import json.encoder
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ftevals.errors import InputError

MAX_LINE_BYTES = 16 * 1024 * 1024
WRITE_CHUNK = 1024
"""Lines an :class:`AtomicJsonlWriter` joins into one write."""
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# json's C encoder built once (JSONEncoder.encode builds one per call, half of its cost);
# the same output as json.dumps(obj, ensure_ascii=False), without the circular-reference check.
_MAKE_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Any = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
)


@dataclass(frozen=True)
class JsonlIssue:
    """A line :func:`iter_jsonl` did not yield, reported to its ``on_issue`` callback.

    ``kind`` is ``blank``, ``bom`` (a UTF-8 byte order mark, ignored; the line itself is read),
    ``too_long``, ``encoding`` (not UTF-8), ``invalid_json`` or ``not_object``.
    """

    line: int
    kind: str
    message: str


def raw_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """``(line_number, raw)``; ``raw`` is None for a line over MAX_LINE_BYTES, which is skipped
    in bounded chunks, so one huge line never sits in memory."""
    lineno = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            _skip_rest_of_line(fh, raw)
            yield lineno, None
        else:
            yield lineno, raw


def _skip_rest_of_line(fh: IO[bytes], raw: bytes) -> None:
    while raw and not raw.endswith(b"\n"):
        raw = fh.readline(MAX_LINE_BYTES)


def _decode(raw: bytes, parse: Callable[[str], Any]) -> tuple[Any, str, str]:
    """Slow path for lines the fast parser refuses: exact messages, and for JSON what ``json``
    also accepts (NaN, lone surrogate escapes). Returns (object, issue kind, message); the kind
    is empty when the line parsed."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return None, "encoding", f"not valid UTF-8 ({exc.reason})"
    if not text.strip():
        return None, "blank", "blank line"
    try:
        return parse(text), "", ""
    except json.JSONDecodeError as exc:
        return None, "invalid_json", f"invalid JSON: {exc.msg} (column {exc.colno})"


def iter_records(
    path: str | Path,
    on_issue: Callable[[JsonlIssue], None] | None = None,
    *,
    loads: Callable[[bytes], Any] = orjson.loads,
    parse: Callable[[str], Any] = json.loads,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The one line-numbered reader: ``(line_number, object)`` for each non-blank line.

    Each line (bytes; a UTF-8 BOM at the start of the file removed) goes to ``loads``. Only
    when that raises ``ValueError`` is the line looked at slowly: decoded as UTF-8 and, unless
    blank, given as text to ``parse``, whose ``json.JSONDecodeError`` makes it ``invalid_json``.
    Objects that are not dicts are ``not_object``. The defaults read JSONL; see
    :func:`iter_jsonl` for ``on_issue``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    limit = MAX_LINE_BYTES
    with path.open("rb") as fh:
        readline = fh.readline
        lineno = 0
        while raw := readline(limit + 1):
            lineno += 1
            if lineno > 1 and len(raw) <= limit:  # the usual line: parsed once, yielded
                try:
                    obj = loads(raw)
                except ValueError:
                    pass
                else:
                    if isinstance(obj, dict):
                        yield lineno, obj
                        continue
            kind = message = ""  # every other line: look at it closely
            if len(raw) > limit and not raw.endswith(b"\n"):
                _skip_rest_of_line(fh, raw)
                kind, message = "too_long", f"line longer than {limit} bytes"
            else:
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                    if on_issue is not None:
                        on_issue(JsonlIssue(1, "bom", "UTF-8 byte order mark (ignored)"))
                try:
                    obj = loads(raw)
                except ValueError:
                    if raw.strip():
                        obj, kind, message = _decode(raw, parse)
                    else:
                        kind, message = "blank", "blank line"
                if not kind and not isinstance(obj, dict):
                    kind = "not_object"
                    message = f"expected a JSON object, got {type(obj).__name__}"
            if not kind:
                yield lineno, obj
            elif on_issue is not None:
                on_issue(JsonlIssue(lineno, kind, message))
            elif kind != "blank":
                raise InputError(path, message, lineno)


def iter_jsonl(
    path: str | Path, on_issue: Callable[[JsonlIssue], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name file:line.

    A UTF-8 byte order mark at the start of the file is ignored. Without ``on_issue``, the first
    bad line raises :class:`InputError` and blank lines are skipped. With ``on_issue``, every
    line not yielded (blank, bad) and a BOM are reported to it, and reading goes on: the caller
    counts them, so nothing is dropped silently.
    """
    return iter_records(path, on_issue)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a JSONL file (see :func:`iter_jsonl`)."""
    return [obj for _, obj in iter_jsonl(path)]


def dumps(obj: Any) -> str:
    """One JSONL line (without the newline): ``json.dumps(obj, ensure_ascii=False)``."""
    if _C_ENCODE is None or not isinstance(obj, dict):
        return _ENCODER.encode(obj)
    return "".join(_C_ENCODE(obj, 0))


def encode_line(line: str) -> bytes:
    """A line of JSON text as UTF-8. A lone surrogate (which ``json`` reads from a ``\\ud800``
    escape, and which UTF-8 cannot hold) is written back as that escape, so the line stays
    valid JSON with the same value."""
    return line.encode("utf-8", "backslashreplace")


def dumps_bytes(obj: Any) -> bytes:
    """:func:`dumps` as UTF-8 (:func:`encode_line`)."""
    return encode_line(dumps(obj))


dumps_str: Callable[[str], bytes] = orjson.dumps
""":func:`dumps_bytes` of a ``str``, fast: orjson escapes strings exactly as
``json.dumps(ensure_ascii=False)`` does (tests/test_jsonl.py checks it). Raises ``TypeError``
on a lone surrogate, where callers fall back to :func:`dumps_bytes`."""


def create_temp(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``path`` (``.NAME.XXXXXXXX.tmp``), opened for
    writing: ``(file descriptor, its path)``. Unlike ``tempfile.mkstemp`` (always 0600) it is
    created 0666 less the umask, so the file renamed into place has the mode of any new file."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


class AtomicJsonlWriter:
    """Write JSONL to a temporary file beside ``path``; :meth:`commit` renames it into place,
    :meth:`abort` (or leaving a ``with`` block on an exception) removes it.

    Lines are joined into one write per :data:`WRITE_CHUNK` lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = create_temp(self.path)
        self._fh = os.fdopen(fd, "wb")
        self._lines: list[bytes] = []
        self.count = 0

    def write(self, row: Any) -> None:
        """Write one object as a line (:func:`dumps`)."""
        self.write_bytes(encode_line(dumps(row)))

    def write_bytes(self, line: bytes) -> None:
        """Write one line already encoded (:func:`dumps_bytes`, or the same bytes made another
        way), without its newline."""
        lines = self._lines
        lines.append(line)
        self.count += 1
        if len(lines) >= WRITE_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._lines:
            self._lines.append(b"")
            self._fh.write(b"\n".join(self._lines))
            self._lines.clear()

    def commit(self) -> int:
        try:
            self._flush()
            self._fh.close()
        except BaseException:
            self.abort()
            raise
        os.replace(self._tmp, self.path)
        return self.count

    def abort(self) -> None:
        self._lines.clear()
        self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicJsonlWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._fh.closed:  # committed or aborted already
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (temporary file, then rename). Returns the row count."""
    with AtomicJsonlWriter(path) as writer:
        for row in rows:
            writer.write(row)
    return writer.count


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without an exception, removed otherwise. Readers see the old file or the new one, never a
    half-written one. The parent directory is created; the new file gets the usual
    permissions (the umask's), as a file written in place would."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(target)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write a whole file atomically (text as UTF-8, newlines as given). Returns the path."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                fh.write(data)
        else:
            tmp.write_bytes(data)
    return Path(path)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
