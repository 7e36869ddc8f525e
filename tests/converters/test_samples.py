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


def _reference_prompt_key(r: Row) -> str:
    """prompt_key as first written: the whole prompt normalised at once."""
    parts = []
    for m in r.prompt_messages():
        content = m.get("content")
        parts.append(f"\0 {m.get('role')} \0 {content if isinstance(content, str) else ''}")
    return " ".join(" ".join(parts).split()).casefold()


_TEXTS = [
    "Hello  World",
    " Safe ",
    "safe",
    "",
    "  ",
    "a\tb\nc",
    "é ß ＡＢ",
    "Σ final",
    "\u2028x\u3000y\xa0",
    'q"uote\\ /',
    "ctrl\x01\x1f\x7f",
    "x\ud800y",
    "😀 emoji",
    "plain ascii text, number 12.",
]


def _random_rows(seed: int, n: int) -> list[Row]:
    import random

    rng = random.Random(seed)
    roles: list[Any] = ["system", "user", "assistant", "tool", "function", " User ", "", None, 3]
    rows = []
    for i in range(n):
        msgs: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 3)):
            m: dict[str, Any] = {"role": rng.choice(roles[:5] if rng.random() < 0.8 else roles)}
            m["content"] = rng.choice(_TEXTS) if rng.random() < 0.95 else None
            if rng.random() < 0.1:
                m["name"] = rng.choice(["bob", 3])
            if rng.random() < 0.1:
                m = {"content": m["content"], "role": m["role"]}  # other key order
            msgs.append(m)
        if rng.random() < 0.85:
            msgs.append({"role": "assistant", "content": rng.choice(_TEXTS)})
        meta = rng.choice([{}, {}, {"id": i, "f": 1e16, "s": "x\ud800"}, {"tools": []}])
        rows.append(Row(msgs, meta, i + 1, "in.jsonl"))
    return rows


@pytest.mark.parametrize("mode", ["classify", "screen"])
@pytest.mark.parametrize(
    "normaliser",
    [
        LabelNormaliser(),
        LabelNormaliser(strip=False),
        LabelNormaliser(lower=True, mapping={"s": ""}),
    ],
)
def test_sample_and_key_is_the_long_way(mode: str, normaliser: LabelNormaliser) -> None:
    """convert's one-pass path gives the bytes of dumps(row_to_sample(...)) and prompt_key,
    or raises what row_to_sample raises."""
    from ftevals.converters.samples import prompt_key, row_to_sample, sample_and_key, sample_json
    from ftevals.jsonl import dumps, encode_line

    checked = 0
    for r in _random_rows(7, 3000):
        try:
            expected = encode_line(dumps(row_to_sample(r, mode, normaliser)))
        except InputError as exc:
            with pytest.raises(InputError, match=re.escape(str(exc))):
                sample_and_key(r, mode, normaliser)
            continue
        sample = row_to_sample(r, mode, normaliser)
        label = str(sample["ideal" if mode == "classify" else "completion"])
        assert sample_json(r, mode, normaliser) == (expected, label)
        assert sample_and_key(r, mode, normaliser) == (expected, label, prompt_key(r))
        checked += 1
    assert checked > 500


def test_prompt_key_is_the_whole_prompt_normalised() -> None:
    from ftevals.converters.samples import prompt_key

    for r in _random_rows(3, 3000):
        assert prompt_key(r) == _reference_prompt_key(r), r.messages


def test_fold_text_is_split_join_casefold() -> None:
    import itertools

    from ftevals.converters.rows import fold_text

    alphabet = [" ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u3000", "a", "B", "ß", "İ", "Σ"]
    alphabet += ["\x00", "\x7f", "ﬁ"]
    for chars in itertools.product(alphabet, repeat=3):
        text = "".join(chars)
        assert fold_text(text) == " ".join(text.split()).casefold(), repr(text)


