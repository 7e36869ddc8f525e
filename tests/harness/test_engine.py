"""The real `oaieval` engine end to end on a local model, plain and through ftevals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log
from ftevals.paths import project_registry

ROOT = project_registry().parent
BIN = Path(sys.executable).parent


def offline_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    # a closed local port: any stray OpenAI call fails at once instead of leaving the machine
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    env.update(extra)
    return env


def test_plain_oaieval_runs_a_registry_fn_on_our_eval(tmp_path: Path) -> None:
    oaieval = shutil.which("oaieval", path=str(BIN))
    assert oaieval, "oaieval console script missing from the venv"
    log = tmp_path / "plain.jsonl"
    result = subprocess.run(
        [oaieval, "ftevals/keyword-guard", "prompt-safety", "--registry_path", "./registry"]
        + ["--max_samples", "20", "--record_path", str(log)],
        cwd=ROOT,
        env=offline_env(OPENAI_API_KEY="sk-test-not-real"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = read_log(log)
    assert parsed.eval_name == "prompt-safety.test.v1"
    assert parsed.final_report is not None
    matches = [e for e in parsed.events if e.type == "match"]
    assert len(matches) == 20
    accuracy = sum(e.data["correct"] for e in matches) / 20
    assert parsed.final_report["accuracy"] == accuracy
    assert "sk-test-not-real" not in log.read_text(encoding="utf-8")


def test_ftevals_engine_needs_no_key_and_matches_plain_logs(tmp_path: Path) -> None:
    log = tmp_path / "engine.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "ftevals.harness.engine", "ftevals/keyword-guard", "prompt-safety"]
        + ["--max_samples", "20", "--record_path", str(log)],
        cwd=tmp_path,  # any working directory: the project registry is always searched
        env=offline_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Could not fetch API model IDs" not in result.stderr
    parsed = read_log(log)
    spec_line = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert spec_line["spec"]["completion_fns"] == ["ftevals/keyword-guard"]
    report = compare_logs([parsed]).rows[0]
    assert report.n == 20
    assert report.invalid == 0


def test_plain_oaieval_without_key_fails_as_documented(tmp_path: Path) -> None:
    oaieval = shutil.which("oaieval", path=str(BIN))
    assert oaieval
    result = subprocess.run(
        [oaieval, "--help"], env=offline_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "OPENAI_API_KEY" in result.stderr
