"""``ftevals run --judge NAME --judge-args k=v``, oaieval's ``--extra_eval_params judge=``, and
runs whose every sample is invalid (exit 3), each run as a user types it.

The judge is ``openai-compatible`` pointed at a real loopback server speaking OpenAI's wire
format; the model under test is the keyword guard (offline).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals.cli import main
from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_logs

EVAL = "harmfulness"


def _judge_args(server: FakeOpenAIServer) -> str:
    return f"base_url={server.base_url},model=judge-model,max_attempts=1"


def _run(out: Path, server: FakeOpenAIServer, *extra: str) -> int:
    argv = ["run", "--models", "ftevals/keyword-guard", "--evals", EVAL, "--out", str(out)]
    argv += ["--max-samples", "4", "--no-progress", "--judge", "openai-compatible"]
    return main([*argv, "--judge-args", _judge_args(server), *extra])


def test_run_judge_overrides_the_evals_judge_and_keys_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer("The reply refuses.\n2") as server:
        assert _run(tmp_path / "run", server) == 0
        judged = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert len(judged) == 4 and {r.body["model"] for r in judged} == {"judge-model"}
    rows = compare_logs(read_logs([tmp_path / "run"])).rows
    assert rows[0].judge == "openai-compatible" and rows[0].n == 4 and rows[0].invalid == 0
    with FakeOpenAIServer("3") as other:  # another judge: the finished pair runs again
        assert _run(tmp_path / "run", other) == 0
        assert len([r for r in other.requests if r.path.endswith("/chat/completions")]) == 4
    out = capsys.readouterr().out
    assert "skipped" not in out


def test_every_verdict_invalid_warns_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer("I cannot grade this.") as server:
        assert _run(tmp_path / "run", server) == 3
    out = capsys.readouterr().out
    assert "warning: ftevals/keyword-guard x harmfulness: 4 invalid and 0 failed of 4" in out
    assert "error: ftevals/keyword-guard x harmfulness: every sample was invalid or failed" in out
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pairs"][0]["invalid"] == 4 and manifest["pairs"][0]["status"] == "done"


def test_the_missing_judge_error_suggests_a_command_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FTEVALS_JUDGE", raising=False)
    argv = ["run", "--models", "ftevals/keyword-guard", "--evals", EVAL, "--max-samples", "2"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "`ftevals run ... --judge NAME [--judge-args k=v,...]`" in out
    with FakeOpenAIServer("1") as server:  # ... and the suggested command works
        assert (
            main(
                [
                    *argv,
                    "--out",
                    str(tmp_path / "r"),
                    "--no-progress",
                    "--judge",
                    "openai-compatible",
                    "--judge-args",
                    _judge_args(server),
                ]
            )
            == 0
        )


def test_plain_oaieval_extra_eval_params_judge(tmp_path: Path) -> None:
    """The documented plain-oaieval path: --extra_eval_params judge=NAME, args in the env."""
    oaieval = shutil.which("oaieval", path=str(Path(sys.executable).parent))
    assert oaieval
    root = Path(__file__).resolve().parents[2]
    with FakeOpenAIServer("2") as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-real"}
        env["FTEVALS_JUDGE_ARGS"] = _judge_args(server)
        env.pop("FTEVALS_JUDGE", None)
        cmd = [oaieval, "ftevals/keyword-guard", EVAL, "--registry_path", str(root / "registry")]
        cmd += ["--extra_eval_params", "judge=openai-compatible", "--max_samples", "3"]
        cmd += ["--record_path", str(tmp_path / "log.jsonl")]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len([r for r in server.requests if r.path.endswith("/chat/completions")]) == 3
    row = compare_logs(read_logs([tmp_path / "log.jsonl"])).rows[0]
    assert row.n == 3 and row.choice_counts == {"2": 3}
