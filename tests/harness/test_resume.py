"""Resuming inside an interrupted pair: a process killed with SIGKILL mid-run loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import average_precision_score

from ftevals.cli import main
from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log
from ftevals.harness.run import run_matrix
from ftevals.paths import project_registry

TEST_REGISTRY = Path(__file__).parent / "fixtures" / "registry"
MODEL = "harness-test/counting"
SAMPLES = 20
KILL_AFTER = 5
SAMPLES_FILE = project_registry() / "data" / "prompt-safety" / "test.v1.jsonl"


def _calls(counter: Path) -> list[str]:
    return [json.loads(line)["sample_id"] for line in counter.read_text().splitlines()]


def _cache_ids(path: Path) -> list[str]:
    return [json.loads(line)["sample_id"] for line in path.read_text().splitlines()]


def test_killed_pair_resumes_without_repeating_answered_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TEST_REGISTRY))
    monkeypatch.setenv("EVALS_SEQUENTIAL", "1")  # one sample at a time: exact counts below
    counter, marker, out = tmp_path / "calls.jsonl", tmp_path / "killed", tmp_path / "run"
    args = f"counter={counter},kill_after={KILL_AFTER},marker={marker}"
    run = ["run", "--models", MODEL, "--evals", "prompt-safety", "--out", str(out)]
    run += ["--registry", str(TEST_REGISTRY), "--max-samples", str(SAMPLES)]
    run += ["--completion-args", args, "--no-progress"]

    assert main(run) == 1  # the engine process killed itself
    assert marker.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    pair = manifest["pairs"][0]
    assert pair["status"] == "failed" and "exit -9" in pair["error"]
    assert not (out / pair["log"]).exists()
    first_calls = _calls(counter)
    cache = out / "cache" / f"{Path(pair['log']).stem}.cache"
    cached = _cache_ids(cache)
    assert len(first_calls) == KILL_AFTER + 1  # 5 answered, the 6th killed the process
    assert cached == first_calls[:KILL_AFTER]
    assert "re-run the same command to resume" in capsys.readouterr().out

    assert main(run) == 0
    second_calls = _calls(counter)[len(first_calls) :]
    log = read_log(out / pair["log"])
    matches = log.events_of("match")
    sample_ids = [event.sample_id for event in matches]
    assert len(matches) == SAMPLES and len(set(sample_ids)) == SAMPLES  # one result each
    assert not set(second_calls) & set(cached)  # no repeated call for a cached sample
    assert sorted(second_calls) == sorted(set(sample_ids) - set(cached))
    assert len(second_calls) == len(set(second_calls)) == SAMPLES - KILL_AFTER
    sampling = log.events_of("sampling")
    assert len(sampling) == SAMPLES  # the log is complete: cached answers are re-recorded
    assert sorted(e.sample_id for e in sampling if e.data.get("cached")) == sorted(cached)
    assert all("probs" in event.data for event in sampling)
    manifest = json.loads((out / "manifest.json").read_text())
    pair = manifest["pairs"][0]
    assert (pair["status"], pair["cache_hits"], pair["cache_stored"]) == ("done", 5, 15)
    assert pair["samples"] == SAMPLES and manifest["attempts"] == 2
    assert len(_cache_ids(cache)) == SAMPLES

    # the resumed log scores like any other: AUPRC from the (partly re-recorded) probabilities
    samples = [json.loads(line) for line in SAMPLES_FILE.read_text().splitlines()]
    p_unsafe = {e.sample_id: e.data["probs"]["unsafe"] for e in sampling}
    ids = [e.sample_id or "" for e in matches]
    truth = [samples[int(sid.rsplit(".", 1)[1])]["ideal"] == "unsafe" for sid in ids]
    row = compare_logs([log]).rows[0]
    assert row.n == SAMPLES and row.positive_label == "unsafe"
    assert row.auprc == pytest.approx(average_precision_score(truth, [p_unsafe[s] for s in ids]))
    assert row.cost_per_1k == pytest.approx(0.2)  # 0.0002 USD a call

    # a third run skips the finished pair: no call at all
    third = run_matrix([MODEL], ["prompt-safety"], out, [str(TEST_REGISTRY)], 1, SAMPLES, args)
    assert third.pairs[0].status == "skipped" and third.pairs[0].cache_stored == 15
    assert len(_calls(counter)) == len(first_calls) + len(second_calls)
