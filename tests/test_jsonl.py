from __future__ import annotations

import json
import re
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
