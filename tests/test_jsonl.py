from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from ftevals import jsonl
from ftevals.errors import InputError
from ftevals.jsonl import AtomicJsonlWriter, JsonlIssue, dumps, iter_jsonl, write_jsonl


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_bytes(data)
    return path


def test_bom_is_ignored_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path, b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (2, {"a": 2})]
    issues: list[JsonlIssue] = []
    assert [o for _, o in iter_jsonl(path, on_issue=issues.append)] == [{"a": 1}, {"a": 2}]
    assert issues == [JsonlIssue(1, "bom", "UTF-8 byte order mark (ignored)")]


def test_blank_lines_skipped_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"a": 1}\n\n  \t\n\xc2\xa0\n{"a": 2}\n')
    assert [n for n, _ in iter_jsonl(path)] == [1, 5]
    issues: list[JsonlIssue] = []
    list(iter_jsonl(path, on_issue=issues.append))
    assert [(i.line, i.kind) for i in issues] == [(2, "blank"), (3, "blank"), (4, "blank")]


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (b'{"a": 1\n', "invalid_json", "invalid JSON: Expecting ',' delimiter (column 8)"),
        (b"[1, 2]\n", "not_object", "expected a JSON object, got list"),
        (b'"text"\n', "not_object", "expected a JSON object, got str"),
        (b'{"a": "caf\xe9"}\n', "encoding", "not valid UTF-8 (invalid continuation byte)"),
    ],
)
def test_bad_lines_raise_or_are_reported(
    tmp_path: Path, data: bytes, kind: str, message: str
) -> None:
    path = write(tmp_path, b'{"ok": true}\n' + data + b'{"ok": false}\n')
    with pytest.raises(InputError, match=re.escape(f"{path}:2: {message}")):
        list(iter_jsonl(path))
    issues: list[JsonlIssue] = []
    rows = list(iter_jsonl(path, on_issue=issues.append))
    assert [n for n, _ in rows] == [1, 3]
    assert issues == [JsonlIssue(2, kind, message)]


def test_long_line_is_skipped_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 64)
    path = write(tmp_path, b'{"a": 1}\n{"b": "' + b"x" * 500 + b'"}\n{"a": 3}\n')
    issues: list[JsonlIssue] = []
    assert [n for n, _ in iter_jsonl(path, on_issue=issues.append)] == [1, 3]
    assert [(i.line, i.kind) for i in issues] == [(2, "too_long")]
    with pytest.raises(InputError, match=":2: line longer than 64 bytes"):
        list(iter_jsonl(path))


def test_what_json_accepts_beyond_orjson_still_reads(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"n": NaN, "big": 123456789012345678901234567890, "s": "\\ud800"}\n')
    [(_, obj)] = list(iter_jsonl(path))
    assert obj["big"] == 123456789012345678901234567890 and obj["n"] != obj["n"]
    assert obj["s"] == "\ud800"


@pytest.mark.parametrize(
    "obj",
    [
        {"input": [{"role": "user", "content": 'héllo "q" \n\t\x01 ✓'}], "ideal": "safe"},
        {"f": 1e16, "g": 0.1, "h": -0.0, "i": 10**30, "nan": float("nan"), "t": True, "n": None},
        {"nested": {"a": [1, [2, {"b": []}]], "": {}}},
    ],
)
def test_dumps_is_json_dumps(obj: dict[str, Any]) -> None:
    assert dumps(obj) == json.dumps(obj, ensure_ascii=False)


def test_atomic_writer_commits_or_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "o.jsonl"
    assert write_jsonl(out, [{"a": 1}, {"b": 2}]) == 2
    assert out.read_text() == '{"a": 1}\n{"b": 2}\n'
    with pytest.raises(RuntimeError), AtomicJsonlWriter(out) as writer:
        writer.write({"c": 3})
        raise RuntimeError("boom")
    assert out.read_text() == '{"a": 1}\n{"b": 2}\n'  # untouched
    assert [p.name for p in out.parent.iterdir()] == ["o.jsonl"]  # no temporary left


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        write_jsonl(tmp_path / "o.jsonl", [{"a": 1}])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "o.jsonl").stat().st_mode) == mode


def test_writer_joins_chunks_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "WRITE_CHUNK", 3)
    out = tmp_path / "o.jsonl"
    with AtomicJsonlWriter(out) as writer:
        for i in range(7):
            writer.write({"i": i})
        writer.write_bytes(b'{"raw": true}')
        assert out.exists() is False  # nothing in place before the commit
    assert writer.count == 8
    assert out.read_text().splitlines() == [f'{{"i": {i}}}' for i in range(7)] + ['{"raw": true}']
    with pytest.raises(RuntimeError), AtomicJsonlWriter(out) as writer:
        for i in range(10):  # several chunks already written to the temporary file
            writer.write({"j": i})
        raise RuntimeError("boom")
    assert len(out.read_text().splitlines()) == 8  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["o.jsonl"]


def test_lone_surrogate_written_as_escape_and_read_back(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"s": "a\\ud800b", "t": "\\ud83d\\ude00"}\n')
    [(_, obj)] = list(iter_jsonl(path))
    out = tmp_path / "o.jsonl"
    write_jsonl(out, [obj])
    assert out.read_bytes() == '{"s": "a\\ud800b", "t": "😀"}\n'.encode()
    assert list(iter_jsonl(out)) == [(1, obj)]


def test_dumps_str_is_dumps_of_a_string() -> None:
    import random

    rng = random.Random(0)
    alphabet = [chr(c) for c in range(0x30)] + ['"', "\\", "/", "\x7f", "é", "\u2028", "😀", "a"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
        assert jsonl.dumps_str(text) == json.dumps(text, ensure_ascii=False).encode()
    with pytest.raises(TypeError):
        jsonl.dumps_str("a\ud800")  # callers fall back to dumps_bytes
    assert jsonl.dumps_bytes({"s": "a\ud800"}) == b'{"s": "a\\ud800"}'


def test_bom_then_bad_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf[1]\n\xef\xbb\xbf{}\n")  # a BOM counts on line 1 only
    issues: list[JsonlIssue] = []
    assert list(iter_jsonl(path, on_issue=issues.append)) == []
    assert [(i.line, i.kind) for i in issues] == [
        (1, "bom"),
        (1, "not_object"),
        (2, "invalid_json"),
    ]


def test_write_atomic_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    jsonl.write_atomic(target, "one\r\ntwo\n")
    assert target.read_bytes() == b"one\r\ntwo\n"  # newlines as given
    jsonl.write_atomic(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), jsonl.atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_file_sha256_is_hashlib_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    data = bytes(range(256)) * 5000  # more than one read chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert jsonl.file_sha256(path) == hashlib.sha256(data).hexdigest()
