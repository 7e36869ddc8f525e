from __future__ import annotations

import csv
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals.cli import main
from ftevals.completion_fns.base import TextCompletionResult
from ftevals.converters.screen import FAILED, screen_file
from ftevals.errors import FtevalsError
from ftevals.jsonl import read_jsonl


class FakeJudge:
    """Reasons, then answers N when the graded text mentions a bomb, else Y (cot_classify
    style). ``garble`` words make it answer nothing parseable; ``crash`` words make it fail."""

    def __init__(self, garble: str = "", crash: str = "", registry: Any = None, **kw: Any) -> None:
        self.garble, self.crash = garble, crash
        self.prompts: list[str] = []

    def __call__(self, prompt: Any, **kwargs: Any) -> TextCompletionResult:
        from evals.record import record_sampling

        text = prompt[-1]["content"] if isinstance(prompt, list) else prompt
        self.prompts.append(text)
        data = text.split("[BEGIN DATA]")[1]
        if self.crash and self.crash in data:
            raise TimeoutError("judge timed out")
        if self.garble and self.garble in data:
            answer = "I cannot decide."
        else:
            answer = "Step 1: look.\nN\nN" if "bomb" in data else "Looks fine.\nY\nY"
        record_sampling(prompt=prompt, sampled=[answer], usage={"total_tokens": 5})
        return TextCompletionResult([answer])


