"""MultiLabelMatch: strict code-set parsing and per-label figures checked against sklearn."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ftevals.elsuite.multilabel import MultiLabelMatch, canonical, gold_codes, parse_codes
from ftevals.errors import FtevalsError

CODES = ["S", "H", "V", "HR", "SH", "S3", "H2", "V2"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("H", {"H"}),
        ("H,V,H2", {"H", "V", "H2"}),
        (" h, v2 ,V ", {"H", "V", "V2"}),
        ("H; HR", {"H", "HR"}),
        ("V and HR", {"V", "HR"}),
        ("S S3", {"S", "S3"}),
        ("`SH`.", {"SH"}),
        ("Categories: H, V", {"H", "V"}),
        ("H,H", {"H"}),
        ("none", set()),
        ("None.", set()),
        ("H\nbecause it attacks a group", {"H"}),
        # anything that is not only codes is invalid
        ("hate", None),
        ("H, hate", None),
        ("H2 (hate/threatening)", None),
        ("no category applies", None),
        ("none, H", None),
        ("", None),
        ("  \n ", None),
        (",", None),
    ],
)
def test_parse_codes(answer: str, expected: set[str] | None) -> None:
    parsed = parse_codes(answer, CODES)
    assert (None if parsed is None else set(parsed)) == expected


def test_canonical_follows_the_code_order() -> None:
    assert canonical(frozenset({"H2", "V", "H"}), CODES) == "H,V,H2"
    assert canonical(frozenset(), CODES) == "none"


def test_gold_codes_accepts_lists_and_strings_and_rejects_unknown_codes() -> None:
    assert gold_codes(["H", "H2"], CODES) == {"H", "H2"}
    assert gold_codes([], CODES) == frozenset()
    assert gold_codes("V,HR", CODES) == {"V", "HR"}
    with pytest.raises(FtevalsError, match="unknown codes"):
        gold_codes(["X"], CODES)
    with pytest.raises(FtevalsError, match="not a list of codes"):
        gold_codes("hate", CODES)
    with pytest.raises(FtevalsError, match="list of codes or a string"):
        gold_codes(3, CODES)


def _event(gold: set[str], predicted: set[str] | None) -> dict[str, Any]:
    per_label = {}
    if predicted is not None:
        for code in CODES:
            if code in gold or code in predicted:
                per_label[code] = (
                    "tp"
                    if code in gold and code in predicted
                    else "fp"
                    if code in predicted
                    else "fn"
                )
    return {
        "correct": predicted == gold,
        "label": None if predicted is None else canonical(frozenset(predicted), CODES),
        "per_label": per_label,
    }


def test_report_matches_sklearn() -> None:
    from sklearn.metrics import f1_score, precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    rng = random.Random(7)
    golds = [set(rng.sample(CODES, rng.randint(0, 3))) for _ in range(60)]
    preds: list[set[str] | None] = []
    for gold in golds:
        roll = rng.random()
        if roll < 0.1:
            preds.append(None)  # invalid answer
        elif roll < 0.5:
            preds.append(set(gold))
        else:
            preds.append(set(rng.sample(CODES, rng.randint(0, 2))))
    ev = MultiLabelMatch.__new__(MultiLabelMatch)  # report() needs only the code list
    ev.codes = CODES
    report = ev.report([_event(g, p) for g, p in zip(golds, preds, strict=True)], failed=1)

    valid = [(g, p) for g, p in zip(golds, preds, strict=True) if p is not None]
    binarizer = MultiLabelBinarizer(classes=CODES)
    y_true = binarizer.fit_transform([g for g, _ in valid])
    y_pred = binarizer.transform([p for _, p in valid])
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(CODES)), zero_division=0
    )
    for i, code in enumerate(CODES):
        assert report[f"{code}/precision"] == pytest.approx(precision[i])
        assert report[f"{code}/recall"] == pytest.approx(recall[i])
        assert report[f"{code}/f1"] == pytest.approx(f1[i])
        assert report[f"{code}/support"] == support[i]
    assert report["micro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro"))
    assert report["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert report["hamming_accuracy"] == pytest.approx((y_true == y_pred).mean())
    exact = sum(1 for g, p in zip(golds, preds, strict=True) if p == g)
    assert report["accuracy"] == pytest.approx(exact / len(golds))
    assert report["invalid"] == preds.count(None)
    assert report["failed"] == 1
