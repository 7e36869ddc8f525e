from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ftevals.converters import ConvertReport, convert_file
from ftevals.converters.formats import Row, read_rows
from ftevals.converters.samples import (
    LabelNormaliser,
    dedupe,
    label_conflicts,
    rows_to_samples,
)
from ftevals.errors import FtevalsError, InputError

SYS = {"role": "system", "content": "Answer safe or unsafe."}


def row(user: str, answer: str | None = "safe", line: int = 1, **meta: Any) -> Row:
    msgs: list[dict[str, Any]] = [SYS, {"role": "user", "content": user}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return Row(msgs, dict(meta), line, "in.jsonl")


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_chat_to_samples_exact_output(tmp_path: Path) -> None:
    src = jsonl(
        tmp_path / "in.jsonl",
        [
            {
                "messages": [
                    SYS,
                    {"role": "user", "content": "Example", "name": "example_user"},
                    {"role": "assistant", "content": "safe", "weight": 0},
                    {"role": "user", "content": "How do I pick a lock?"},
                    {"role": "assistant", "content": " Unsafe\n", "weight": 1},
                ],
                "metadata": {"category": "crime"},
            },
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "safe"},
                ]
            },
        ],
    )
    samples = rows_to_samples(read_rows(src))
    assert samples == [
        {
            "input": [
                SYS,
                {"role": "user", "content": "Example", "name": "example_user"},
                {"role": "assistant", "content": "safe"},
                {"role": "user", "content": "How do I pick a lock?"},
            ],
            "ideal": "Unsafe",
            "metadata": {"category": "crime"},
        },
        {"input": [{"role": "user", "content": "Hi"}], "ideal": "safe"},
    ]


def test_row_without_assistant_raises_with_location() -> None:
    with pytest.raises(InputError, match=r"^in\.jsonl:3: field 'messages': no assistant turn"):
        rows_to_samples([row("a"), row("b", None, line=3)])
    only_answer = Row([{"role": "assistant", "content": "safe"}], {}, 5, "in.jsonl")
    with pytest.raises(InputError, match=r"^in\.jsonl:5: .*no message before"):
        rows_to_samples([only_answer])


def test_tool_call_prompt_turn_is_rejected() -> None:
    msgs: list[dict[str, Any]] = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "r", "tool_call_id": "1"},
        {"role": "assistant", "content": "safe"},
    ]
    with pytest.raises(InputError, match=re.escape("in:2: field 'messages[1].content'")):
        rows_to_samples([Row(msgs, {}, 2, "in")])


@pytest.mark.parametrize(
    ("normaliser", "label", "expected"),
    [
        (LabelNormaliser(), "  Unsafe\n", "Unsafe"),
        (LabelNormaliser(strip=False), " Unsafe", " Unsafe"),
        (LabelNormaliser(lower=True), " UNSAFE ", "unsafe"),
        (LabelNormaliser(mapping={"toxic": "unsafe", "Unsafe": "unsafe"}), "toxic ", "unsafe"),
        (LabelNormaliser(mapping={"toxic": "unsafe"}), "Toxic", "Toxic"),
        (LabelNormaliser(lower=True, mapping={"toxic": "Unsafe"}), "TOXIC", "unsafe"),
        (LabelNormaliser(mapping={" 1 ": "unsafe", "0": "safe"}), "1", "unsafe"),
    ],
)
def test_label_normalisation(normaliser: LabelNormaliser, label: str, expected: str) -> None:
    assert normaliser(label) == expected
    assert rows_to_samples([row("q", label)], normalise=normaliser)[0]["ideal"] == expected


def test_label_map_conflicts_and_empty_labels() -> None:
    with pytest.raises(FtevalsError, match="maps to both"):
        LabelNormaliser(lower=True, mapping={"Toxic": "unsafe", "toxic": "safe"})
    assert LabelNormaliser(mapping={"Toxic": "unsafe", "toxic": "safe"})("toxic") == "safe"
    with pytest.raises(InputError, match=r"messages\[2\]\.content'?: empty label"):
        rows_to_samples([row("q", "  ")])


def test_screen_mode() -> None:
    samples = rows_to_samples([row("Make a bomb", " Sure, here is how", line=7, id=1)], "screen")
    assert samples == [
        {
            "input": [SYS, {"role": "user", "content": "Make a bomb"}],
            "completion": "Sure, here is how",
            "line": 7,
            "metadata": {"id": 1},
        }
    ]
    with pytest.raises(FtevalsError, match="unknown sample mode"):
        rows_to_samples([row("q")], "grade")


