"""Intervals: Wilson against its closed form, the bootstrap against a plain loop of sklearn
metrics over the same seeded resamples, and an interval beside every figure of the JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from logfactory import LABELS, classification_log, graded_log
from sklearn.metrics import (
    average_precision_score,
    cohen_kappa_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from ftevals.harness import intervals
from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log

INVALID = "__invalid__"


def wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 10), (9, 200), (77, 100), (126, 126), (1, 1)])
def test_wilson_is_the_closed_form(k: int, n: int) -> None:
    got = intervals.wilson(k, n)
    assert got is not None and got.method == "wilson" and got.n == n
    low, high = wilson_closed_form(k, n)
    assert (got.low, got.high) == pytest.approx((max(0.0, low), min(1.0, high)), abs=1e-9)
    assert got.contains(k / n)
    assert intervals.wilson(0, 0) is None


def test_issue_figure_look_alike_fpr() -> None:
    """9 false positives in 200 look-alikes: 4.5%, 95% interval about 2.4-8.3%."""
    got = intervals.wilson(9, 200)
    assert got is not None
    assert (round(got.low, 3), round(got.high, 3)) == (0.024, 0.083)


def test_resampled_figures_equal_sklearn_with_sample_weights() -> None:
    rng = np.random.default_rng(3)
    labels = ["safe", "unsafe", "borderline"]
    n = 90
    y_true = list(rng.choice(labels, n))
    y_pred = [t if rng.random() < 0.6 else str(rng.choice([*labels, INVALID])) for t in y_true]
    scores = list(np.round(rng.random(n), 2))  # ties included
    index = {label: i for i, label in enumerate([*labels, INVALID])}
    [counts] = intervals.resample_counts(n, resamples=5, seed=7)
    matrix = intervals.confusion_counts(
        counts, [index[t] for t in y_true], [index[p] for p in y_pred], len(index)
    )
    figures = intervals.classification_figures(matrix, len(labels))
    positive = [t == "unsafe" for t in y_true]
    ap = intervals.average_precision(counts, positive, scores)
    for r, weights in enumerate(counts):
        per_class = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, sample_weight=weights, zero_division=0
        )
        for i in range(len(labels)):
            assert figures[f"f1:{i}"][r] == pytest.approx(per_class[2][i], abs=1e-12)
        for average in ("macro", "weighted"):
            want = precision_recall_fscore_support(
                y_true, y_pred, labels=labels, average=average, sample_weight=weights,
                zero_division=0,
            )  # fmt: skip
            for j, name in enumerate(("precision", "recall", "f1")):
                assert figures[f"{average}_{name}"][r] == pytest.approx(want[j], abs=1e-12)
        want_mcc = matthews_corrcoef(y_true, y_pred, sample_weight=weights)
        assert figures["mcc"][r] == pytest.approx(want_mcc, abs=1e-12)
        want_ap = average_precision_score(positive, scores, sample_weight=weights)
        assert ap[r] == pytest.approx(want_ap, abs=1e-12)
        judge = [p if p != INVALID else "safe" for p in y_pred]
        kappa_matrix = intervals.confusion_counts(
            counts[r : r + 1], [index[t] for t in y_true], [index[j] for j in judge], len(index)
        )
        want_kappa = cohen_kappa_score(y_true, judge, sample_weight=weights)
        assert intervals.kappa_figures(kappa_matrix)[0] == pytest.approx(want_kappa, abs=1e-12)
        mean = intervals.weighted_mean(counts[r : r + 1], scores)[0]
        assert mean == pytest.approx(np.average(scores, weights=weights))


def _plain_loop(y_true: list[str], y_pred: list[str], p: list[float], labels: list[str]) -> Any:
    """The textbook bootstrap: the same seeded index draws, sklearn on each resample."""
    n = len(y_true)
    idx = np.random.default_rng(intervals.SEED).integers(0, n, size=(intervals.RESAMPLES, n))
    t, q, s = np.array(y_true), np.array(y_pred), np.array(p)
    f1 = [f1_score(t[i], q[i], labels=["unsafe"], average=None, zero_division=0)[0] for i in idx]
    mcc = [matthews_corrcoef(t[i], q[i]) for i in idx]
    ap = [average_precision_score(t[i] == "unsafe", s[i]) for i in idx]
    return {k: np.percentile(v, [2.5, 97.5]) for k, v in {"f1": f1, "mcc": mcc, "ap": ap}.items()}


def test_row_intervals_equal_a_plain_sklearn_bootstrap(tmp_path: Path) -> None:
    truth = classification_log(tmp_path / "p.jsonl", "m", 4, n=120, probs=True)
    row = compare_logs([read_log(tmp_path / "p.jsonl")]).rows[0]
    want = _plain_loop(truth.y_true, truth.y_pred, truth.p_positive, LABELS)
    f1 = row.per_class["unsafe"].f1_ci
    assert f1 is not None and f1.method == "bootstrap" and f1.n == 120
    assert (f1.low, f1.high) == pytest.approx(tuple(want["f1"]), abs=1e-12)
    assert row.mcc_ci is not None and row.auprc_ci is not None
    assert (row.mcc_ci.low, row.mcc_ci.high) == pytest.approx(tuple(want["mcc"]), abs=1e-12)
    assert (row.auprc_ci.low, row.auprc_ci.high) == pytest.approx(tuple(want["ap"]), abs=1e-12)
    # Wilson: accuracy, precision and recall of a class, false-positive rate
    correct = sum(t == p for t, p in zip(truth.y_true, truth.y_pred, strict=True))
    assert row.accuracy_ci is not None
    assert (row.accuracy_ci.low, row.accuracy_ci.high) == pytest.approx(
        wilson_closed_form(correct, 120)
    )
    negatives = [p for t, p in zip(truth.y_true, truth.y_pred, strict=True) if t != "unsafe"]
    assert row.fpr == negatives.count("unsafe") / len(negatives)
    assert row.fpr_ci is not None and row.fpr_ci.n == len(negatives)
    unsafe = row.per_class["unsafe"]
    assert unsafe.recall_ci is not None and unsafe.recall_ci.n == truth.y_true.count("unsafe")
    assert unsafe.precision_ci is not None and unsafe.precision_ci.n == truth.y_pred.count("unsafe")


FIGURES = {
    "accuracy", "mcc", "fpr", "auprc", "mean_score", "metascore", "human_agreement",
    "human_kappa", "precision", "recall", "f1", "agreement", "kappa",
}  # fmt: skip


def _figures_without_interval(node: Any, path: str = "") -> list[str]:
    missing = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pr_curve":  # the threshold sweep's points, not figures of the eval
                continue
            here = f"{path}.{key}"
            if key in FIGURES and isinstance(value, float):
                ci = node.get(f"{key}_ci")
                # no samples behind the share (a class never predicted): n = 0, no bounds
                undefined = ci and ci["n"] == 0 and ci["low"] is None and ci["value"] == value
                bounded = ci and ci["low"] is not None and ci["low"] <= value <= ci["high"]
                if not (undefined or (bounded and ci["value"] == value)):
                    missing.append(here)
            missing += _figures_without_interval(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            missing += _figures_without_interval(value, f"{path}[{i}]")
    return missing


def test_every_figure_in_the_json_has_its_interval(tmp_path: Path) -> None:
    classification_log(tmp_path / "a.jsonl", "ma", 1, probs=True)
    classification_log(tmp_path / "b.jsonl", "mb", 2, probs=True)
    samples = tmp_path / "registry" / "data" / "mg.jsonl"
    samples.parent.mkdir(parents=True)
    choices = {i: "ABC"[i % 3] if i % 5 else "B" for i in range(40)}
    human = "".join(json.dumps({"choice": "ABC"[i % 3]}) + "\n" for i in range(40))
    samples.write_text(human, encoding="utf-8")
    registry = str(tmp_path / "registry")
    for name, judge in (("g1", "judge-1"), ("g2", "judge-2")):
        graded_log(
            tmp_path / f"{name}.jsonl", ["policy", judge], choices if name == "g1" else
            {i: "ABC"[(i + 1) % 3] for i in range(40)}, {"A": 1.0, "B": 0.5, "C": 0.0},
            samples_jsonl="mg.jsonl", registry_path=registry,
        )  # fmt: skip
    logs = [read_log(tmp_path / f"{x}.jsonl") for x in ("a", "b", "g1", "g2")]
    comparison = compare_logs(logs)
    assert comparison.judges and comparison.rows[2].human_n == 40
    dumped = json.loads(comparison.model_dump_json())
    assert _figures_without_interval(dumped) == []
    graded = comparison.rows[2]
    assert set(graded.choice_rates) == set(graded.choice_counts)
    assert all(ci.method == "wilson" and ci.n == 40 for ci in graded.choice_rates.values())
    # the same logs always give the same intervals
    again = json.loads(compare_logs(logs).model_dump_json())
    assert again == dumped


def test_paired_difference_says_in_words_when_it_is_not_significant(tmp_path: Path) -> None:
    from ftevals.harness.paired import significance
    from ftevals.harness.report_text import render_table

    assert significance(0.012, -0.01, 0.03, 0.41, "accuracy") == (
        False,
        "+0.012 accuracy (95% CI -0.010..0.030), McNemar p=0.41: not significant",
    )
    assert significance(0.2, 0.1, 0.3, 0.001, "accuracy")[0] is True
    assert significance(0.05, 0.001, 0.1, 0.08, "accuracy") == (
        None,
        "+0.050 accuracy (95% CI 0.001..0.100), McNemar p=0.08: "
        "not established (McNemar and the CI disagree)",
    )
    assert significance(-0.3, -0.4, -0.2, None, "mean_score")[1].endswith(": significant")
    # two similar models on the same samples: the report says it is not significant
    classification_log(tmp_path / "a.jsonl", "ma", 11, n=60)
    classification_log(tmp_path / "b.jsonl", "mb", 12, n=60)
    comparison = compare_logs([read_log(tmp_path / f"{x}.jsonl") for x in "ab"])
    [pair] = comparison.paired
    assert pair.mcnemar_p is not None and pair.mcnemar_p > 0.05 and pair.significant is False
    line = next(
        t for t in render_table(comparison).splitlines() if t.strip().startswith("mb vs ma:")
    )
    assert line.endswith("not significant") and f"p={pair.mcnemar_p:.2g}" in line
