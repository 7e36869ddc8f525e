from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ftevals.converters.formats import (
    Row,
    detect_format,
    flatten,
    read_rows,
    row_to_record,
    write_rows,
)
from ftevals.errors import FtevalsError, InputError

SYS = {"role": "system", "content": "Classify."}


def at(path: Path, line: int) -> str:
    return re.escape(f"{path}:{line}")


def jsonl(tmp_path: Path, rows: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def chat(user: str, answer: str | None = "safe", **extra: Any) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [SYS, {"role": "user", "content": user}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return {"messages": msgs, **extra}


def test_read_chat_keeps_extra_keys_metadata_and_line_numbers(tmp_path: Path) -> None:
    tool_turn = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}], "weight": 0}
    row1 = {
        "messages": [
            {"role": "user", "content": "hi", "name": "bob"},
            tool_turn,
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            {"role": "assistant", "content": "ok", "weight": 1},
        ],
        "metadata": {"category": "x"},
        "id": 7,
        "tools": [{"type": "function"}],
    }
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row1) + "\n\n" + json.dumps(chat("q")) + "\n", encoding="utf-8")
    rows = read_rows(path)
    assert [r.line for r in rows] == [1, 3]
    assert rows[0].source == str(path)
    assert rows[0].messages == row1["messages"]
    assert rows[0].metadata == {"category": "x", "id": 7, "tools": [{"type": "function"}]}
    assert rows[1].metadata == {}
    assert rows[0].answer() == "ok" and rows[0].where == f"{path}:1"


def test_read_completion_and_text(tmp_path: Path) -> None:
    comp = read_rows(jsonl(tmp_path, [{"prompt": "p", "completion": " c", "src": "a"}]))
    assert comp[0].messages == [
        {"role": "user", "content": "p"},
        {"role": "assistant", "content": " c"},
    ]
    assert comp[0].metadata == {"src": "a"}
    text = read_rows(jsonl(tmp_path, [{"text": "hello"}], "t.jsonl"))
    assert text[0].messages == [{"role": "user", "content": "hello"}]
    assert text[0].answer() is None


def test_read_fields_jsonl_with_mapping_and_system(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [{"prompt_text": "how?", "toxic": 1, "lang": "en"}])
    rows = read_rows(path, text_field="prompt_text", label_field="toxic", system="Judge.")
    assert rows[0].messages == [
        {"role": "system", "content": "Judge."},
        {"role": "user", "content": "how?"},
        {"role": "assistant", "content": "1"},
    ]
    assert rows[0].metadata == {"lang": "en"}
    booleans = read_rows(jsonl(tmp_path, [{"text": "a", "label": True}], "b.jsonl"))
    assert booleans[0].answer() == "true"


def test_read_csv_with_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('id,body,verdict\n1,"multi\nline",Unsafe\n\n2,plain,safe\n', encoding="utf-8")
    rows = read_rows(path, text_field="body", label_field="verdict", system="S")
    assert [r.line for r in rows] == [3, 5]
    assert rows[0].messages[1:] == [
        {"role": "user", "content": "multi\nline"},
        {"role": "assistant", "content": "Unsafe"},
    ]
    assert rows[0].messages[0] == {"role": "system", "content": "S"}
    assert rows[1].metadata == {"id": "2"}


def test_csv_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\nfine,safe\n", encoding="utf-8")
    with pytest.raises(InputError, match=at(path, 1) + ": field 'verdict': no such column"):
        read_rows(path, label_field="verdict")
    path.write_text("text,label\nfine,safe\nextra,safe,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=at(path, 3) + ": 3 fields, the header has 2"):
        read_rows(path)
    path.write_text("text,label\nfine,\n", encoding="utf-8")
    with pytest.raises(InputError, match=at(path, 2) + ": field 'label': empty"):
        read_rows(path)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (chat("x"), "chat"),
        ({"prompt": "p", "completion": "c"}, "completion"),
        ({"text": "t"}, "text"),
        ({"text": "t", "label": "l"}, "fields"),
    ],
)
def test_detect_format(tmp_path: Path, row: dict[str, Any], expected: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert detect_format(path) == expected
    assert detect_format(tmp_path / "x.CSV") == "csv"


def test_detect_unknown_keys_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('\n{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=at(path, 2) + ": cannot detect the format"):
        detect_format(path)
    with pytest.raises(InputError, match="no rows"):
        detect_format(jsonl(tmp_path, [], "empty.jsonl"))


def _msgs(*msgs: Any) -> dict[str, Any]:
    return {"messages": list(msgs)}


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"msgs": []}, "messages", "missing"),
        ({"messages": []}, "messages", "non-empty list"),
        (_msgs("hi"), "messages[0]", "expected an object"),
        (_msgs({"content": "hi"}), "messages[0].role", "missing"),
        (_msgs({"role": "bot", "content": "hi"}), "messages[0].role", "unknown role 'bot'"),
        (_msgs({"role": "user", "content": 3}), "messages[0].content", "must be a string"),
        (_msgs({"role": "user"}), "messages[0].content", "missing"),
        (_msgs({"role": "assistant", "content": None}), "messages[0].content", "null"),
        (_msgs({"role": "user", "content": "a", "name": 1}), "messages[0].name", "string"),
        (_msgs({"role": "assistant", "content": "a", "weight": 2}), "messages[0].weight", "0 or 1"),
    ],
)
def test_chat_errors_name_file_line_and_field(
    tmp_path: Path, bad: dict[str, Any], field: str, message: str
) -> None:
    path = jsonl(tmp_path, [chat("fine"), bad])
    with pytest.raises(InputError, match=message) as info:
        read_rows(path, "chat")
    assert str(info.value).startswith(f"{path}:2: field {field!r}: ")
    assert info.value.line == 2 and info.value.field == field