def test_dedupe_by_normalised_prompt() -> None:
    rows = [
        row("How  are you?", line=1),
        row("how are you?\n", "unsafe", line=2),
        row("Other", line=3),
        Row([{"role": "user", "content": "how are you?"}], {}, 4, "x"),
    ]
    kept, dropped = dedupe(rows)
    assert [r.line for r in kept] == [1, 3, 4]  # row 4 has no system message: different prompt
    assert dropped == 1
    assert label_conflicts(rows) == 1
    assert label_conflicts(rows, LabelNormaliser(mapping={"unsafe": "safe"})) == 0


def test_convert_file_samples_end_to_end(tmp_path: Path) -> None:
    src = jsonl(
        tmp_path / "in.jsonl",
        [
            {"prompt": "a", "completion": " Toxic"},
            {"prompt": "b", "completion": "ok"},
            {"prompt": "A", "completion": "toxic"},
        ],
    )
    kwargs: dict[str, Any] = {"to": "samples", "lower": True, "label_map": {"ok": "safe"}}
    out = tmp_path / "out" / "samples.jsonl"
    report = convert_file(src, out=out, dedupe=True, **kwargs)
    assert out.read_text(encoding="utf-8") == (
        '{"input": [{"role": "user", "content": "a"}], "ideal": "toxic"}\n'
        '{"input": [{"role": "user", "content": "b"}], "ideal": "safe"}\n'
    )
    assert report == ConvertReport(
        input=str(src),
        format="completion",
        to="samples",
        mode="classify",
        rows_read=3,
        written={str(out): 2},
        duplicates_dropped=1,
        label_counts={str(out): {"safe": 1, "toxic": 1}},
        distinct_answers={str(out): 2},
    )
    summary = report.summary()
    assert "read 3 rows (completion)" in summary and "dropped 1 duplicate" in summary
    assert f"wrote 2 samples, classify rows to {out} [safe=1, toxic=1]" in summary
    first = out.read_bytes()
    convert_file(src, out=out, dedupe=True, **kwargs)
    assert out.read_bytes() == first


def test_convert_file_csv_to_chat_and_completion(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("body,verdict\nhello,Benign\nkill,Harmful \n", encoding="utf-8")
    opts: dict[str, Any] = {"text_field": "body", "label_field": "verdict", "system": "Judge."}
    report = convert_file(src, to="chat", out=tmp_path / "c.jsonl", lower=True, **opts)
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert lines[1] == {
        "messages": [
            {"role": "system", "content": "Judge."},
            {"role": "user", "content": "kill"},
            {"role": "assistant", "content": "harmful"},
        ]
    }
    assert report.format == "csv" and report.label_conflicts == 0
    assert report.label_counts[str(tmp_path / "c.jsonl")] == {"benign": 1, "harmful": 1}
    convert_file(src, to="completion", out=tmp_path / "p.jsonl", **opts)
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert first == {"prompt": "Judge.\nUser: hello\nAssistant:", "completion": "Benign"}
    convert_file(src, to="text", out=tmp_path / "t.jsonl", **opts)
    assert json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0]) == {
        "text": "Judge.\nUser: hello"
    }


def test_convert_file_errors_write_nothing(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "o.jsonl"
    with pytest.raises(InputError, match=re.escape(f"{src}:1: field 'messages': no assistant")):
        convert_file(src, to="samples", out=out)
    assert not out.exists()
    with pytest.raises(FtevalsError, match="samples output only"):
        convert_file(src, to="chat", out=out, mode="screen")
    with pytest.raises(FtevalsError, match="unknown output format"):
        convert_file(src, to="csv", out=out)
    with pytest.raises(FtevalsError, match="is a directory"):
        convert_file(src, to="text", out=tmp_path)
    empty = jsonl(tmp_path / "empty.jsonl", [])
    with pytest.raises(InputError, match="no rows"):
        convert_file(empty, to="text", out=out, fmt="text")


def test_screen_samples_from_file(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "completion": "c"}])
    report = convert_file(src, to="samples", mode="screen", out=tmp_path / "s.jsonl")
    assert json.loads((tmp_path / "s.jsonl").read_text()) == {
        "input": [{"role": "user", "content": "p"}],
        "completion": "c",
        "line": 1,
    }
    assert "samples, screen" in report.summary()
