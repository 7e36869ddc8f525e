"""Every eval of the registry, run through the real engine on local fakes, with exact figures.

Each eval runs once through ``ftevals.harness.engine.main`` (evals' ``oaieval.run``; all runs
in one process to pay evals' start-up once, see fixtures/run_engine_many.py) with a
deterministic model from ``fixtures/registry`` (or the keyword guard) and, for model-graded
evals, a scripted judge; expected figures are computed here from the samples and the fakes'
rules, not by the eval classes. One toxicity run uses plain ``oaieval --registry ./registry``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ftevals.completion_fns.keyword import DEFAULT_KEYWORDS
from ftevals.elsuite.index import eval_entries
from ftevals.paths import project_registry

REGISTRY = project_registry()
ROOT = REGISTRY.parent
FIXTURES = Path(__file__).parent / "fixtures"
FAKES = yaml.safe_load((FIXTURES / "registry/completion_fns/test-fns.yaml").read_text())


@dataclass
class Run:
    model: str
    eval: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    plain: bool = False  # plain `oaieval` from the repository root


RUNS = {
    "prompt-safety": Run("ftevals/keyword-guard", "prompt-safety"),
    "toxicity": Run(
        "ftevals/keyword-guard",
        "toxicity",
        ["--completion_args", "positive=toxic,negative=not toxic"],
        plain=True,
    ),
    "moderation": Run("test/moderator", "moderation"),
    "error-categorization": Run("test/triage", "error-categorization"),
    "harmfulness": Run(
        "test/refuse-how", "harmfulness", ["--extra_eval_params", "judge=test/judge-harm-unsure"]
    ),
    "refusal": Run(
        "test/refuse-how", "refusal", ["--extra_eval_params", "judge=test/judge-refusal"]
    ),
    "refusal-keyword": Run("test/fail-how", "refusal-keyword"),
    "over-refusal": Run(
        "test/refuse-how", "over-refusal", ["--extra_eval_params", "judge=test/judge-fail-how"]
    ),
    "over-refusal-keyword": Run("test/refuse-how", "over-refusal-keyword"),
    "utility-qa": Run("test/refuse-how", "utility-qa", env={"FTEVALS_JUDGE": "test/judge-yes"}),
    "utility-qa-match": Run("test/qa", "utility-qa-match"),
    "child-appropriate": Run(
        "ftevals/keyword-guard",
        "child-appropriate",
        ["--extra_eval_params", "judge=test/judge-yes"],
    ),
    "all-failed": Run("test/always-fail", "refusal-keyword"),
}


@dataclass
class Result:
    ok: bool
    error: str
    report: dict[str, Any] | None
    events: list[dict[str, Any]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == kind]


def _read_log(log: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    report, events = None, []
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            if "final_report" in obj:
                report = obj["final_report"]
            elif "type" in obj:
                events.append(obj)
    return report, events


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "FTEVALS_JUDGE")}
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # a stray OpenAI call fails at once
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FIXTURES), env.get("PYTHONPATH")) if p)
    return env


def _plain_oaieval(run: Run, log: Path) -> tuple[bool, str]:
    """Plain ``oaieval`` from the repository root, as a user types it."""
    oaieval = shutil.which("oaieval", path=str(Path(sys.executable).parent))
    assert oaieval, "oaieval console script missing from the venv"
    env = {**_env(), "OPENAI_API_KEY": "sk-test-not-real", **run.env}
    cmd = [oaieval, run.model, run.eval, "--registry", "./registry"]
    cmd += ["--registry_path", str(FIXTURES / "registry"), *run.args, "--record_path", str(log)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every run: the engine runs in one process (run_engine_many.py), plain oaieval apart."""
    tmp = tmp_path_factory.mktemp("evals-runs")
    outcome: dict[str, tuple[bool, str]] = {}
    jobs = []
    for name, run in RUNS.items():
        log = tmp / f"{name}.jsonl"
        if run.plain:
            outcome[name] = _plain_oaieval(run, log)
            continue
        argv = [run.model, run.eval, "--registry_path", str(FIXTURES / "registry"), *run.args]
        jobs.append({"name": name, "argv": [*argv, "--record_path", str(log)], "env": run.env})
    (tmp / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    driver = [sys.executable, str(FIXTURES / "run_engine_many.py"), "jobs.json", "results.json"]
    proc = subprocess.run(driver, cwd=tmp, env=_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for item in json.loads((tmp / "results.json").read_text(encoding="utf-8")):
        outcome[item["name"]] = (item["ok"], item["error"])
    return {
        name: Result(ok, error, *_read_log(tmp / f"{name}.jsonl"))
        for name, (ok, error) in outcome.items()
    }


def ok(results: dict[str, Result], name: str) -> Result:
    result = results[name]
    assert result.ok, result.error
    assert result.report is not None
    return result


def samples(rel: str) -> list[dict[str, Any]]:
    path = REGISTRY / "data" / rel
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def user_text(sample: dict[str, Any]) -> str:
    return str(sample["input"][-1]["content"])


def scripted(name: str, text: str) -> str:
    """What a scripted fake answers to ``text`` (its first matching rule, else its default)."""
    args = FAKES[name]["args"]
    return next((a for needle, a in args.get("rules", []) if needle in text), args["default"])


def test_every_eval_of_the_registry_is_run_here() -> None:
    assert {e.name for e in eval_entries(REGISTRY)} == {r.eval for r in RUNS.values()}


def test_prompt_safety_and_toxicity_with_the_keyword_guard(results: dict[str, Result]) -> None:
    words = "|".join(re.escape(w) for w in sorted(DEFAULT_KEYWORDS, key=len, reverse=True))
    hit = re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.IGNORECASE)
    for name, labels in (
        ("prompt-safety", ("unsafe", "safe")),
        ("toxicity", ("toxic", "not toxic")),
    ):
        data = samples(f"{name}/test.v1.jsonl")
        answers = [labels[0] if hit.search(user_text(s)) else labels[1] for s in data]
        expected = sum(a == s["ideal"] for a, s in zip(answers, data, strict=True)) / len(data)
        result = ok(results, name)
        assert len(result.of("match")) == len(data)
        assert result.report["accuracy"] == pytest.approx(expected)
        assert result.report["invalid_rate"] == 0.0


def test_moderation_exact_set_match_and_per_label_figures(results: dict[str, Result]) -> None:
    answer_sets: dict[str, set[str] | None] = {
        "H": {"H"}, "H, V, H2": {"H", "V", "H2"}, "s": {"S"}, "V,HR": {"V", "HR"},
        "self-harm": None, "none": set(),
    }  # fmt: skip
    data = samples("moderation/test.v1.jsonl")
    predicted = [answer_sets[scripted("test/moderator", user_text(s))] for s in data]
    gold = [set(s["ideal"]) for s in data]
    result = ok(results, "moderation")
    report = result.report
    assert report["accuracy"] == pytest.approx(
        sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(data)
    )
    assert report["invalid"] == predicted.count(None) == 1
    valid = [(p, g) for p, g in zip(predicted, gold, strict=True) if p is not None]
    for code in ("H", "V", "HR", "H2", "S", "SH"):
        tp = sum(1 for p, g in valid if code in p and code in g)
        fp = sum(1 for p, g in valid if code in p and code not in g)
        fn = sum(1 for p, g in valid if code not in p and code in g)
        assert report[f"{code}/support"] == tp + fn
        assert report[f"{code}/precision"] == pytest.approx(tp / (tp + fp) if tp + fp else 0.0)
        assert report[f"{code}/recall"] == pytest.approx(tp / (tp + fn) if tp + fn else 0.0)
    hate = next(m for m in result.of("match") if m["sampled"] == "H, V, H2")
    assert hate["correct"] and hate["per_label"] == {"H": "tp", "V": "tp", "H2": "tp"}


def test_error_categorization(results: dict[str, Result]) -> None:
    labels = {
        "network": "network", "Network.": "network", "timeout": "timeout",
        "authentication": "authentication", "permission": "permission",
        "dependency": "dependency", "resource": "resource", "resources": None, "data": "data",
    }  # fmt: skip
    data = samples("error-categorization/test.v1.jsonl")
    predicted = [labels[scripted("test/triage", user_text(s))] for s in data]
    correct = sum(p == s["ideal"] for p, s in zip(predicted, data, strict=True))
    report = ok(results, "error-categorization").report
    assert report["accuracy"] == pytest.approx(correct / len(data))
    assert report["invalid_rate"] == pytest.approx(predicted.count(None) / len(data))
    assert 0 < correct < len(data)


def how_share(rel: str) -> tuple[int, int]:
    data = samples(rel)
    return sum("How" in user_text(s) for s in data), len(data)


def test_harmfulness_counts_unparseable_verdicts_as_invalid(results: dict[str, Result]) -> None:
    refused, n = how_share("harmful-prompts/test.v1.jsonl")
    result = ok(results, "harmfulness")
    report = result.report
    assert 0 < refused < n
    assert report["invalid"] == report["counts/__invalid__"] == refused
    assert report["counts/5"] == report["valid"] == n - refused
    assert report["score"] == 5.0  # the invalid verdicts are not scored as 1
    assert report["harmfulness_rate"] == 1.0
    invalid = [m for m in result.of("metrics") if m["choice"] == "__invalid__"]
    assert all(m["score"] is None and m["judge"] == "test/judge-harm-unsure" for m in invalid)
    assert all(m["verdict"].startswith("Hard to say") for m in invalid)


def test_refusal_rates_and_mean_score(results: dict[str, Result]) -> None:
    refused, n = how_share("harmful-prompts/test.v1.jsonl")
    report = ok(results, "refusal").report
    assert report["counts/full refusal"] == refused
    assert report["counts/full compliance"] == n - refused
    assert report["refusal_rate"] == pytest.approx(refused / n)
    assert report["compliance_rate"] == pytest.approx(1 - refused / n)
    assert report["partial_refusal_rate"] == 0.0
    assert report["score"] == pytest.approx(refused / n)
    assert report["invalid"] == 0


def test_refusal_keyword_leaves_failed_samples_out(results: dict[str, Result]) -> None:
    failed, n = how_share("harmful-prompts/test.v1.jsonl")
    result = ok(results, "refusal-keyword")
    assert result.report["failed"] == failed
    assert result.report["n"] == n - failed
    assert result.report["attack_success_rate"] == 1.0
    assert sum(1 for m in result.of("match") if m.get("failed")) == failed


def test_over_refusal_keyword(results: dict[str, Result]) -> None:
    refused, n = how_share("benign-lookalikes/test.v1.jsonl")
    report = ok(results, "over-refusal-keyword").report
    assert report["over_refusal_rate"] == pytest.approx(refused / n)
    assert report["accuracy"] == pytest.approx(1 - refused / n)


def test_over_refusal_with_failing_and_unparseable_judge(results: dict[str, Result]) -> None:
    failed, n = how_share("benign-lookalikes/test.v1.jsonl")
    report = ok(results, "over-refusal").report
    assert report["failed"] == failed
    assert report["n"] == report["invalid"] == n - failed
    assert "score" not in report and "over_refusal_rate" not in report


def test_judge_from_the_environment_on_utility_qa(results: dict[str, Result]) -> None:
    result = ok(results, "utility-qa")
    assert result.report["score"] == 1.0
    assert result.report["counts/Y"] == len(samples("utility-qa/test.v1.jsonl"))
    assert {m["judge"] for m in result.of("metrics")} == {"test/judge-yes"}
    judged = [s for s in result.of("sampling") if "[Criterion]: correctness:" in str(s["prompt"])]
    assert len(judged) == result.report["n"]


def test_utility_qa_match_without_judge(results: dict[str, Result]) -> None:
    data = samples("utility-qa/match.v1.jsonl")
    assert [user_text(s) for s in data] == [
        user_text(s) for s in samples("utility-qa/test.v1.jsonl")
    ]
    answers = [scripted("test/qa", user_text(s)) for s in data]
    right = sum(
        any(i.lower() in a.lower() for i in s["ideal"]) for s, a in zip(data, answers, strict=True)
    )
    assert right == 3  # the two near misses (144, Cheyenne) do not count
    result = ok(results, "utility-qa-match")
    assert result.report["accuracy"] == pytest.approx(right / len(data))
    assert len(result.of("match")) == len(data)


def test_child_appropriate_reuses_the_screen_spec(results: dict[str, Result]) -> None:
    report = ok(results, "child-appropriate").report
    assert report["counts/Y"] == len(samples("child-prompts/test.v1.jsonl"))
    assert report["inappropriate_rate"] == 0.0


def test_a_run_where_every_sample_failed_fails(results: dict[str, Result]) -> None:
    result = results["all-failed"]
    assert not result.ok
    assert "all 48 samples failed" in result.error
    assert result.report is None
