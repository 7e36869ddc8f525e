"""`ftevals run`: pairs through the real engine, manifest, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftevals.cli import main
from ftevals.errors import FtevalsError
from ftevals.harness.run import expand_eval_sets, final_report, run_matrix


def test_run_matrix_writes_logs_and_manifest_then_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_matrix(["ftevals/keyword-guard"], ["prompt-safety"], out, max_samples=10)
    pair = first.pairs[0]
    assert pair.status == "done", pair.error
    log = out / pair.log
    report = final_report(log)
    assert report is not None and 0.0 <= report["accuracy"] <= 1.0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["models"] == ["ftevals/keyword-guard"]
    assert manifest["evals_version"]
    assert manifest["finished_at"]
    before = log.read_bytes()

    assert (pair.samples, pair.cache_hits, pair.cache_stored) == (10, 0, 10)
    assert manifest["attempts"] == 1

    second = run_matrix(["ftevals/keyword-guard"], ["prompt-safety"], out, max_samples=10)
    assert second.pairs[0].status == "skipped"
    assert second.pairs[0].final_report == report
    assert (second.pairs[0].samples, second.pairs[0].cache_stored) == (10, 10)  # carried over
    assert second.started_at == first.started_at and second.attempts == 2
    assert log.read_bytes() == before

    # more samples: the log is redone, the 10 answered samples come from the cache
    third = run_matrix(["ftevals/keyword-guard"], ["prompt-safety"], out, max_samples=12)
    assert third.pairs[0].status == "done"
    assert (third.pairs[0].samples, third.pairs[0].cache_hits, third.pairs[0].cache_stored) == (
        12,
        10,
        2,
    )
    matches = [line for line in log.read_text().splitlines() if '"type": "match"' in line]
    assert len(matches) == 12


def test_clashing_log_names_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="same log file"):
        run_matrix(["openai/a/b", "openai/a_b"], ["prompt-safety"], tmp_path)


def test_failed_pair_is_recorded_and_cli_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    # a known name whose pair fails: an OpenAI model with no OPENAI_API_KEY
    code = main(["run", "--models", "openai/x", "--evals", "prompt-safety", "--out", str(out)])
    assert code == 1
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pairs"][0]["status"] == "failed"
    assert "OPENAI_API_KEY" in manifest["pairs"][0]["error"]
    assert not (out / manifest["pairs"][0]["log"]).exists()
    assert "failed" in capsys.readouterr().out


def test_run_needs_models_and_evals(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError):
        run_matrix([], ["prompt-safety"], tmp_path)


def test_unknown_eval_set_is_an_error() -> None:
    with pytest.raises(FtevalsError, match="no-such-set"):
        expand_eval_sets(["no-such-set"], [])


def test_cli_compare_writes_reports_and_rebuilds_without_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "r1"
    run_matrix(["ftevals/keyword-guard"], ["prompt-safety"], out, max_samples=12)
    capsys.readouterr()
    outputs = ["--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "csv")]
    code = main(["compare", str(out), *outputs, "--html", str(tmp_path / "r.html")])
    assert code == 0
    table = capsys.readouterr().out
    assert "ftevals/keyword-guard" in table and "precision" in table
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["rows"][0]["n"] == 12
    assert (tmp_path / "csv" / "summary.csv").is_file()
    assert (tmp_path / "csv" / "per_class.csv").is_file()
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 2

    assert main(["runs", str(tmp_path / "runs")]) == 0
    listing = capsys.readouterr().out
    assert str(out) in listing and "done 1" in listing and "1 finished logs" in listing

    (out / "manifest.json").unlink()  # the report is rebuilt from the logs alone
    assert main(["compare", str(out), "--json", str(tmp_path / "again.json")]) == 0
    assert capsys.readouterr().out.startswith(table.split("\n")[0])
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again == data


def test_changed_completion_args_rerun_the_pair(tmp_path: Path) -> None:
    out = tmp_path / "run"
    models, evals = ["ftevals/keyword-guard"], ["prompt-safety"]
    assert run_matrix(models, evals, out, max_samples=4).pairs[0].status == "done"
    args = "positive=unsafe,negative=safe"
    again = run_matrix(models, evals, out, max_samples=4, completion_args=args)
    assert again.pairs[0].status == "done"  # not skipped: the function's arguments changed
    same = run_matrix(models, evals, out, max_samples=4, completion_args=args)
    assert same.pairs[0].status == "skipped"
