"""The real `oaieval` engine end to end on a local model, plain and through ftevals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, classification_report, matthews_corrcoef

from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log
from ftevals.paths import project_registry

ROOT = project_registry().parent
BIN = Path(sys.executable).parent
SAMPLES = ROOT / "registry" / "data" / "prompt-safety" / "test.v1.jsonl"


def offline_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    # a closed local port: any stray OpenAI call fails at once instead of leaving the machine
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    env.update(extra)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def plain_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log written by plain `oaieval` (20 samples of prompt-safety, keyword guard)."""
    oaieval = shutil.which("oaieval", path=str(BIN))
    assert oaieval, "oaieval console script missing from the venv"
    log = tmp_path_factory.mktemp("plain") / "plain.jsonl"
    cmd = [oaieval, "ftevals/keyword-guard", "prompt-safety", "--registry_path", "./registry"]
    result = _run(
        cmd + ["--max_samples", "20", "--record_path", str(log)],
        ROOT,
        offline_env(OPENAI_API_KEY="sk-test-not-real"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return log


@pytest.fixture(scope="module")
def engine_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A log written by `python -m ftevals.harness.engine` from another directory, no key."""
    log = tmp_path_factory.mktemp("engine") / "engine.jsonl"
    cmd = [sys.executable, "-m", "ftevals.harness.engine", "ftevals/keyword-guard", "prompt-safety"]
    result = _run(
        cmd + ["--max_samples", "20", "--record_path", str(log)], log.parent, offline_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return log, result.stderr


def test_plain_oaieval_runs_a_registry_fn_on_our_eval(plain_log: Path) -> None:
    parsed = read_log(plain_log)
    assert parsed.eval_name == "prompt-safety.test.v1"
    assert parsed.final_report is not None
    matches = [e for e in parsed.events if e.type == "match"]
    assert len(matches) == 20
    accuracy = sum(e.data["correct"] for e in matches) / 20
    assert parsed.final_report["accuracy"] == accuracy
    assert "sk-test-not-real" not in plain_log.read_text(encoding="utf-8")


def test_ftevals_engine_needs_no_key_and_matches_plain_logs(engine_log: tuple[Path, str]) -> None:
    log, stderr = engine_log
    assert "Could not fetch API model IDs" not in stderr
    parsed = read_log(log)
    spec_line = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert spec_line["spec"]["completion_fns"] == ["ftevals/keyword-guard"]
    report = compare_logs([parsed]).rows[0]
    assert report.n == 20
    assert report.invalid == 0


def _independent_figures(log: Path) -> tuple[list[str], list[str]]:
    """(y_true, y_pred) from the raw log lines and the samples file, without ftevals' reader."""
    samples = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()]
    y_true, y_pred = [], []
    for line in log.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj.get("type") == "match":
            index = int(obj["sample_id"].rsplit(".", 1)[1])
            y_true.append(samples[index]["ideal"])
            label = obj["data"]["label"]
            y_pred.append(label if label in ("safe", "unsafe") else "__invalid__")
    return y_true, y_pred


def test_figures_of_real_logs_match_sklearn(plain_log: Path, engine_log: tuple[Path, str]) -> None:
    comparison = compare_logs([read_log(plain_log), read_log(engine_log[0])])
    for row, log in zip(comparison.rows, [plain_log, engine_log[0]], strict=True):
        y_true, y_pred = _independent_figures(log)
        want = classification_report(
            y_true, y_pred, labels=["safe", "unsafe"], output_dict=True, zero_division=0
        )
        assert row.n == len(y_true) == 20 and row.labels == ["safe", "unsafe"]
        assert row.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
        assert row.mcc == pytest.approx(matthews_corrcoef(y_true, y_pred))
        assert row.macro is not None and row.macro.f1 == pytest.approx(
            want["macro avg"]["f1-score"]
        )
        for label in ("safe", "unsafe"):
            assert row.per_class[label].f1 == pytest.approx(want[label]["f1-score"])
            assert row.per_class[label].support == want[label]["support"]
        assert row.failed == 0 and row.auprc is None  # the keyword guard records no probs
    # the same deterministic function on the same 20 samples: no flip, McNemar p = 1
    [pair] = comparison.paired
    assert (pair.n, pair.a_only, pair.b_only, pair.flips, pair.mcnemar_p) == (20, 0, 0, [], 1.0)


def test_plain_oaieval_without_key_fails_as_documented(tmp_path: Path) -> None:
    oaieval = shutil.which("oaieval", path=str(BIN))
    assert oaieval
    result = subprocess.run(
        [oaieval, "--help"], env=offline_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "OPENAI_API_KEY" in result.stderr
