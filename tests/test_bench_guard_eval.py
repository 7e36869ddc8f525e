"""bench/guard_eval.py's helpers: figures with intervals, baselines and folds, checked against
scikit-learn and SciPy on small hand-made labels (no model is trained here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from scipy.stats import binomtest
from sklearn.metrics import average_precision_score, f1_score

ROOT = Path(__file__).resolve().parents[1]

LABELS = ["unsafe"] * 6 + ["safe"] * 10
SCORES = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2] + [0.55, 0.4, 0.1, 0.1, 0.1, 0.05, 0.3, 0.2, 0.1, 0.6]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_guard_eval", ROOT / "bench" / "guard_eval.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.RESAMPLES = 50  # the interval's logic, not its precision, is under test
    return module


def test_score_matches_sklearn_and_wilson(bench: ModuleType) -> None:
    out = bench.score(LABELS, SCORES, threshold=0.5)
    y = [label == "unsafe" for label in LABELS]
    pred = [s >= 0.5 for s in SCORES]
    assert out["n"] == 16 and out["n_unsafe"] == 6 and out["n_safe"] == 10
    assert out["f1"]["value"] == pytest.approx(f1_score(y, pred))
    assert out["auprc"]["value"] == pytest.approx(average_precision_score(y, SCORES))
    # recall 4/6, false positives 2 of 10 safe, precision 4/6 flagged
    assert (out["recall"]["k"], out["recall"]["n"]) == (4, 6)
    assert (out["fpr"]["k"], out["fpr"]["n"]) == (2, 10)
    ci = binomtest(2, 10).proportion_ci(method="wilson")
    assert (out["fpr"]["low"], out["fpr"]["high"]) == pytest.approx((ci.low, ci.high))
    assert out["f1"]["low"] <= out["f1"]["value"] <= out["f1"]["high"]
    assert out["small"]  # under 20 items
    # a seeded bootstrap: the same interval twice
    assert bench.score(LABELS, SCORES, threshold=0.5)["f1"] == out["f1"]


def test_majority_baseline_scores_the_floor(bench: ModuleType) -> None:
    train = [{"label": "safe"}] * 3 + [{"label": "unsafe"}]
    rows = [{"label": label} for label in LABELS]
    scores = bench.majority(train, rows)
    out = bench.score(LABELS, scores)
    assert out["recall"]["value"] == 0.0 and out["fpr"]["value"] == 0.0
    assert out["auprc"]["value"] == pytest.approx(6 / 16)  # the positive rate


def test_folds_leave_one_source_and_one_category_out(bench: ModuleType) -> None:
    train = [
        {"source": "a", "category": "hate", "label": "unsafe", "text": "1"},
        {"source": "a", "category": "none", "label": "safe", "text": "2"},
        {"source": "b", "category": "hate", "label": "safe", "text": "3"},
        {"source": "c", "category": "unspecified", "label": "unsafe", "text": "4"},
    ]
    folds = {(kind, name): (inside, held) for kind, name, inside, held in bench.folds(train)}
    assert set(folds) == {
        ("source", "a"),
        ("source", "b"),
        ("source", "c"),
        ("category", "hate"),
        ("category", "none"),
    }  # "unspecified" is no policy category
    inside, held = folds[("category", "hate")]
    assert [r["text"] for r in held] == ["1", "3"]
    assert [r["text"] for r in inside] == ["2", "4"]


def test_mean_over_seeds_keeps_the_range(bench: ModuleType) -> None:
    a = bench.score(LABELS, SCORES, threshold=0.5)
    b = bench.score(LABELS, SCORES, threshold=0.65)
    mean = bench.mean_of([a, b])
    assert mean["recall"]["value"] == pytest.approx((4 / 6 + 3 / 6) / 2)
    assert (mean["recall"]["seed_min"], mean["recall"]["seed_max"]) == (3 / 6, 4 / 6)
    assert "(0.500-0.667)" in bench.seeds_cell(mean["recall"])
