"""Temperature scaling and threshold choice (training/calibrate.py), and calibration stored by
``train_classifier`` when there is a validation split."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from ftevals.errors import FtevalsError
from ftevals.training.calibrate import (
    Calibration,
    best_threshold,
    calibrate,
    decide,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)


def overconfident(n: int, scale: float, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """Labels drawn from softmax(z); logits reported as scale * z (over-confident if > 1)."""
    rng = random.Random(seed)
    logits, targets = [], []
    for _ in range(n):
        z = [rng.gauss(0, 1.5), rng.gauss(0, 1.5)]
        p = softmax(z)
        targets.append(0 if rng.random() < p[0] else 1)
        logits.append([scale * x for x in z])
    return logits, targets


def test_fit_temperature_recovers_the_scale() -> None:
    logits, targets = overconfident(4000, scale=3.0)
    temperature = fit_temperature(logits, targets)
    assert 2.6 < temperature < 3.4
    assert nll(logits, targets, temperature) < nll(logits, targets, 1.0)


def test_calibration_lowers_the_calibration_error() -> None:
    logits, targets = overconfident(2000, scale=4.0, seed=1)
    cal = calibrate(logits, targets, ["safe", "unsafe"])
    assert cal.ece_after < cal.ece_before / 2
    assert cal.nll_after < cal.nll_before
    assert cal.positive_label == "unsafe" and cal.threshold is not None
    assert 0.0 < cal.threshold < 1.0 and cal.examples == 2000


def test_best_threshold_maximises_f1_and_prefers_fewer_false_positives() -> None:
    scores = [0.95, 0.9, 0.8, 0.6, 0.4, 0.3, 0.1]
    positives = [True, True, True, False, True, False, False]
    threshold, f1 = best_threshold(scores, positives)
    # cut below 0.4: tp=4 fp=1 fn=0 -> F1 8/9; cut at 0.7: tp=3 fp=0 fn=1 -> F1 6/7
    assert f1 == pytest.approx(8 / 9)
    assert 0.3 < threshold < 0.4
    # F1 2/3 both above 0.8 (tp 1, fn 1) and above 0.15 (tp 2, fp 2): the higher cut wins
    even, _ = best_threshold([0.9, 0.7, 0.6, 0.3], [True, False, False, True])
    assert even == pytest.approx(0.8)
    with pytest.raises(FtevalsError, match="positive example"):
        best_threshold([0.2, 0.3], [False, False])


def test_decide_applies_temperature_and_threshold() -> None:
    labels = ["safe", "unsafe"]
    cal = Calibration(
        temperature=2.0,
        positive_label="unsafe",
        threshold=0.3,
        examples=1,
        nll_before=0,
        nll_after=0,
        ece_before=0,
        ece_after=0,
    )
    logits = [1.0, 0.0]  # argmax safe; P(unsafe) at T=2 is 0.3775 >= 0.3
    assert decide(logits, labels, None)[0] == "safe"
    label, probs = decide(logits, labels, cal)
    assert label == "unsafe"
    assert probs[1] == pytest.approx(1 / (1 + math.exp(0.5)))
    assert decide([3.0, 0.0], labels, cal)[0] == "safe"


def test_multiclass_gets_a_temperature_but_no_threshold() -> None:
    rng = random.Random(2)
    logits = [[rng.gauss(0, 2) for _ in range(3)] for _ in range(300)]
    targets = [max(range(3), key=row.__getitem__) for row in logits]
    cal = calibrate(logits, targets, ["a", "b", "c"])
    assert cal.threshold is None and cal.positive_label is None
    assert cal.temperature < 1.0  # always right: sharpen


def test_unknown_positive_label_is_an_error() -> None:
    logits, targets = overconfident(50, scale=1.0)
    with pytest.raises(FtevalsError, match="positive label 'toxic'"):
        calibrate(logits, targets, ["safe", "unsafe"], positive_label="toxic")


def test_ece_of_a_perfectly_calibrated_constant() -> None:
    probs = [[0.75, 0.25]] * 4
    assert expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.0)
    assert expected_calibration_error(probs, [1, 1, 1, 1]) == pytest.approx(0.75)


def test_train_classifier_stores_calibration_fitted_on_validation(
    tiny_chat_data: Path, tmp_path: Path
) -> None:
    from ftevals.training.classifier import train_classifier
    from ftevals.training.config import TrainConfig

    config = TrainConfig(
        data=str(tiny_chat_data),
        out=str(tmp_path / "cal"),
        base="minilm",
        epochs=1,
        batch_size=8,
        max_length=32,
        val_fraction=0.3,
    )
    out = train_classifier(config, progress=False)
    meta = json.loads((out / "ftevals.json").read_text(encoding="utf-8"))
    cal = Calibration.model_validate(meta["calibration"])
    assert cal.examples == meta["train"]["validation_examples"] > 0
    assert cal.positive_label == "unsafe" and cal.threshold is not None
    assert meta["config"]["calibrate"] is True

    off = train_classifier(
        TrainConfig(**{**config.to_dict(), "out": str(tmp_path / "off"), "calibrate": False}),
        progress=False,
    )
    assert "calibration" not in json.loads((off / "ftevals.json").read_text(encoding="utf-8"))


def test_max_fpr_trades_f1_for_fewer_false_positives() -> None:
    scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    positives = [True, True, False, True, True, False, True, False, False, False]
    free, free_f1 = best_threshold(scores, positives)
    capped, capped_f1 = best_threshold(scores, positives, max_fpr=0.0)
    assert free == pytest.approx(0.35) and free_f1 == pytest.approx(10 / 12)
    assert capped == pytest.approx(0.85) and capped_f1 == pytest.approx(4 / 7)
    nothing, f1 = best_threshold([0.9, 0.8], [False, True], max_fpr=0.0)
    assert nothing > 0.9 and f1 == 0.0  # every cut flags the negative: flag nothing


def test_recalibrate_cli_refits_on_the_stored_validation_split(
    tiny_chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ftevals.cli import main
    from ftevals.training.classifier import train_classifier
    from ftevals.training.config import TrainConfig

    out = train_classifier(
        TrainConfig(
            data=str(tiny_chat_data),
            out=str(tmp_path / "re"),
            base="minilm",
            epochs=1,
            batch_size=8,
            max_length=32,
            val_fraction=0.3,
        ),
        progress=False,
    )
    before = json.loads((out / "ftevals.json").read_text(encoding="utf-8"))["calibration"]
    assert main(["calibrate", str(out), "--max-fpr", "0"]) == 0
    assert "threshold" in capsys.readouterr().out
    after = json.loads((out / "ftevals.json").read_text(encoding="utf-8"))
    assert after["calibration"]["max_fpr"] == 0.0
    assert after["config"]["max_fpr"] == 0.0
    assert after["calibration"]["temperature"] == pytest.approx(before["temperature"], rel=1e-3)
    assert after["calibration"]["threshold"] >= before["threshold"]


# --- the home-made searches these replaced, kept as references --------------------------------


def golden_section_temperature(logits: list[list[float]], targets: list[int]) -> float:
    """The golden-section search on log T that fit_temperature used before scipy."""
    lo, hi = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, targets, math.exp(a)), nll(logits, targets, math.exp(b))
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, targets, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, targets, math.exp(b))
    return math.exp((lo + hi) / 2)


def sorted_sweep_threshold(
    scores: list[float], positives: list[bool], max_fpr: float | None = None
) -> tuple[float, float]:
    """The hand-written threshold sweep best_threshold used before sklearn's roc_curve."""
    ranked = sorted(zip(scores, positives, strict=True), key=lambda pair: -pair[0])
    total_pos = sum(positives)
    total_neg = len(ranked) - total_pos
    best_f1, best_cut = 0.0, min(1.0, (1.0 + ranked[0][0]) / 2)
    tp = fp = 0
    for i, (score, positive) in enumerate(ranked):
        tp += positive
        fp += not positive
        next_score = ranked[i + 1][0] if i + 1 < len(ranked) else 0.0
        if next_score == score:
            continue
        if max_fpr is not None and total_neg and fp / total_neg > max_fpr:
            break
        f1 = 2 * tp / (2 * tp + fp + (total_pos - tp))
        if f1 > best_f1:
            best_f1, best_cut = f1, (score + next_score) / 2
    return best_cut, best_f1


