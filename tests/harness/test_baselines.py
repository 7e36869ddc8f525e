"""The majority baseline beside every classification eval, and the flags it raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from logfactory import graded_log, write_log
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, average_precision_score, f1_score

from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log
from ftevals.harness.report_text import render_table

N = 200
LABELS = ["safe", "unsafe"]
TRUTH = ["unsafe" if i % 100 < 77 else "safe" for i in range(N)]  # 77% unsafe, as in the issue


def _log(path: Path, model: str, answers: list[str], eval_name: str = "held.test.v1") -> Path:
    events: list[dict[str, Any]] = []
    for i, (truth, answer) in enumerate(zip(TRUTH, answers, strict=True)):
        data = {"correct": truth == answer, "expected": truth, "picked": answer}
        data |= {"sampled": answer, "label": answer, "options": ["safe", "unsafe"]}
        events.append({"type": "match", "sample_id": f"held.test.{i}", "data": data})
    write_log(path, [model], eval_name, events, args={"labels": ["safe", "unsafe"]})
    return path


def test_majority_baseline_is_sklearn_dummy_on_the_same_samples(tmp_path: Path) -> None:
    good = [t if i % 10 else ("safe" if t == "unsafe" else "unsafe") for i, t in enumerate(TRUTH)]
    comparison = compare_logs([read_log(_log(tmp_path / "a.jsonl", "good", good))])
    [base] = comparison.baselines
    assert (base.model, base.baseline, base.eval_name, base.n) == (
        "baseline/majority",
        True,
        "held.test.v1",
        N,
    )
    dummy = DummyClassifier(strategy="most_frequent").fit([[0]] * N, TRUTH)
    predicted = list(dummy.predict([[0]] * N))
    assert set(predicted) == {"unsafe"}
    assert base.accuracy == pytest.approx(accuracy_score(TRUTH, predicted)) == 0.77
    want_f1 = f1_score(TRUTH, predicted, pos_label="unsafe")
    assert base.per_class["unsafe"].f1 == pytest.approx(want_f1)
    assert base.fpr == 1.0  # every safe sample answered unsafe
    positive = [t == "unsafe" for t in TRUTH]
    assert base.auprc == pytest.approx(average_precision_score(positive, [0.5] * N)) == 0.77
    assert base.accuracy_ci is not None and base.auprc_ci is not None
    assert comparison.rows[0].flags == []  # 0.9 accuracy: clear of 0.77


def test_a_model_within_its_interval_of_the_baseline_is_flagged(tmp_path: Path) -> None:
    # nearly always "unsafe": accuracy 0.78, F1 of unsafe about the baseline's 0.870
    lazy = ["safe" if (t == "safe" and i % 23 == 0) else "unsafe" for i, t in enumerate(TRUTH)]
    worse = ["safe" if i % 2 else "unsafe" for i in range(N)]  # a coin: below the baseline
    logs = [_log(tmp_path / "l.jsonl", "lazy", lazy), _log(tmp_path / "w.jsonl", "coin", worse)]
    comparison = compare_logs([read_log(p) for p in logs])
    lazy_row, coin_row = comparison.rows
    assert any(f.startswith("accuracy") and "not distinguishable" in f for f in lazy_row.flags)
    assert any(f.startswith("F1 of 'unsafe'") for f in lazy_row.flags)
    assert any("below the majority baseline's 0.770" in f for f in coin_row.flags)
    table = render_table(comparison)
    assert "  baseline/majority  200" in table
    balance = "class balance of held.test.v1 (200 samples): safe 46 (23.0%), unsafe 154 (77.0%)"
    assert balance in table
    assert "! lazy (test.v1): accuracy" in table and "! coin (test.v1): accuracy" in table
    # the baseline is not a model: it is never paired
    assert {(p.model_a, p.model_b) for p in comparison.paired} == {("lazy", "coin")}


def test_baselines_per_eval_none_for_model_graded_or_one_label(tmp_path: Path) -> None:
    answers = list(TRUTH)
    graded_log(tmp_path / "g.jsonl", ["p", "j"], {i: "YN"[i % 2] for i in range(9)}, {"Y": 1.0})
    logs = [
        _log(tmp_path / "a.jsonl", "m", answers),
        _log(tmp_path / "b.jsonl", "m", answers, eval_name="other.test.v1"),
        tmp_path / "g.jsonl",
    ]
    comparison = compare_logs([read_log(p) for p in logs])
    assert [b.eval_name for b in comparison.baselines] == ["held.test.v1", "other.test.v1"]
    assert all(row.flags == [] for row in comparison.rows)
    # a look-alike set (every sample expects 'safe'): answering 'safe' is perfect there
    events = [
        {"type": "match", "sample_id": f"look.test.{i}",
         "data": {"correct": i % 9 > 0, "expected": "safe", "label": "safe" if i % 9 else "unsafe"}}
        for i in range(50)
    ]  # fmt: skip
    write_log(tmp_path / "l.jsonl", ["m"], "look.test.v1", events, args={"labels": LABELS})
    look = compare_logs([read_log(tmp_path / "l.jsonl")])
    assert look.baselines == [] and look.rows[0].flags == [] and look.rows[0].fpr == 6 / 50