def test_lone_surrogate_is_written_as_its_escape(tmp_path: Path) -> None:
    """json reads "\\ud800" into a string UTF-8 cannot hold: written back as the escape."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"messages": [{"role": "user", "content": "a\\ud800b"}, '
        '{"role": "assistant", "content": "safe"}], "id": "\\udfff"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert convert_file(src, to="samples", out=out).rows_read == 1
    assert out.read_bytes() == (
        b'{"input": [{"role": "user", "content": "a\\ud800b"}], "ideal": "safe", '
        b'"metadata": {"id": "\\udfff"}}\n'
    )
    [sample] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sample["input"][0]["content"] == "a\ud800b"


def test_convert_output_is_dumps_of_each_sample(tmp_path: Path) -> None:
    """Many rows (more than one write chunk), plain and not: every line is json.dumps of the
    sample, in input order."""
    rows = []
    for i in range(2500):
        msgs: list[dict[str, Any]] = [{"role": "user", "content": f"Prompt {i} {_TEXTS[i % 11]}"}]
        if i % 3 == 0:
            msgs.insert(0, {"role": "system", "content": "Rules."})
        if i % 7 == 0:
            msgs[-1]["name"] = "example_user"
        msgs.append({"role": "assistant", "content": "Safe " if i % 2 else "unsafe"})
        rows.append({"messages": msgs, **({"id": i} if i % 5 == 0 else {})})
    src = jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    report = convert_file(src, to="samples", out=out, lower=True)
    expected = [
        json.dumps(s, ensure_ascii=False)
        for s in rows_to_samples(read_rows(src), "classify", LabelNormaliser(lower=True))
    ]
    assert out.read_text(encoding="utf-8").split("\n") == [*expected, ""]
    assert report.label_counts[str(out)] == {"safe": 1250, "unsafe": 1250}


def test_known_roles_are_their_own_fold() -> None:
    """sample_and_key and prompt_key write a known role as it is."""
    from ftevals.converters.formats import ROLES
    from ftevals.converters.rows import fold_text

    assert all(fold_text(role) == role for role in ROLES)


def test_chat_records_straight_to_samples_is_the_long_way() -> None:
    """convert's path from a raw chat record gives what parse_record + sample_and_key give, or
    None (the record then goes the long way, which raises for bad records)."""
    import random

    from ftevals.converters.formats import parse_record
    from ftevals.converters.samples import chat_sample_and_key, sample_and_key

    rng = random.Random(11)
    odd: list[Any] = [5, "x", [1], None, {"role": "user"}, {"role": ["user"], "content": "a"}]
    odd += [{"role": "assistant", "content": "b", "weight": 2}, {"role": "bot", "content": "a"}]
    normaliser = LabelNormaliser(lower=True)
    taken = 0
    for r in _random_rows(5, 3000):
        obj: dict[str, Any] = {"messages": list(r.messages), **r.metadata}
        if obj["messages"] and rng.random() < 0.1:
            obj["messages"][rng.randrange(len(obj["messages"]))] = rng.choice(odd)
        for mode in ("classify", "screen"):
            got = chat_sample_and_key(obj, r.line, mode, normaliser)
            if got is None:
                continue
            taken += 1
            row = parse_record("in.jsonl", r.line, obj, "chat", "text", None)
            assert got == sample_and_key(row, mode, normaliser)
    assert taken > 300


def test_convert_errors_and_counts_with_plain_rows(tmp_path: Path) -> None:
    """Plain rows around bad ones: the error names the bad row's line and field."""
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    bad = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "weight": 1}]}
    src = jsonl(tmp_path / "in.jsonl", [good, good, bad, good])
    with pytest.raises(InputError, match=re.escape(f"{src}:3: field 'messages[1].content'")):
        convert_file(src, to="samples", out=tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
    src.write_text("\n" + json.dumps(good) + "\n\n" + json.dumps(good) + "\n", encoding="utf-8")
    report = convert_file(src, to="samples", out=tmp_path / "out.jsonl", dedupe=True)
    assert (report.rows_read, report.blank_lines, report.duplicates_dropped) == (2, 2, 1)