@pytest.mark.parametrize(
    ("fmt", "bad", "field"),
    [
        ("completion", {"prompt": "p"}, "completion"),
        ("completion", {"prompt": 1, "completion": "c"}, "prompt"),
        ("text", {"text": ["a"]}, "text"),
        ("fields", {"text": "a"}, "label"),
    ],
)
def test_other_format_errors(tmp_path: Path, fmt: str, bad: dict[str, Any], field: str) -> None:
    path = jsonl(tmp_path, [bad])
    with pytest.raises(InputError, match="^" + at(path, 1) + rf": field '{field}': "):
        read_rows(path, fmt)


def test_null_content_allowed_beside_function_call(tmp_path: Path) -> None:
    row = _msgs({"role": "user", "content": "a"}, {"role": "assistant", "function_call": {}})
    assert read_rows(jsonl(tmp_path, [row]))[0].messages[1] == row["messages"][1]


def test_format_option_errors(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [chat("a")])
    with pytest.raises(FtevalsError, match="unknown input format 'yaml'"):
        read_rows(path, "yaml")
    with pytest.raises(FtevalsError, match="csv and fields formats"):
        read_rows(path, "chat", text_field="body")


def test_system_is_not_added_twice(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [chat("a"), {"messages": [{"role": "user", "content": "b"}]}])
    rows = read_rows(path, system="New")
    assert rows[0].messages[0] == SYS
    assert rows[1].messages[0] == {"role": "system", "content": "New"}


def test_flatten_matches_evals() -> None:
    base = pytest.importorskip("evals.prompt.base")
    prompts: list[list[dict[str, Any]]] = [
        [{"role": "user", "content": "only"}],
        [SYS, {"role": "user", "content": "q"}],
        [
            {"role": "system", "content": "ex", "name": "example_user"},
            {"role": "system", "content": "ans", "name": "example_assistant"},
            {"role": "user", "content": "q"},
        ],
    ]
    for prompt in prompts:
        for cue in (True, False):
            assert flatten(prompt, cue) == base.chat_prompt_to_text_prompt(prompt, cue)


def test_write_rows_formats(tmp_path: Path) -> None:
    rows = [
        Row([{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]),
        Row(chat("q2", "a2")["messages"], {"tools": [], "id": 2}),
    ]
    assert write_rows(rows, tmp_path / "c.jsonl", "completion") == 2
    assert (tmp_path / "c.jsonl").read_text(encoding="utf-8") == (
        '{"prompt": "q1", "completion": "a1"}\n'
        '{"prompt": "Classify.\\nUser: q2\\nAssistant:", "completion": "a2"}\n'
    )
    write_rows(rows, tmp_path / "t.jsonl", "text")
    assert (tmp_path / "t.jsonl").read_text(encoding="utf-8") == (
        '{"text": "q1"}\n{"text": "Classify.\\nUser: q2"}\n'
    )
    write_rows(rows, tmp_path / "m.jsonl", "chat")
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines[1] == {"messages": rows[1].messages, "tools": []}
    assert [r.messages for r in read_rows(tmp_path / "m.jsonl")] == [r.messages for r in rows]


def test_write_errors_name_the_row(tmp_path: Path) -> None:
    no_answer = Row([{"role": "user", "content": "q"}], line=4, source="in.jsonl")
    with pytest.raises(InputError, match=r"^in\.jsonl:4: completion output needs an assistant"):
        row_to_record(no_answer, "completion")
    assert row_to_record(no_answer, "text") == {"text": "q"}
    trailing = Row([*chat("q")["messages"], {"role": "user", "content": "more"}], {}, 9, "in")
    with pytest.raises(InputError, match=r"^in:9: field 'messages\[3\]': 1 message\(s\) after"):
        row_to_record(trailing, "text")
    with pytest.raises(FtevalsError, match="unknown output format"):
        write_rows([no_answer], tmp_path / "x.jsonl", "csv")
