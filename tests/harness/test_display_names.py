"""Runs that share a registry name are told apart: by the completion args that select the
model, or by ``ftevals run --label``, in compare (text, JSON, CSV) and ``ftevals runs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals.cli import main
from ftevals.harness.logs import display_name


def _run(out: Path, server: FakeOpenAIServer, model: str, *extra: str) -> None:
    args = f"base_url={server.base_url},model={model},max_attempts=1"
    argv = ["run", "--models", "openai-compatible", "--evals", "prompt-safety", "--out", str(out)]
    argv += ["--max-samples", "6", "--no-progress", "--completion-args", args, *extra]
    assert main(argv) == 0


def test_two_served_models_and_a_label_stay_apart_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(lambda body: "unsafe" if body["model"] == "b" else "safe") as server:
        _run(tmp_path / "a", server, "a")
        _run(tmp_path / "b", server, "b")
        _run(tmp_path / "c", server, "b", "--label", "guard-v2")
    capsys.readouterr()
    runs = [str(tmp_path / d) for d in ("a", "b", "c")]
    assert main(["compare", *runs, "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [row["model"] for row in report["rows"]]
    assert names == ["openai-compatible[model=a]", "openai-compatible[model=b]", "guard-v2"]
    pairs = {(p["model_a"], p["model_b"]) for p in report["paired"]}
    assert ("openai-compatible[model=a]", "openai-compatible[model=b]") in pairs
    assert main(["compare", *runs, "--csv", str(tmp_path / "csv")]) == 0
    text = capsys.readouterr().out
    assert "openai-compatible[model=a]" in text and "guard-v2" in text
    csv_text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "csv").glob("*.csv"))
    assert "openai-compatible[model=b]" in csv_text and "guard-v2" in csv_text
    assert main(["runs", str(tmp_path), "--json"]) == 0
    listed = {tuple(r["models"]) for r in json.loads(capsys.readouterr().out)}
    assert listed == {
        ("openai-compatible[model=a]",),
        ("openai-compatible[model=b]",),
        ("guard-v2",),
    }


def test_a_label_names_one_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--models", "ftevals/keyword-guard,dummy", "--evals", "prompt-safety"]
    assert main([*argv, "--label", "x", "--out", str(tmp_path)]) == 2
    assert "--label names one model" in capsys.readouterr().err


def test_display_name_shows_selecting_args_and_path_tails() -> None:
    options = {"--completion_args": "adapter=/home/u/adapters/minilm-a,quantize=int8"}
    assert (
        display_name(["ftevals/hf-classifier"], options)
        == "ftevals/hf-classifier[adapter=minilm-a]"
    )
    assert display_name(["a", "judge"], {}) == "a,judge"
    assert (
        display_name(["a"], {"--ftevals_label": "mine", "--completion_args": "model=x"}) == "mine"
    )
