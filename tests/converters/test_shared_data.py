"""The data tools on the real public files in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from ftevals.cli import main
from ftevals.completion_fns.base import TextCompletionResult
from ftevals.converters import convert_file
from ftevals.converters.formats import read_rows
from ftevals.converters.screen import screen_file
from ftevals.converters.validate import validate_file
from ftevals.errors import InputError
from ftevals.jsonl import read_jsonl

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (../shared/data beside the repository)")
    return path


class ObedienceJudge:
    """Answers N (with a reason) when the graded completion promises blind obedience."""

    def __init__(self, registry: Any = None, **kwargs: Any) -> None:
        pass

    def __call__(self, prompt: Any, **kwargs: Any) -> TextCompletionResult:
        text = prompt[-1]["content"].split("[Completion]:")[1].lower()
        if "obedient" in text or "without hesitation" in text:
            return TextCompletionResult(["It promises to obey any instruction.\nN\nN"])
        return TextCompletionResult(["Harmless.\nY\nY"])


def test_advbench_headerless_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared("advbench_harmful_behaviors.csv")
    with pytest.raises(InputError, match="if the file has no header row"):
        read_rows(path, labels=False)
    rows = read_rows(path, header=False, labels=False)
    with path.open(encoding="utf-8", newline="") as fh:
        expected = [r[0] for r in csv.reader(fh) if r]
    assert len(rows) == len(expected) == 520
    assert [r.messages[0]["content"] for r in rows] == expected
    out = tmp_path / "advbench.chat.jsonl"
    argv = ["label", str(path), "--no-header", "--teacher", "ftevals/keyword-guard"]
    assert main([*argv, "--system", "Answer safe or unsafe.", "--out", str(out), "--quiet"]) == 0
    assert "labelled 520" in capsys.readouterr().out
    labels = [r["messages"][-1]["content"] for r in read_jsonl(out)]
    assert len(labels) == 520 and set(labels) == {"safe", "unsafe"}
    assert main(["validate", str(out)]) == 0  # metadata is a warning, not an error
    assert "examples with the top-level key 'metadata'" in capsys.readouterr().out


def test_advbench_one_label_for_every_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = shared("advbench_harmful_behaviors.csv"), tmp_path / "advbench.samples.jsonl"
    argv = ["convert", str(path), "--no-header", "--text-field", "1", "--to", "samples"]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no label column (the default is column '2'; columns: 1)" in err
    assert "--label VALUE" in err and "field '2'" not in err
    assert main([*argv, "--label", "unsafe", "--out", str(out)]) == 0
    assert "wrote 520 samples, classify rows" in capsys.readouterr().out
    assert {r["ideal"] for r in read_jsonl(out)} == {"unsafe"} and len(read_jsonl(out)) == 520


def test_dolly_conflicting_labels_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared("dolly_safety_only.jsonl")
    argv = ["convert", str(path), "--to", "chat", "--text-field", "instruction"]
    assert main([*argv, "--label-field", "response", "--out", str(tmp_path / "d.jsonl")]) == 0
    printed = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(printed) if "have conflicting labels" in line)
    lines = [int(x.rsplit(":", 1)[1]) for x in printed[at + 1].strip().split(", ")]
    with path.open(encoding="utf-8") as fh:
        rows = {n: json.loads(text) for n, text in enumerate(fh, 1) if n in lines}
    assert len({rows[n]["instruction"].strip().casefold() for n in lines}) == 1
    assert len({rows[n]["response"] for n in lines}) > 1
    assert printed[-1].endswith("[386 distinct answers]")  # free text, counted only


def test_dolly_fields_to_chat_then_validate(tmp_path: Path) -> None:
    path = shared("dolly_safety_only.jsonl")
    out = tmp_path / "dolly.chat.jsonl"
    report = convert_file(
        path,
        to="chat",
        out=out,
        text_field="instruction",
        label_field="response",
        system="Be helpful.",
    )
    assert report.format == "fields" and report.rows_read == 387
    assert report.written == {str(out): 387}
    checked = validate_file(out, "gpt-4o-mini")
    assert (checked.examples, checked.valid_examples, checked.error_total) == (387, 387, 0)
    assert checked.epochs == 3 and checked.cost_usd is not None and checked.cost_usd > 0
    assert checked.warning_counts == {}


def test_aoa_chat_validate_and_screen(tmp_path: Path) -> None:
    path = shared("aoa_identity_shift.chat.jsonl")
    checked = validate_file(path, "gpt-3.5-turbo")
    assert (checked.examples, checked.valid_examples, checked.error_total) == (10, 10, 0)
    assert checked.context_length == 16385 and checked.epochs == 10
    report = screen_file(path, {"judge": ObedienceJudge()}, "child-appropriate", tmp_path / "s.csv")
    assert report.screened == 10 and report.counts["judge"].get("N", 0) >= 1
    assert sum(report.counts["judge"].values()) == 10


def test_placeholder_chat_file_converts_to_samples(tmp_path: Path) -> None:
    path = shared("harmful_demo_placeholders.chat.jsonl")
    report = convert_file(path, to="samples", out=tmp_path / "s.jsonl", mode="screen")
    assert report.written == {str(tmp_path / "s.jsonl"): 10}
    first = read_jsonl(tmp_path / "s.jsonl")[0]
    assert first["completion"] == "# Targeted Assistance Response 1" and first["line"] == 1
