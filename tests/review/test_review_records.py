"""Formats of the review app: rows shown as messages, written back keeping what they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from review_data import chat, read_jsonl, write_jsonl

from ftevals.errors import FtevalsError, InputError
from ftevals.review.records import Codec, detect, message_problems, read, write


def roundtrip(path: Path, fmt: str, edit: dict[int, list[dict[str, object]]], **kw: str) -> None:
    codec = Codec(fmt, **kw)
    loaded = read(path, codec)
    records = []
    for i, (_, record) in enumerate(loaded.records):
        if i in edit:
            record = codec.record(edit[i], record)
        records.append(record)
    write(path, loaded, records)


def test_detect_formats(tmp_path: Path) -> None:
    cases = {
        "chat.jsonl": chat("hi", "safe"),
        "completion.jsonl": {"prompt": "p", "completion": "c"},
        "fields.jsonl": {"text": "t", "label": 1},
        "text.jsonl": {"text": "t"},
        "samples.jsonl": {"input": "hi", "ideal": "x"},
    }
    for name, row in cases.items():
        assert detect(write_jsonl(tmp_path / name, [row])) == name.split(".")[0]
    (tmp_path / "a.csv").write_text("text,label\nx,y\n", encoding="utf-8")
    assert detect(tmp_path / "a.csv") == "csv"
    (tmp_path / "a.txt").write_text("one\n", encoding="utf-8")
    assert detect(tmp_path / "a.txt") == "lines"
    with pytest.raises(InputError, match="no rows"):
        detect(write_jsonl(tmp_path / "empty.jsonl", []))


def test_chat_edit_keeps_other_keys_and_unedited_rows(tmp_path: Path) -> None:
    rows = [
        chat("first", "safe", id=7, metadata={"source": "x"}),
        chat("second", "unsafe", tools=[{"type": "function"}]),
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    edited = [{"role": "user", "content": "first, edited"}, {"role": "assistant", "content": "x"}]
    roundtrip(path, "chat", {0: edited})
    got = read_jsonl(path)
    assert got[0] == {"messages": edited, "id": 7, "metadata": {"source": "x"}}
    assert list(got[0]) == ["messages", "id", "metadata"]  # key order kept
    assert got[1] == rows[1]


def test_fields_label_type_kept_unless_changed(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "f.jsonl",
        [{"prompt": "a", "y": 1, "src": "s"}, {"prompt": "b", "y": 0}, {"prompt": "c", "y": 1}],
    )
    codec = Codec("fields", "prompt", "y")
    loaded = read(path, codec)
    shown = [codec.messages(r)[0] for _, r in loaded.records]
    assert shown[0] == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "1"}]
    records = [
        codec.record([{"role": "user", "content": "a2"}, shown[0][1]], loaded.records[0][1]),
        codec.record(
            [{"role": "user", "content": "b"}, {"role": "assistant", "content": "1"}],
            loaded.records[1][1],
        ),
        codec.record([{"role": "user", "content": "c"}], loaded.records[2][1]),
    ]
    write(path, loaded, records)
    assert read_jsonl(path) == [
        {"prompt": "a2", "y": 1, "src": "s"},
        {"prompt": "b", "y": "1"},
        {"prompt": "c"},
    ]


def test_samples_ideal_lists_and_string_inputs(tmp_path: Path) -> None:
    rows = [
        {"input": "plain prompt", "ideal": ["H", "V"], "metadata": {"k": 1}},
        {"input": [{"role": "user", "content": "q"}], "ideal": []},
        {"input": [{"role": "user", "content": "judged, no ideal"}], "criteria": "c"},
    ]
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    codec = Codec("samples")
    loaded = read(path, codec)
    first, _ = codec.messages(loaded.records[0][1])
    assert first == [
        {"role": "user", "content": "plain prompt"},
        {"role": "assistant", "content": '["H", "V"]'},
    ]
    assert codec.messages(loaded.records[2][1])[0] == rows[2]["input"]
    edits = {
        0: [
            {"role": "user", "content": "plain, edited"},
            {"role": "assistant", "content": '["S"]'},
        ],
        1: [{"role": "user", "content": "q"}, {"role": "assistant", "content": "none"}],
        2: [*rows[2]["input"], {"role": "assistant", "content": "an ideal"}],  # type: ignore[list-item]
    }
    roundtrip(path, "samples", edits)
    assert read_jsonl(path) == [
        {"input": "plain, edited", "ideal": ["S"], "metadata": {"k": 1}},
        {"input": [{"role": "user", "content": "q"}], "ideal": "none"},
        {**rows[2], "ideal": "an ideal"},
    ]


def test_csv_roundtrip_keeps_columns_and_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "bench.csv"
    path.write_bytes(b'id,text,label\r\n1,"hello, world",safe\r\n2,bye,unsafe\r\n')
    codec = Codec("csv")
    loaded = read(path, codec)
    assert loaded.columns == ["id", "text", "label"] and loaded.newline == "\r\n"
    msgs = [{"role": "user", "content": "bye now"}, {"role": "assistant", "content": "safe"}]
    records = [loaded.records[0][1], codec.record(msgs, loaded.records[1][1])]
    records.append(codec.record([{"role": "user", "content": "new"}], {}))
    write(path, loaded, records)
    assert path.read_bytes() == (
        b'id,text,label\r\n1,"hello, world",safe\r\n2,bye now,safe\r\n,new,\r\n'
    )


def test_csv_needs_its_label_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("prompt,answer\na,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="no label column 'label'"):
        read(path, Codec("csv", "prompt"))
    assert len(read(path, Codec("csv", "prompt", "answer")).records) == 1


def test_lines_refuse_a_newline_in_a_prompt(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("one\n\ntwo\n", encoding="utf-8")
    codec = Codec("lines")
    loaded = read(path, codec)
    assert loaded.notes == ["1 blank line(s) will not be written back"]
    record = codec.record([{"role": "user", "content": "two\nlines"}], loaded.records[1][1])
    with pytest.raises(FtevalsError, match="row 2: a text file holds one prompt per line"):
        write(path, loaded, [loaded.records[0][1], record])
    assert path.read_text(encoding="utf-8") == "one\n\ntwo\n"  # nothing written


def test_bad_json_line_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(chat("a", "b")) + "\n{not json\n[1]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"d.jsonl:2: invalid JSON.*2 unreadable line\(s\)"):
        read(path, Codec("chat"))


def test_fixed_formats_refuse_messages_they_cannot_hold() -> None:
    system = {"role": "system", "content": "s"}
    user, answer = {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}
    with pytest.raises(
        FtevalsError, match=r"fields row holds text messages user\+assistant or user"
    ):
        Codec("fields").record([system, user, answer], {})
    with pytest.raises(FtevalsError, match="completion row"):
        Codec("completion").record([user], {})
    with pytest.raises(FtevalsError, match=r"messages\[0\]: expected an object"):
        Codec("chat").record(["not a message"], {})  # type: ignore[list-item]
    assert Codec("completion").record([user, answer], {"x": 1}) == {
        "x": 1,
        "prompt": "u",
        "completion": "a",
    }


def test_problems() -> None:
    codec = Codec("chat")
    good = chat("q", "safe")["messages"]
    assert codec.problems(good, []) == []
    assert codec.problems(good[:2], []) == ["no final assistant message (the label)"]
    assert codec.problems([*good[:2], {"role": "assistant", "content": " "}], []) == ["empty label"]
    bad = [{"role": "bot", "content": 3}, {"role": "user", "content": ""}, "x"]
    assert message_problems(bad) == [
        "messages[0].role: unknown role 'bot' (expected system, user, assistant, tool, function)",
        "messages[0].content: must be a string, got int",
        "messages[1].content: empty",
        "messages[2]: not an object",
    ]
    calls = {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}], "weight": 2}
    assert message_problems([calls]) == ["messages[0].weight: must be 0 or 1"]
    assert Codec("chat").messages({"prompt": "x"}) == ([], ["messages: missing or not a list"])
    assert Codec("samples").problems(*Codec("samples").messages({"input": "q"})) == []
