"""Comparing evals logs: ftevals.harness.compare, checked against sklearn computed here."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report

from ftevals.errors import InputError
from ftevals.harness.compare import (
    Comparison,
    ModelEvalReport,
    compare_logs,
    comparison_frames,
    render_table,
    write_csv,
    write_json,
)
from ftevals.harness.logs import read_log

FIXTURES = Path(__file__).parent / "fixtures"
LOG_A = FIXTURES / "logs" / "ft-a_safety.jsonl"
LOG_B = FIXTURES / "logs" / "nested" / "ft-b_safety.jsonl"
MODELGRADED = FIXTURES / "modelgraded.jsonl"
LABELS = ["safe", "unsafe", "borderline"]
START = datetime(2026, 11, 23, 12, 45, 19, 627821, tzinfo=UTC)


def generate_log(path: Path, model: str, seed: int, n: int = 80) -> dict[str, Any]:
    """Write a LabelMatch-style log in the exact evals format; return the truth behind it."""
    rng = random.Random(seed)
    run_id = f"2611231245{seed:02d}GENLOG00"
    spec = {
        "completion_fns": [model],
        "eval_name": "gen-clf.dev.v0",
        "base_eval": "gen-clf",
        "split": "dev",
        "run_config": {"eval_spec": {"args": {"labels": LABELS}}, "seed": 20220722},
        "created_by": "",
        "run_id": run_id,
        "created_at": str(START.replace(tzinfo=None)),  # evals: str(datetime.utcnow())
    }
    y_true: list[str] = []
    y_pred: list[str] = []
    events: list[dict[str, Any]] = []
    clock = START
    for i in range(n):
        truth = rng.choices(LABELS, weights=[5, 4, 1])[0]
        roll = rng.random()
        if roll < 0.6:
            answer: str | None = truth
        elif roll < 0.85:
            answer = rng.choice([label for label in LABELS if label != truth])
        else:
            answer = rng.choice([None, "I cannot help with that", "maybe"])
        y_true.append(truth)
        y_pred.append(answer if answer in LABELS else "__invalid__")
        clock += timedelta(milliseconds=rng.randint(5, 60))
        expected: str | list[str] = [truth] if i % 7 == 0 else truth
        data = {"correct": answer == truth, "expected": expected, "picked": answer}
        data |= {"sampled": str(answer), "options": LABELS}
        events.append({"type": "match", "data": data, "created_at": clock})
    lines: list[dict[str, Any]] = [
        {"spec": spec},
        {"final_report": {"accuracy": 0.0}, "run_id": run_id},
    ]
    for event_id, event in enumerate(events):
        event |= {"run_id": run_id, "event_id": event_id, "sample_id": f"gen-clf.dev.{event_id}"}
        lines.append(event | {"created_by": "", "created_at": str(event["created_at"])})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    seconds = (clock - START).total_seconds()
    return {"y_true": y_true, "y_pred": y_pred, "samples_per_s": n / seconds}


def assert_matches_sklearn(row: ModelEvalReport, y_true: list[str], y_pred: list[str]) -> None:
    expected = classification_report(
        y_true, y_pred, labels=row.labels, output_dict=True, zero_division=0
    )
    assert row.n == len(y_true)
    assert row.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
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
    truths = [generate_log(tmp_path / f"{m}.jsonl", m, seed) for m, seed in [("m1", 1), ("m2", 2)]]
    comparison = compare_logs([read_log(tmp_path / "m1.jsonl"), read_log(tmp_path / "m2.jsonl")])
    assert [(row.model, row.eval, row.kind) for row in comparison.rows] == [
        ("m1", "gen-clf", "classification"),
        ("m2", "gen-clf", "classification"),
    ]
    for row, truth in zip(comparison.rows, truths, strict=True):
        assert row.labels == LABELS
        assert row.invalid > 0
        assert_matches_sklearn(row, truth["y_true"], truth["y_pred"])
        assert row.samples_per_s == pytest.approx(truth["samples_per_s"], rel=1e-9)
        assert row.prompt_tokens is None and row.latency_p50_s is None


def test_fixture_log_with_invalid_and_list_expected() -> None:
    row = compare_logs([read_log(LOG_A)]).rows[0]
    y_true = ["safe", "unsafe", "unsafe", "safe", "safe", "unsafe"]  # sample 2: ["unsafe"]
    y_pred = ["safe", "unsafe", "safe", "__invalid__", "borderline", "__invalid__"]
    assert row.labels == LABELS  # spec labels, in spec order, incl. the unused "borderline"
    assert_matches_sklearn(row, y_true, y_pred)
    assert row.invalid == 2
    assert row.per_class["borderline"].support == 0
    assert row.confusion["safe"] == {"safe": 1, "unsafe": 0, "borderline": 1, "__invalid__": 1}
    assert row.samples_per_s == pytest.approx(6 / 2.0)  # last event 2.0 s after the spec
    assert (row.prompt_tokens, row.completion_tokens) == (75, 6)
    latencies = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert row.latency_p50_s == pytest.approx(float(np.percentile(latencies, 50)))
    assert row.latency_p95_s == pytest.approx(float(np.percentile(latencies, 95)))
    assert row.cost_usd == pytest.approx(0.006)


def test_label_preferred_over_picked_and_interrupted_run() -> None:
    row = compare_logs([read_log(LOG_B)]).rows[0]
    assert row.model == "ft-b,dummy"
    assert row.labels == ["safe", "unsafe"]  # no spec labels: the expected values
    # label (not picked) is the prediction; label null is invalid even if picked is set
    assert_matches_sklearn(
        row, ["safe", "unsafe", "unsafe", "safe"], ["safe", "unsafe", "__invalid__", "safe"]
    )
    assert row.samples_per_s == pytest.approx(4 / 2.0)


def test_modelgraded_counts() -> None:
    row = compare_logs([read_log(MODELGRADED)]).rows[0]
    assert row.kind == "modelgraded"
    assert (row.model, row.eval, row.n, row.invalid) == ("ft-a", "closedqa-harmless", 4, 1)
    assert row.choice_counts == {"N": 1, "Y": 2, "__invalid__": 1}
    assert row.mean_score == pytest.approx(0.5)
    assert row.accuracy is None and row.per_class == {} and row.macro is None
    assert row.samples_per_s == pytest.approx(1.0)
    table = render_table(compare_logs([read_log(MODELGRADED)]))
    assert "choices: N=1, Y=2, __invalid__=1" in table


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
        ([_spec(), _match(["a", "b"])], "expected one label", 2),
        ([_spec(), _match(None)], "expected one label", 2),
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


def _table_rows(table: str) -> dict[tuple[str, str], list[str]]:
    """Parse render_table output: (eval, model) -> summary cells; (run_id, label) -> cells."""
    parsed: dict[tuple[str, str], list[str]] = {}
    current = section = ""
    for text in table.splitlines():
        if text.startswith("eval: "):
            current, section = text.removeprefix("eval: "), "summary"
        elif text.startswith("  ") and "[run " in text:
            current, section = text.split("[run ")[1].rstrip("]"), "detail"
        elif text.strip() and section == "summary":
            cells = text.split()
            parsed[(current, cells[0])] = cells[1:]
        elif text.strip() and section == "detail":
            cells = text.split()
            parsed[(current, " ".join(cells[:-4]))] = cells[-4:]
    return parsed


def test_csv_json_and_table_agree(tmp_path: Path) -> None:
    generate_log(tmp_path / "g.jsonl", "m3", 3)
    logs = [read_log(path) for path in (LOG_A, LOG_B, MODELGRADED, tmp_path / "g.jsonl")]
    comparison = compare_logs(logs)
    table = render_table(comparison)
    out = tmp_path / "out"
    assert write_csv(comparison, out) == [out / "summary.csv", out / "per_class.csv"]
    write_json(comparison, out / "comparison.json")
    assert Comparison.model_validate_json((out / "comparison.json").read_text()) == comparison
    with (out / "summary.csv").open(newline="") as fh:
        summary = list(csv.DictReader(fh))
    with (out / "per_class.csv").open(newline="") as fh:
        per_class = list(csv.DictReader(fh))
    parsed = _table_rows(table)
    assert len(summary) == len(comparison.rows) == 4
    for record, row in zip(summary, comparison.rows, strict=True):
        assert (record["eval"], record["model"], record["kind"]) == (row.eval, row.model, row.kind)
        assert int(record["n"]) == row.n and int(record["invalid"]) == row.invalid
        cells = parsed[(row.eval, row.model)]
        assert cells[0] == record["n"] and cells[3] == record["invalid"]
        assert cells[4] == f"{float(record['samples_per_s']):.2f}"
        if row.kind == "classification":
            assert float(record["accuracy"]) == row.accuracy
            assert row.macro is not None and float(record["macro_f1"]) == row.macro.f1
            assert cells[1] == f"{float(record['accuracy']):.3f}"
            assert cells[2] == f"{float(record['macro_f1']):.3f}"
            assert parsed[(row.run_id, "macro avg")][2] == f"{row.macro.f1:.3f}"
        else:
            assert record["accuracy"] == "" and cells[1] == "-"
            assert json.loads(record["choice_counts"]) == row.choice_counts
    assert len(per_class) == sum(len(row.per_class) for row in comparison.rows) == 3 + 2 + 3
    by_run = {row.run_id: row for row in comparison.rows}
    for record in per_class:
        report = by_run[record["run_id"]].per_class[record["label"]]
        assert float(record["f1"]) == report.f1 and int(record["support"]) == report.support
        cells = parsed[(record["run_id"], record["label"])]
        figures = [float(record[key]) for key in ("precision", "recall", "f1")]
        assert cells == [*(f"{x:.3f}" for x in figures), record["support"]]


def test_table_is_aligned_and_frames_have_columns(tmp_path: Path) -> None:
    comparison = compare_logs([read_log(LOG_A), read_log(LOG_B), read_log(LOG_A)])
    table = render_table(comparison)
    block = table.split("\n\n")[0].splitlines()
    assert block[0] == "eval: safety-clf"
    assert len({len(line) for line in block[1:]}) == 1  # fixed-width summary lines
    assert "run" in block[1].split()  # the same model twice: runs are shown
    frames = comparison_frames(comparison)
    assert list(frames["summary"]["model"]) == ["ft-a", "ft-b,dummy", "ft-a"]
    assert len(frames["per_class"]) == 3 + 2 + 3
    empty = comparison_frames(Comparison(rows=[]))
    assert empty["summary"].empty and "macro_f1" in empty["summary"].columns
