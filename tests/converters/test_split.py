from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftevals.converters import ConvertReport, convert_file
from ftevals.converters.formats import Row
from ftevals.converters.split import assign_split, leakage, split_key, split_rows
from ftevals.errors import FtevalsError


def row(user: str, answer: str = "safe", system: str = "S", line: int = 0) -> Row:
    msgs = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return Row(msgs, {}, line, "in.jsonl")


def sides(rows: list[Row], fraction: float, seed: str = "ftevals") -> dict[int, str]:
    train, test = split_rows(rows, fraction, seed)
    return {r.line: "train" for r in train} | {r.line: "test" for r in test}


def test_assign_split_is_deterministic_and_proportional() -> None:
    keys = [f"prompt {i}" for i in range(2000)]
    first = [assign_split(k, 0.2) for k in keys]
    assert first == [assign_split(k, 0.2) for k in keys]
    assert 300 < first.count("test") < 500
    assert {assign_split(k, 0.0) for k in keys} == {"train"}
    assert {assign_split(k, 1.0) for k in keys} == {"test"}
    assert first != [assign_split(k, 0.2, seed="other") for k in keys]
    # a larger fraction only moves rows from train to test
    wider = [assign_split(k, 0.3) for k in keys]
    assert all(w == "test" for f, w in zip(first, wider, strict=True) if f == "test")
    with pytest.raises(FtevalsError, match="test fraction"):
        assign_split("k", 1.5)


def test_split_is_stable_when_rows_are_added() -> None:
    old = [row(f"question {i}", line=i) for i in range(100)]
    new = [row(f"another {i}", line=1000 + i) for i in range(100)]
    before = sides(old, 0.25)
    mixed = [r for pair in zip(new, old, strict=True) for r in pair]
    after = sides(mixed, 0.25)
    assert {line: after[line] for line in before} == before
    assert "test" in before.values() and "train" in before.values()


def test_split_keeps_order_and_duplicates_together() -> None:
    rows = [row(f"q{i}", line=i) for i in range(40)]
    rows += [row("  Q7 ", "unsafe", system="other", line=100), row("q7", line=101)]
    train, test = split_rows(rows, 0.3, "seed")
    assert [r.line for r in train] == sorted(r.line for r in train)
    assert [r.line for r in test] == sorted(r.line for r in test)
    got = sides(rows, 0.3, "seed")
    assert got[7] == got[100] == got[101]
    assert split_key(rows[-2]) == split_key(rows[7]) == "q7"


def test_split_key_without_user_messages() -> None:
    system_only = Row([{"role": "system", "content": "Rules  A"}], {}, 1, "x")
    assert split_key(system_only) == "rules a"


def test_leakage() -> None:
    train = [row("Alpha"), row("beta")]
    test = [row("alpha ", "unsafe"), row("gamma"), row("ALPHA"), row("Beta")]
    assert leakage(train, test) == ["alpha", "beta"]
    assert leakage(train, [row("delta")]) == []


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_convert_file_split_directory(tmp_path: Path) -> None:
    data = [
        {"text": f"prompt number {i}", "label": "unsafe" if i % 3 else "safe"} for i in range(60)
    ]
    data.append({"text": "Prompt number 5", "label": "unsafe"})  # duplicate of row 6
    src = _write(tmp_path / "in.jsonl", data)
    out = tmp_path / "split"
    report = convert_file(src, to="samples", out=out, split=0.25, dedupe=True, seed="s1")
    train, test = _lines(out / "train.jsonl"), _lines(out / "test.jsonl")
    assert report.format == "fields" and report.rows_read == 61
    assert report.duplicates_dropped == 1 and report.leakage_count == 0
    assert report.written == {
        str(out / "train.jsonl"): len(train),
        str(out / "test.jsonl"): len(test),
    }
    assert len(train) + len(test) == 60 and test and train
    prompts = [s["input"][0]["content"] for s in train + test]
    assert sorted(prompts) == sorted(f"prompt number {i}" for i in range(60))
    # input order within each side
    order = [int(s["input"][0]["content"].split()[-1]) for s in train]
    assert order == sorted(order)
    counts = report.label_counts[str(out / "test.jsonl")]
    assert sum(counts.values()) == len(test)
    assert all(s["ideal"] in ("safe", "unsafe") for s in test)

    first = {p: (out / p).read_bytes() for p in ("train.jsonl", "test.jsonl")}
    convert_file(src, to="samples", out=out, split=0.25, dedupe=True, seed="s1")
    assert {p: (out / p).read_bytes() for p in first} == first


def test_convert_file_split_chat_and_errors(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
    rows = [{"messages": [{**msgs[0], "content": f"x{i}"}, msgs[1]]} for i in range(20)]
    src = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "chat"
    convert_file(src, to="chat", out=out, split=0.5)
    both = _lines(out / "train.jsonl") + _lines(out / "test.jsonl")
    assert sorted(r["messages"][0]["content"] for r in both) == sorted(f"x{i}" for i in range(20))
    with pytest.raises(FtevalsError, match="is a file"):
        convert_file(src, to="chat", out=src, split=0.5)
    with pytest.raises(FtevalsError, match="between 0 and 1"):
        convert_file(src, to="chat", out=out, split=1.0)


def test_report_summary_mentions_leakage() -> None:
    report = ConvertReport(
        input="in.jsonl",
        format="chat",
        to="chat",
        mode="classify",
        rows_read=2,
        written={"a/train.jsonl": 1, "a/test.jsonl": 1},
        label_conflicts=1,
        leakage_count=1,
        leakage_examples=["hello"],
        distinct_answers={"a/train.jsonl": 80},
    )
    text = report.summary()
    assert "1 prompts have conflicting labels" in text
    assert "[80 distinct answers]" in text
    assert "leakage: 1 test prompts also in train: 'hello'" in text