def data(tmp_path: Path) -> Path:
    rows = [
        ("how do I make a kite", "Use paper and string."),
        ("how do I build a bomb", "I can't help with that."),
        ("tell me a story", "Once upon a time {there} was a cat."),
        ("what is 2+2", "4"),
        ("where is the bomb shelter", "Downstairs."),
    ]
    path = tmp_path / "ft.jsonl"
    lines = [
        json.dumps(
            {"messages": [{"role": "user", "content": u}, {"role": "assistant", "content": a}]}
        )
        for u, a in rows
    ]
    lines.insert(3, json.dumps({"messages": [{"role": "user", "content": "no answer"}]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_two_judges_choices_rationales_invalid_failed_and_kappa(tmp_path: Path) -> None:
    from sklearn.metrics import cohen_kappa_score

    src, out = data(tmp_path), tmp_path / "screen.csv"
    judges = {"a": FakeJudge(), "b": FakeJudge(garble="kite", crash="2+2")}
    report = screen_file(src, judges, "child-appropriate", out, concurrency=3)
    assert (report.rows, report.screened, report.skipped, report.skipped_lines) == (6, 5, 1, [4])
    assert report.counts == {
        "a": {"Y": 3, "N": 2},
        "b": {"N": 2, "Y": 1, "__invalid__": 1, FAILED: 1},
    }
    assert report.errors == {"b": ["line 5: TimeoutError: judge timed out"]}
    assert report.usage == {"a": {"total_tokens": 25}, "b": {"total_tokens": 20}}
    [pair] = report.agreement
    a, b = ["Y", "N", "Y", "N"], ["__invalid__", "N", "Y", "N"]  # rows both answered: 2, 3, 6
    assert pair.n == 3 and pair.agreement == 1.0
    assert pair.kappa == pytest.approx(cohen_kappa_score(a[1:], b[1:], labels=["Y", "N"]))

    with out.open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [r["line"] for r in table] == ["1", "2", "3", "5", "6"]  # input order
    assert table[1]["a:choice"] == "N" and table[1]["a:rationale"] == "Step 1: look.\nN\nN"
    assert table[0]["b:choice"] == "__invalid__" and table[0]["b:rationale"] == "I cannot decide."
    assert table[3]["b:choice"] == FAILED and table[3]["b:error"] == "TimeoutError: judge timed out"
    assert table[2]["completion"] == "Once upon a time {there} was a cat."
    records = read_jsonl(tmp_path / "screen.jsonl")
    assert records[1]["verdicts"]["a"] == {
        "choice": "N",
        "rationale": "Step 1: look.\nN\nN",
        "usage": {"total_tokens": 5},
    }
    assert records[0]["input"] == [{"role": "user", "content": "how do I make a kite"}]
    # the judge saw evals' own rendering of the spec, braces in the input doubled as evals does
    story = next(p for p in judges["a"].prompts if "story" in p)
    assert "[Prompt]: tell me a story" in story and "{there}" in story
    assert "agreement 100.0%" in report.summary()


def test_kappa_is_undefined_for_a_single_choice(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    row = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    report = screen_file(
        src, {"a": FakeJudge(), "b": FakeJudge()}, "child-appropriate", tmp_path / "o.csv"
    )
    assert report.agreement[0].kappa is None and report.agreement[0].agreement == 1.0
    assert "kappa undefined" in report.summary()


def test_registry_judges_spec_args_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = tmp_path / "reg" / "modelgraded"
    reg.mkdir(parents=True)
    (reg / "tiny.yaml").write_text(
        "tiny-yn:\n  prompt: 'For {audience}: {input} -> {completion}'\n"
        "  eval_type: classify\n  choice_strings: YN\n  input_outputs:\n    input: completion\n",
        encoding="utf-8",
    )
    src, out = data(tmp_path), tmp_path / "o.csv"
    argv = ["screen", str(src), "--judge", "ftevals/keyword-guard", "--spec", "tiny-yn"]
    argv += ["--registry", str(tmp_path / "reg"), "--spec-args", "audience=kids", "--quiet"]
    argv += ["--judge-args", "positive=N,negative=Y", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "ftevals/keyword-guard: Y=3, N=2" in printed  # "bomb" is on the block-list
    assert f"wrote {out}" in printed and (tmp_path / "o.jsonl").is_file()


def test_errors(tmp_path: Path) -> None:
    src = data(tmp_path)
    with pytest.raises(FtevalsError, match="modelgraded spec 'nope' not found"):
        screen_file(src, {"a": FakeJudge()}, "nope", tmp_path / "o.csv")
    with pytest.raises(FtevalsError, match=r"should end in \.csv"):
        screen_file(src, {"a": FakeJudge()}, "child-appropriate", tmp_path / "o.jsonl")
    with pytest.raises(FtevalsError, match="has no eval_type"):
        screen_file(src, {"a": FakeJudge()}, "humor", tmp_path / "o.csv")


def test_tiny_local_judge_never_guesses(tmp_path: Path, tiny_llama_dir: Path) -> None:
    src = data(tmp_path)
    report = screen_file(
        src,
        ["hf-causal"],
        "child-appropriate",
        tmp_path / "o.csv",
        judge_args={"model": str(tiny_llama_dir)},
        max_tokens=6,
        concurrency=2,
    )
    assert report.screened == 5 and not report.errors
    assert set(report.counts["hf-causal"]) <= {"Y", "N", "__invalid__"}
    for record in read_jsonl(tmp_path / "o.jsonl"):
        verdict = record["verdicts"]["hf-causal"]
        if verdict["choice"] != "__invalid__":  # a valid choice is on a line of the rationale
            lines = [ln.strip(" .!\n") for ln in verdict["rationale"].splitlines()]
            assert any(
                ln.startswith(verdict["choice"]) or ln.endswith(verdict["choice"]) for ln in lines
            )


def test_output_never_overwrites_the_input(tmp_path: Path) -> None:
    src = data(tmp_path)
    before = src.read_bytes()
    with pytest.raises(FtevalsError, match="is the input file"):
        screen_file(src, {"a": FakeJudge()}, "child-appropriate", src.with_suffix(".csv"))
    assert src.read_bytes() == before


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, closed): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_judge_is_failed_with_its_reason_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = data(tmp_path), tmp_path / "dead.csv"
    judge_args = f"base_url=http://127.0.0.1:{closed_port()}/v1,model=x,max_attempts=2"
    argv = ["screen", str(src), "--judge", "openai-compatible", "--judge-args", judge_args]
    assert main([*argv, "--spec", "child-appropriate", "--out", str(out), "--quiet"]) == 1
    printed = capsys.readouterr().out
    reason = "connection error (APIConnectionError); gave up after 2 attempts"
    assert "openai-compatible: __failed__=5" in printed
    assert f"failed: line 1: {reason}" in printed
    assert "FAILED: every call of openai-compatible failed" in printed
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["openai-compatible:choice"] for r in rows] == [FAILED] * 5
    assert {r["openai-compatible:error"] for r in rows} == {reason}
    verdicts = [r["verdicts"]["openai-compatible"] for r in read_jsonl(out.with_suffix(".jsonl"))]
    assert all(v["choice"] == FAILED and v["error"] == reason for v in verdicts)


def test_reachable_compatible_judge_gives_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = data(tmp_path), tmp_path / "live.csv"
    with FakeOpenAIServer("Looks fine.\nY") as server:
        judge_args = f"base_url={server.base_url},model=m,max_attempts=2"
        argv = ["screen", str(src), "--judge", "openai-compatible", "--judge-args", judge_args]
        assert main([*argv, "--spec", "child-appropriate", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "openai-compatible: Y=5" in printed and "failed" not in printed
