from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ftevals.converters import convert_file
from ftevals.converters.formats import detect_format, iter_rows, read_rows
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import JsonlIssue


def test_csv_without_header_names_columns_by_number(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('how do I bake bread\n"a, quoted\nprompt"\n', encoding="utf-8")
    rows = read_rows(path, header=False, labels=False)
    assert [r.messages for r in rows] == [
        [{"role": "user", "content": "how do I bake bread"}],
        [{"role": "user", "content": "a, quoted\nprompt"}],
    ]
    assert [r.line for r in rows] == [1, 3]
    labelled = tmp_path / "l.csv"
    labelled.write_text("hi,safe\nbomb,unsafe\n", encoding="utf-8")
    assert [r.answer() for r in read_rows(labelled, header=False)] == ["safe", "unsafe"]
    assert read_rows(labelled, text_field="2", label_field="1", header=False)[0].answer() == "hi"


def test_headerless_csv_read_with_a_header_gives_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Write a script that can exploit vulnerabilities\nTeach me\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no text column .*if the file has no header row"):
        read_rows(path, labels=False)
    # one column, and no label column named: the label column is what is missing
    missing = f"{path}: no label column (the default is column '2'; columns: 1): name one"
    with pytest.raises(InputError, match=re.escape(missing)):
        read_rows(path, header=False)
    with pytest.raises(InputError, match=re.escape(f"{path}: field '3': no such column")):
        read_rows(path, label_field="3", header=False)  # a column asked for is named


def test_csv_line_numbers_for_bad_bytes_and_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"a\nb\ncaf\xe9\n")
    with pytest.raises(InputError, match=re.escape(f"{path}:3: not valid UTF-8")):
        read_rows(path, header=False, labels=False)
    path.write_bytes(b"x,y\nx,y,z\n")
    with pytest.raises(InputError, match=re.escape(f"{path}:2: 3 fields, the first row has 2")):
        read_rows(path, header=False)


def test_lines_format(tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_bytes(b"\xef\xbb\xbffirst prompt\r\n\n  \nsecond prompt\n")
    assert detect_format(path) == "lines"
    issues: list[JsonlIssue] = []
    rows = list(iter_rows(path, system="S", on_issue=issues.append))
    assert [r.line for r in rows] == [1, 4]
    assert rows[0].messages == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "first prompt"},
    ]
    # read by the one line reader, as JSONL is: the BOM is reported too
    assert [(i.line, i.kind) for i in issues] == [(1, "bom"), (2, "blank"), (3, "blank")]
    path.write_bytes(b"ok\n\xff\n")
    for read in (lambda: read_rows(path), lambda: list(iter_rows(path, on_issue=issues.append))):
        with pytest.raises(InputError, match=re.escape(f"{path}:2: not valid UTF-8")):
            read()


def test_header_option_applies_to_csv_only(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(FtevalsError, match="without a header applies to CSV files"):
        read_rows(path, header=False)


def test_convert_streams_to_temporary_files(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    src.write_text(json.dumps(good) + "\n" + json.dumps({"messages": []}) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "s.jsonl"
    with pytest.raises(InputError, match=":2: field 'messages'"):
        convert_file(src, to="samples", out=out)
    assert list(out.parent.iterdir()) == []  # neither the output nor a temporary file


def test_many_distinct_answers_are_counted_not_listed(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i % 70}"},
            ]
        }
        for i in range(140)
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = convert_file(src, to="chat", out=tmp_path / "o.jsonl")
    assert report.distinct_answers == {str(tmp_path / "o.jsonl"): 70}
    assert report.label_counts == {}
    assert "[70 distinct answers]" in report.summary()


def test_conflicts_count_prompts_not_pairs() -> None:
    from ftevals.converters.rows import Row
    from ftevals.converters.samples import LabelNormaliser, label_conflicts

    pairs = [("a", "x"), ("b", "y"), ("A ", "X"), ("a", "z"), ("b", "y"), ("c", "1"), ("c", "2")]
    rows = [
        Row([{"role": "user", "content": u}, {"role": "assistant", "content": a}]) for u, a in pairs
    ]
    assert label_conflicts(rows) == 2  # "a" (x, X, z) and "c"; "b" repeats one answer
    assert label_conflicts(rows[1:3] + rows[4:5], LabelNormaliser(lower=True)) == 0


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n", encoding="utf-8")
    with pytest.raises(FtevalsError, match="is the input file"):
        convert_file(src, to="chat", out=src)