@pytest.mark.parametrize(("scale", "seed", "n"), [(3.0, 0, 800), (0.4, 2, 300), (1.0, 5, 60)])
def test_scipy_temperature_equals_the_golden_section_search(
    scale: float, seed: int, n: int
) -> None:
    logits, targets = overconfident(n, scale=scale, seed=seed)
    ours, before = fit_temperature(logits, targets), golden_section_temperature(logits, targets)
    assert ours == pytest.approx(before, rel=1e-4)
    assert nll(logits, targets, ours) == pytest.approx(nll(logits, targets, before), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_fpr", [None, 0.0, 0.1, 0.3])
def test_sklearn_threshold_sweep_equals_the_hand_written_one(
    seed: int, max_fpr: float | None
) -> None:
    rng = random.Random(seed)
    n = rng.choice([5, 40, 300])
    # rounded scores: ties between examples. Not exactly 0.0: the old sweep skipped the cut
    # below a score of exactly 0 (no softmax probability is exactly 0); the new one does not.
    scores = [round(rng.uniform(0.01, 1.0), 2) for _ in range(n)]
    positives = [rng.random() < s for s in scores]
    if not any(positives):
        positives[0] = True
    if seed == 0:
        positives = [True] * n  # no negatives at all
    assert best_threshold(scores, positives, max_fpr) == pytest.approx(
        sorted_sweep_threshold(scores, positives, max_fpr)
    )
