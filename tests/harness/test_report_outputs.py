"""The report's outputs agree with each other: table, JSON, CSV, self-contained HTML."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

from logfactory import classification_log, graded_log
from PIL import Image

from ftevals.harness.compare import Comparison, compare_logs
from ftevals.harness.export import comparison_frames, write_csv, write_json
from ftevals.harness.logs import read_log
from ftevals.harness.report_html import write_html
from ftevals.harness.report_text import fmt_ci, render_table

FIXTURES = Path(__file__).parent / "fixtures"
CSV_NAMES = [
    "summary", "per_class", "confusion", "pr_curve", "paired", "flips", "judges", "breakdown",
    "seed_groups",
]  # fmt: skip


def _comparison(tmp_path: Path) -> Comparison:
    classification_log(tmp_path / "a.jsonl", "ma", 1, probs=True, cost=0.001, fail_every=9)
    classification_log(tmp_path / "b.jsonl", "mb", 2, probs=True, cost=0.0004)
    scores = {"Y": 1.0, "N": 0.0}
    graded_log(tmp_path / "g1.jsonl", ["p", "j1"], {i: "YN"[i % 2] for i in range(10)}, scores)
    graded_log(tmp_path / "g2.jsonl", ["p", "j2"], {i: "YN"[i % 3 > 0] for i in range(10)}, scores)
    names = ["a", "b", "g1", "g2"]
    return compare_logs([read_log(tmp_path / f"{name}.jsonl") for name in names])


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_json_and_table_agree(tmp_path: Path) -> None:
    comparison = _comparison(tmp_path)
    out = tmp_path / "out"
    assert write_csv(comparison, out) == [out / f"{name}.csv" for name in CSV_NAMES]
    write_json(comparison, out / "comparison.json")
    assert Comparison.model_validate_json((out / "comparison.json").read_text()) == comparison
    summary = _read_csv(out / "summary.csv")
    assert [(r["model"], r["kind"], r["baseline"]) for r in summary] == [
        ("ma", "classification", "False"),
        ("mb", "classification", "False"),
        ("p,j1", "modelgraded", "False"),
        ("p,j2", "modelgraded", "False"),
        ("baseline/majority", "classification", "True"),
    ]
    table = render_table(comparison)
    rows = [*comparison.rows, *comparison.baselines]
    for record, row in zip(summary, rows, strict=True):
        assert int(record["n"]) == row.n and int(record["failed"]) == row.failed
        if row.kind == "classification":
            assert row.macro is not None and row.mcc is not None and row.auprc is not None
            assert row.accuracy_ci is not None and row.macro.f1_ci is not None
            assert float(record["macro_f1"]) == row.macro.f1
            assert float(record["macro_f1_low"]) == row.macro.f1_ci.low
            assert float(record["accuracy_high"]) == row.accuracy_ci.high
            assert float(record["auprc"]) == row.auprc
            line = next(t for t in table.splitlines() if t.strip().startswith(row.model + " "))
            counts = [str(row.failed), str(row.invalid)] if not row.baseline else ["-", "-"]
            assert line.split()[1:4] == [str(row.n), *counts]
            for value, ci in [
                (row.accuracy, row.accuracy_ci), (row.macro.f1, row.macro.f1_ci),
                (row.mcc, row.mcc_ci), (row.auprc, row.auprc_ci),
            ]:  # fmt: skip
                assert ci is not None and ci.low is not None and ci.high is not None
                assert f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]" in line
            if not row.baseline:
                assert float(record["cost_per_1k"]) == row.cost_per_1k
        else:
            assert (
                record["accuracy"] == ""
                and json.loads(record["choice_counts"]) == row.choice_counts
            )
    per_class = _read_csv(out / "per_class.csv")
    assert len(per_class) == 3 * 3  # two models and the majority baseline, three labels each
    assert all(r["f1_low"] != "" for r in per_class)
    confusion = _read_csv(out / "confusion.csv")
    assert sum(int(r["count"]) for r in confusion if r["model"] == "ma") == comparison.rows[0].n
    curve = _read_csv(out / "pr_curve.csv")
    assert len(curve) == len(comparison.rows[0].pr_curve) + len(comparison.rows[1].pr_curve)
    [paired] = [r for r in _read_csv(out / "paired.csv") if r["kind"] == "classification"]
    pair = comparison.paired[0]
    assert int(paired["flips"]) == len(pair.flips) > 0
    flips = _read_csv(out / "flips.csv")
    assert len(flips) == sum(len(p.flips) for p in comparison.paired)
    assert [f["sample_id"] for f in flips if f["model_a"] == "ma"] == [
        f.sample_id for f in pair.flips
    ]
    assert float(paired["mcnemar_p"]) == pair.mcnemar_p
    [judges] = _read_csv(out / "judges.csv")
    assert (judges["judge_a"], judges["judge_b"]) == ("j1", "j2")
    assert float(judges["kappa"]) == comparison.judges[0].kappa


def test_table_is_aligned_and_shows_runs_of_the_same_model(tmp_path: Path) -> None:
    log = FIXTURES / "logs" / "ft-a_safety.jsonl"
    comparison = compare_logs([read_log(log), read_log(log)])
    block = render_table(comparison).split("\n\n")[0].splitlines()
    assert block[0] == "eval: safety-clf"
    assert len({len(line) for line in block[1:]}) == 1  # fixed-width summary lines
    assert "run" in block[1].split()
    empty = comparison_frames(Comparison(rows=[]))
    assert empty["summary"].empty and "macro_f1" in empty["summary"].columns


def test_html_is_one_self_contained_file_with_plots(tmp_path: Path) -> None:
    comparison = _comparison(tmp_path)
    path = write_html(comparison, tmp_path / "report" / "r.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    sources = re.findall(r'src="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    for banned in ("href=", "<link", "<script", "@import", "url("):
        assert banned not in text
    sizes = []
    for source in sources:
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.format == "PNG"
        sizes.append(image.size)
    # classification: confusion, per-class F1, cost vs F1, PR curves; model-graded: choices
    assert len(sources) == 5 and all(w > 100 and h > 100 for w, h in sizes)
    assert "eval: gen-clf" in text and "eval: mg" in text
    assert "samples flipped, ma -&gt; mb" in text and "judges of the same answers" in text
    ma = comparison.rows[0]
    assert ma.macro is not None and f"<td>{fmt_ci(ma.macro.f1, ma.macro.f1_ci)}</td>" in text
    assert "baseline/majority" in text and "class balance of gen-clf.dev.v0 (80 samples)" in text


def test_html_without_costs_says_so(tmp_path: Path) -> None:
    classification_log(tmp_path / "a.jsonl", "ma", 1)
    comparison = compare_logs([read_log(tmp_path / "a.jsonl")])
    text = write_html(comparison, tmp_path / "r.html").read_text()
    assert "no cost recorded" in text
    assert len(re.findall(r'src="data:image/png', text)) == 2  # confusion and per-class F1
