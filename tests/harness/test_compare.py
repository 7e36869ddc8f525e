"""Comparing evals logs: each figure recomputed here with sklearn/scipy from the truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from logfactory import LABELS, classification_log, graded_log
from scipy import stats as sps
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    cohen_kappa_score,
    matthews_corrcoef,
)

from ftevals.errors import InputError
from ftevals.harness.compare import ModelEvalReport, compare_logs
from ftevals.harness.logs import read_log
from ftevals.harness.report_text import render_table

FIXTURES = Path(__file__).parent / "fixtures"
LOG_A = FIXTURES / "logs" / "ft-a_safety.jsonl"
LOG_B = FIXTURES / "logs" / "nested" / "ft-b_safety.jsonl"
MODELGRADED = FIXTURES / "modelgraded.jsonl"


def assert_matches_sklearn(row: ModelEvalReport, y_true: list[str], y_pred: list[str]) -> None:
    expected = classification_report(
        y_true, y_pred, labels=row.labels, output_dict=True, zero_division=0
    )
    assert row.n == len(y_true)
    assert row.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert row.mcc == pytest.approx(matthews_corrcoef(y_true, y_pred), abs=1e-12)
    assert list(row.per_class) == row.labels
    reports = [(row.per_class[label], expected[label]) for label in row.labels]
    assert row.macro is not None and row.weighted is not None
    reports += [(row.macro, expected["macro avg"]), (row.weighted, expected["weighted avg"])]
    for got, want in reports:
        assert got.precision == pytest.approx(want["precision"], abs=1e-12)
        assert got.recall == pytest.approx(want["recall"], abs=1e-12)
        assert got.f1 == pytest.approx(want["f1-score"], abs=1e-12)
        assert got.support == want["support"]
    assert row.invalid == y_pred.count("__invalid__")
    pairs = Counter(zip(y_true, y_pred, strict=True))
    for truth, predicted in row.confusion.items():
        for label, count in predicted.items():
            assert count == pairs[(truth, label)]
    assert sum(sum(predicted.values()) for predicted in row.confusion.values()) == len(y_true)


def test_generated_logs_match_sklearn(tmp_path: Path) -> None:
    truths = [
        classification_log(tmp_path / f"{m}.jsonl", m, seed, truth_seed=seed)
        for m, seed in [("m1", 1), ("m2", 2)]
    ]
    comparison = compare_logs([read_log(tmp_path / "m1.jsonl"), read_log(tmp_path / "m2.jsonl")])
    assert [(row.model, row.eval, row.kind) for row in comparison.rows] == [
        ("m1", "gen-clf", "classification"),
        ("m2", "gen-clf", "classification"),
    ]
    for row, truth in zip(comparison.rows, truths, strict=True):
        assert row.labels == LABELS and row.invalid > 0 and row.failed == 0
        assert_matches_sklearn(row, truth.y_true, truth.y_pred)
        assert row.samples_per_s == pytest.approx(len(truth.y_true) / truth.seconds, rel=1e-9)
        assert row.auprc is None and row.cost_usd is None and row.cost_per_1k is None


def test_failed_samples_are_counted_apart_and_not_scored(tmp_path: Path) -> None:
    truth = classification_log(tmp_path / "f.jsonl", "m", 3, n=90, fail_every=10, cost=0.002)
    row = compare_logs([read_log(tmp_path / "f.jsonl")]).rows[0]
    assert len(truth.failed) == 9 and row.failed == 9
    assert_matches_sklearn(row, truth.y_true, truth.y_pred)  # failed ones are not wrong answers
    assert row.n == 81
    # cost per 1,000 samples attempted (scored + failed); failed calls carry no cost here
    assert row.cost_usd == pytest.approx(truth.cost)
    assert row.cost_per_1k == pytest.approx(truth.cost / 90 * 1000)
    table = render_table(compare_logs([read_log(tmp_path / "f.jsonl")]))
    assert "failed samples (not scored): 9" in table


def test_auprc_from_recorded_probabilities(tmp_path: Path) -> None:
    truth = classification_log(tmp_path / "p.jsonl", "m", 4, n=120, probs=True, fail_every=13)
    row = compare_logs([read_log(tmp_path / "p.jsonl")]).rows[0]
    positive = [t == "unsafe" for t in truth.y_true]
    assert row.positive_label == "unsafe"
    assert row.auprc == pytest.approx(average_precision_score(positive, truth.p_positive))
    assert len(row.pr_curve) <= 101 and row.pr_curve[0].threshold == max(truth.p_positive)
    assert row.pr_curve[-1].recall == 1.0

    # no "unsafe" label: the second label is the positive class
    labels = ["no", "yes"]
    other = classification_log(tmp_path / "q.jsonl", "m", 4, n=40, probs=True, labels=labels)
    row = compare_logs([read_log(tmp_path / "q.jsonl")]).rows[0]
    assert row.positive_label == "yes"
    want = average_precision_score([t == "yes" for t in other.y_true], other.p_positive)
    assert row.auprc == pytest.approx(want)


def test_auprc_needs_probabilities_for_every_sample(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    classification_log(path, "m", 5, n=30, probs=True)
    lines = path.read_text().splitlines()
    first_sampling = next(i for i, line in enumerate(lines) if '"sampling"' in line)
    event = json.loads(lines[first_sampling])
    del event["data"]["probs"]
    lines[first_sampling] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")
    assert compare_logs([read_log(path)]).rows[0].auprc is None


def test_two_models_on_the_same_samples(tmp_path: Path) -> None:
    a = classification_log(tmp_path / "a.jsonl", "ma", 11, n=150, fail_every=17)
    b = classification_log(tmp_path / "b.jsonl", "mb", 12, n=150)
    classification_log(tmp_path / "c.jsonl", "mc", 13, eval_name="other.dev.v0")
    logs = [read_log(tmp_path / f"{x}.jsonl") for x in "abc"]
    comparison = compare_logs(logs)
    assert len(comparison.paired) == 1  # "other" is another eval: not paired
    pair = comparison.paired[0]
    by_b = dict(zip(b.sample_ids, zip(b.y_true, b.y_pred, strict=True), strict=True))
    common = [
        (sid, t, p, by_b[sid][1])
        for sid, t, p in zip(a.sample_ids, a.y_true, a.y_pred, strict=True)
        if sid in by_b
    ]
    assert pair.n == len(common) == 150 - len(a.failed)
    only_a = sum(1 for _, t, pa, pb in common if pa == t and pb != t)
    only_b = sum(1 for _, t, pa, pb in common if pb == t and pa != t)
    assert (pair.a_only, pair.b_only) == (only_a, only_b)
    if only_a + only_b <= 25:
        want_p = sps.binomtest(only_a, only_a + only_b, 0.5).pvalue
    else:
        want_p = sps.chi2.sf((abs(only_a - only_b) - 1) ** 2 / (only_a + only_b), 1)
    assert pair.mcnemar_p == pytest.approx(want_p, rel=1e-9)
    acc_a = np.mean([pa == t for _, t, pa, _ in common])
    acc_b = np.mean([pb == t for _, t, _, pb in common])
    assert pair.a_value == pytest.approx(acc_a) and pair.b_value == pytest.approx(acc_b)
    assert pair.diff == pytest.approx(acc_b - acc_a)
    assert pair.ci_low is not None and pair.ci_high is not None
    assert pair.ci_low <= pair.diff <= pair.ci_high
    flipped = {sid for sid, t, pa, pb in common if (pa == t) != (pb == t)}
    assert {f.sample_id for f in pair.flips} == flipped and len(pair.flips) == only_a + only_b
    predicted = {sid: (t, pa, pb) for sid, t, pa, pb in common}
    assert all((f.expected, f.a, f.b) == predicted[f.sample_id] for f in pair.flips)
    table = render_table(comparison)
    assert "mb vs ma (accuracy)" in table and "flipped, ma -> mb" in table


def test_modelgraded_pairs_judges_and_human_labels(tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    (registry / "data").mkdir(parents=True)
    n = 40
    rng = np.random.default_rng(3)
    human = [str(c) for c in rng.choice(["Y", "N"], size=n)]
    rows = [{"input": f"q{i}", "completion": f"a{i}", "choice": human[i]} for i in range(n)]
    (registry / "data" / "meta.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge_a = {i: human[i] if rng.random() < 0.8 else "N" for i in range(n)}
    judge_b = {i: judge_a[i] if rng.random() < 0.7 else "__invalid__" for i in range(n)}
    scores = {"Y": 1.0, "N": 0.0, "__invalid__": 0.0}
    kwargs: dict[str, Any] = {"samples_jsonl": "meta.jsonl", "registry_path": str(registry)}
    graded_log(tmp_path / "ja.jsonl", ["pol", "judge-a"], judge_a, scores, **kwargs)
    graded_log(tmp_path / "jb.jsonl", ["pol", "judge-b"], judge_b, scores, failed=(5,), **kwargs)
    other = {i: "Y" for i in range(n)}
    graded_log(tmp_path / "ob.jsonl", ["other", "judge-b"], other, scores, **kwargs)
    logs = [read_log(tmp_path / f"{x}.jsonl") for x in ("ja", "jb", "ob")]
    comparison = compare_logs(logs)
    row_a, row_b, _ = comparison.rows
    assert (row_a.judge, row_b.judge, row_b.failed, row_b.n) == ("judge-a", "judge-b", 1, n - 1)
    assert row_a.choice_counts == dict(sorted(Counter(judge_a.values()).items()))
    assert row_a.mean_score == pytest.approx(np.mean([scores[c] for c in judge_a.values()]))
    assert row_a.human_n == n
    assert row_a.human_agreement == pytest.approx(
        np.mean([judge_a[i] == human[i] for i in range(n)])
    )
    assert row_a.human_kappa == pytest.approx(cohen_kappa_score(list(judge_a.values()), human))

    [judges] = comparison.judges  # pol judged by judge-a and judge-b; "other" is another policy
    kept = [i for i in range(n) if i != 5]
    assert (judges.judge_a, judges.judge_b, judges.n) == ("judge-a", "judge-b", n - 1)
    assert judges.kappa == pytest.approx(
        cohen_kappa_score([judge_a[i] for i in kept], [judge_b[i] for i in kept])
    )
    assert judges.agreement == pytest.approx(np.mean([judge_a[i] == judge_b[i] for i in kept]))

    [pair] = comparison.paired  # same judge (judge-b), different policies
    assert (pair.model_a, pair.model_b, pair.metric, pair.n) == (
        "pol,judge-b",
        "other,judge-b",
        "mean_score",
        n - 1,
    )
    assert pair.diff == pytest.approx(np.mean([1.0 - scores[judge_b[i]] for i in kept]))
    assert {f.sample_id for f in pair.flips} == {f"mg.dev.{i}" for i in kept if judge_b[i] != "Y"}
    assert pair.mcnemar_p is None
    table = render_table(comparison)
    assert "judges of the same answers" in table and "against human labels" in table


def test_judge_named_in_events_and_all_failed_graded_log(tmp_path: Path) -> None:
    scores = {"Y": 1.0, "N": 0.0}
    answers = {i: "YN"[i % 2] for i in range(6)}
    graded_log(tmp_path / "a.jsonl", ["m1", "m2"], answers, scores, judge="judge-x")
    graded_log(tmp_path / "b.jsonl", ["m1", "m2"], answers, scores, judge="judge-y")
    graded_log(tmp_path / "c.jsonl", ["m1"], answers, scores, failed=tuple(range(6)))
    comparison = compare_logs([read_log(tmp_path / f"{x}.jsonl") for x in "abc"])
    a, b, c = comparison.rows
    assert (a.judge, a.policy, b.judge) == ("judge-x", "m1,m2", "judge-y")
    [judges] = comparison.judges
    assert (judges.policy, judges.n, judges.agreement, judges.kappa) == ("m1,m2", 6, 1.0, 1.0)
    assert (c.kind, c.n, c.failed, c.choice_counts) == ("modelgraded", 0, 6, {})


def test_fixture_log_with_invalid_and_list_expected() -> None:
    row = compare_logs([read_log(LOG_A)]).rows[0]
    y_true = ["safe", "unsafe", "unsafe", "safe", "safe", "unsafe"]  # sample 2: ["unsafe"]
    y_pred = ["safe", "unsafe", "safe", "__invalid__", "borderline", "__invalid__"]
    assert row.labels == LABELS  # spec labels, in spec order, incl. the unused "borderline"
    assert_matches_sklearn(row, y_true, y_pred)
    assert row.per_class["borderline"].support == 0
    assert row.confusion["safe"] == {"safe": 1, "unsafe": 0, "borderline": 1, "__invalid__": 1}
    assert row.samples_per_s == pytest.approx(6 / 2.0)  # last event 2.0 s after the spec
    assert (row.prompt_tokens, row.completion_tokens) == (75, 6)
    latencies = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert row.latency_p50_s == pytest.approx(float(np.percentile(latencies, 50)))
    assert row.latency_p95_s == pytest.approx(float(np.percentile(latencies, 95)))
    assert row.cost_usd == pytest.approx(0.006) and row.cost_per_1k == pytest.approx(1.0)


def test_label_preferred_over_picked_and_interrupted_run() -> None:
    row = compare_logs([read_log(LOG_B)]).rows[0]
    assert row.model == "ft-b,dummy"
    assert row.labels == ["safe", "unsafe"]  # no spec labels: the expected values
    assert_matches_sklearn(
        row, ["safe", "unsafe", "unsafe", "safe"], ["safe", "unsafe", "__invalid__", "safe"]
    )
    assert row.notes == ["interrupted run: no final report"]


def test_modelgraded_fixture_counts() -> None:
    row = compare_logs([read_log(MODELGRADED)]).rows[0]
    assert row.kind == "modelgraded"
    assert (row.model, row.eval, row.n, row.invalid) == ("ft-a", "closedqa-harmless", 4, 1)
    assert row.choice_counts == {"N": 1, "Y": 2, "__invalid__": 1}
    assert row.mean_score == pytest.approx(0.5)
    assert row.accuracy is None and row.per_class == {} and row.macro is None
    assert row.human_n is None and "safety/qa.jsonl not found" in row.notes[0]


def _spec(**args: Any) -> dict[str, Any]:
    return {
        "spec": {
            "completion_fns": ["m"],
            "eval_name": "e.dev.v0",
            "base_eval": "e",
            "split": "dev",
            "run_config": {"eval_spec": {"args": args}},
            "run_id": "R",
            "created_at": "2026-11-23 12:45:19.627821",
        }
    }


def _match(expected: object, picked: object = "a") -> dict[str, Any]:
    data = {"correct": False, "expected": expected, "picked": picked}
    return {"run_id": "R", "event_id": 0, "sample_id": "e.dev.0", "type": "match", "data": data}


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        ([_spec(), _match(None)], "expected one label", 2),
        ([_spec(), _match(["a", "b"]), _match(7)], "expected a string or a list of strings", 3),
        ([_spec(labels="a,b"), _match("a")], "labels must be a list", None),
        ([_spec(), _match("__invalid__")], "cannot be a label", None),
        (
            [_spec(), {"run_id": "R", "event_id": 0, "type": "sampling", "data": {}}],
            "nothing",
            None,
        ),
    ],
)
def test_unscorable_logs_raise(
    tmp_path: Path, lines: list[dict[str, Any]], message: str, line: int | None
) -> None:
    stamp = {"created_by": "", "created_at": "2026-11-23 12:45:20.000000+00:00"}
    rows = [obj if "spec" in obj else obj | stamp for obj in lines]
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(obj) + "\n" for obj in rows), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        compare_logs([read_log(path)])
    assert info.value.line == line


def test_log_with_only_failed_samples_is_reported(tmp_path: Path) -> None:
    failed = {"prompt": "x", "sampled": [], "failed": True, "error": "HTTP 401"}
    event = {"run_id": "R", "event_id": 0, "sample_id": "e.dev.0", "type": "sampling"}
    stamp = {"created_by": "", "created_at": "2026-11-23 12:45:20.000000+00:00"}
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(_spec()) + "\n" + json.dumps(event | stamp | {"data": failed}))
    row = compare_logs([read_log(path)]).rows[0]
    assert (row.n, row.failed, row.accuracy) == (0, 1, None)
