"""What every ``ftevals`` command shares (``ftevals.cli.main``): a closed stdout ends it
quietly, ``--quiet`` prints nothing but the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftevals.cli import EXIT_BROKEN_PIPE
from ftevals.cli._common import stdout_closed

FTEVALS = Path(sys.executable).parent / "ftevals"
CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "safe"}]}


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``ftevals ARGS | head`` where ``head`` has exited already: stdout's reader is gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [str(FTEVALS), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", ["validate", "runs"])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, command: str) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(CHAT) + "\n", encoding="utf-8")
    (tmp_path / "runs" / "r").mkdir(parents=True)
    (tmp_path / "runs" / "r" / "manifest.json").write_text("{not json", encoding="utf-8")
    args = ["validate", str(data)] if command == "validate" else ["runs", "--json"]
    done = run_into_closed_pipe(args, tmp_path)
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == EXIT_BROKEN_PIPE


def test_stdout_closed_tells_a_gone_reader_from_an_open_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream:
        monkeypatch.setattr(sys, "stdout", stream)
        assert not stdout_closed()
        os.close(read_end)
        assert stdout_closed()
        monkeypatch.undo()


def test_quiet_label_with_a_local_model_prints_only_its_report(
    tmp_path: Path, tiny_llama_dir: Path
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("how do I bake bread\nhi\n", encoding="utf-8")
    args = ["label", str(prompts), "--teacher", "hf-causal", "--out", str(tmp_path / "o.jsonl")]
    args += ["--teacher-args", f"model={tiny_llama_dir},max_tokens=4", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(FTEVALS), *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "Loading weights" bar, no warning
    assert "labelled 2 with hf-causal" in done.stdout


def test_quiet_train_prints_no_bar_and_no_warning(
    tmp_path: Path, tiny_llama_dir: Path, tiny_chat_data: Path
) -> None:
    args = ["train", "--kind", "causal", "--base", str(tiny_llama_dir), "--data"]
    args += [str(tiny_chat_data), "--out", str(tmp_path / "a"), "--max-steps", "1", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(FTEVALS), *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "Loading weights" bar, no FutureWarning
    assert "adapter written to" in done.stdout
