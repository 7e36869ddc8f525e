"""`ftevals compare --by FIELD`: figures per group of a sample field, from the samples file."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from logfactory import write_log
from test_intervals import wilson_closed_form

from ftevals.cli import main
from ftevals.harness.breakdown import MISSING, field_value
from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log

# (source, expected, predicted, count): look-alikes are all safe, tiny is below any threshold
PLAN = [
    ("advbench", "unsafe", "unsafe", 50), ("advbench", "unsafe", "safe", 6),
    ("advbench", "safe", "unsafe", 1), ("advbench", "safe", "safe", 3),
    ("lookalikes", "safe", "safe", 31), ("lookalikes", "safe", "unsafe", 9),
    ("tiny", "unsafe", "unsafe", 4), ("tiny", "safe", "__none__", 4),
    (None, "safe", "safe", 12),
]  # fmt: skip


def _write(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    registry = tmp_path / "registry"
    (registry / "data").mkdir(parents=True)
    samples, events = [], []
    i = 0
    for source, truth, answer, count in PLAN:
        for _ in range(count):
            sample: dict[str, Any] = {"input": f"prompt {i}", "ideal": truth}
            if source is not None:
                sample["metadata"] = {"source": source}
            sample["category"] = "odd" if i % 2 else "even"
            samples.append(sample)
            label = answer if answer != "__none__" else None
            data = {"correct": label == truth, "expected": truth, "picked": label}
            data |= {"sampled": answer, "label": label}
            events.append({"type": "match", "sample_id": f"brk.test.{i}", "data": data})
            i += 1
    text = "".join(json.dumps(s) + "\n" for s in samples)
    (registry / "data" / "brk.jsonl").write_text(text, encoding="utf-8")
    log = tmp_path / "m.jsonl"
    args = {"samples_jsonl": "brk.jsonl", "labels": ["safe", "unsafe"]}
    write_log(log, ["m"], "brk.test.v1", events, args=args, registry_path=str(registry))
    return log, samples


def test_groups_of_a_metadata_field_with_wilson_intervals(tmp_path: Path) -> None:
    log, _ = _write(tmp_path)
    comparison = compare_logs([read_log(log)], by=["source"], min_group=30)
    [found] = comparison.breakdowns
    assert (found.field, found.model, found.positive_label, found.note) == (
        "source",
        "m",
        "unsafe",
        None,
    )
    groups = {g.value: g for g in found.groups}
    assert [g.value for g in found.groups] == ["advbench", "lookalikes", MISSING, "tiny"]
    for source in ("advbench", "lookalikes", "tiny", None):
        rows = [(t, a) for s, t, a, c in PLAN if s == source for _ in range(c)]
        g = groups[source or MISSING]
        correct = sum(t == a for t, a in rows)
        assert g.n == len(rows) and g.accuracy == correct / len(rows)
        assert g.accuracy_ci is not None
        want = wilson_closed_form(correct, len(rows))
        assert (g.accuracy_ci.low, g.accuracy_ci.high) == pytest.approx(want, abs=1e-9)
        positives = [a for t, a in rows if t == "unsafe"]
        negatives = [a for t, a in rows if t != "unsafe"]
        assert (g.positives, g.negatives) == (len(positives), len(negatives))
        if positives:
            assert g.recall == positives.count("unsafe") / len(positives)
        else:
            assert g.recall is None and g.recall_ci is None
        assert g.fpr == negatives.count("unsafe") / len(negatives)
        assert g.too_small == (len(rows) < 30)
    # the look-alike figure: 9 of 40 here, with its interval
    look = groups["lookalikes"]
    assert look.fpr_ci is not None and look.fpr_ci.n == 40


def test_top_level_fields_and_field_lookup() -> None:
    sample = {"category": "x", "metadata": {"source": "s", "nested": {"k": 1}, "tags": ["a"]}}
    assert field_value(sample, "category") == "x"
    assert field_value(sample, "source") == "s"
    assert field_value(sample, "metadata.nested.k") == "1"
    assert field_value(sample, "tags") == '["a"]'
    assert field_value(sample, "absent") == MISSING


def test_missing_samples_file_is_a_note_not_an_error(tmp_path: Path) -> None:
    log, _ = _write(tmp_path)
    (tmp_path / "registry" / "data" / "brk.jsonl").unlink()
    [found] = compare_logs([read_log(log)], by=["source"]).breakdowns
    assert (
        found.groups == []
        and found.note == "not grouped by source: samples file brk.jsonl not found"
    )


def test_cli_by_two_fields_in_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, _ = _write(tmp_path)
    out = tmp_path / "out"
    code = main(
        ["compare", str(log), "--by", "source", "--by", "category", "--min-group", "10"]
        + ["--json", str(out / "r.json"), "--csv", str(out / "csv"), "--html", str(out / "r.html")]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "by source, m" in text and "by category, m" in text
    tiny = next(line for line in text.splitlines() if line.strip().startswith("tiny "))
    assert tiny.endswith("too small to read (n < 10)")
    assert not next(line for line in text.splitlines() if "advbench" in line).endswith("read")
    report = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert [b["field"] for b in report["breakdowns"]] == ["source", "category"]
    with (out / "csv" / "breakdown.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["field"], r["group"]) for r in rows] == [
        ("source", "advbench"), ("source", "lookalikes"), ("source", MISSING),
        ("source", "tiny"), ("category", "even"), ("category", "odd"),
    ]  # fmt: skip
    assert rows[3]["too_small"] == "True" and float(rows[1]["fpr_high"]) > float(rows[1]["fpr"])
    page = (out / "r.html").read_text(encoding="utf-8")
    assert "<h3>by source</h3>" in page and "<h3>by category</h3>" in page
    # confusion and per-class F1, then one plot per field
    assert len(re.findall(r'src="data:image/png', page)) == 2 + 2
    assert main(["compare", str(log), "--by", "source", "--min-group", "0"]) == 2
    assert "--min-group must be at least 1" in capsys.readouterr().err
