"""Runs of one model with several seeds: grouping by name or adapter metadata, mean and spread."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from logfactory import classification_log

from ftevals.harness.compare import compare_logs
from ftevals.harness.export import write_csv
from ftevals.harness.logs import read_log
from ftevals.harness.report_html import render_html
from ftevals.harness.report_text import render_table
from ftevals.harness.seeds import split_seed


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minilm-a-seed2", ("minilm-a", 2)),
        ("hf-classifier[adapter=minilm-a-seed10]", ("hf-classifier[adapter=minilm-a]", 10)),
        ("hf-causal[adapters=x-seed1|y-seed1]", ("hf-causal[adapters=x|y]", 1)),
        ("hf-causal[adapters=x-seed1|y-seed2]", ("hf-causal[adapters=x-seed1|y-seed2]", None)),
        ("minilm-seeded", ("minilm-seeded", None)),
        ("seed3-minilm", ("seed3-minilm", None)),
        ("gpt-4o", ("gpt-4o", None)),
    ],
)
def test_split_seed(name: str, expected: tuple[str, int | None]) -> None:
    assert split_seed(name) == expected


def _with_command(path: Path, command: str) -> Path:
    """Put a recorded command line into a log's spec (as oaieval writes it)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    spec = json.loads(lines[0])
    spec["spec"]["run_config"]["command"] = command
    path.write_text("\n".join([json.dumps(spec), *lines[1:]]) + "\n", encoding="utf-8")
    return path


def test_seeds_of_one_model_are_grouped_with_mean_and_spread(tmp_path: Path) -> None:
    paths = []
    for seed in (0, 1, 2):
        path = tmp_path / f"s{seed}.jsonl"
        classification_log(path, f"minilm-a-seed{seed}", seed=10 + seed, probs=True)
        paths.append(path)
    classification_log(tmp_path / "other.jsonl", "keywords", seed=99, probs=True)
    classification_log(tmp_path / "lone.jsonl", "lone-seed0", seed=7)  # one seed: no group
    logs = [read_log(p) for p in [*paths, tmp_path / "other.jsonl", tmp_path / "lone.jsonl"]]
    comparison = compare_logs(logs)
    [group] = comparison.seed_groups
    assert (group.model, group.seeds, group.eval_name) == ("minilm-a", [0, 1, 2], "gen-clf.dev.v0")
    assert group.models == ["minilm-a-seed0", "minilm-a-seed1", "minilm-a-seed2"]
    rows = comparison.rows[:3]
    expected = {
        "accuracy": [r.accuracy for r in rows],
        "macro_f1": [r.macro.f1 for r in rows if r.macro is not None],
        "positive_f1": [r.per_class["unsafe"].f1 for r in rows],
        "auprc": [r.auprc for r in rows],
    }
    assert set(group.figures) == set(expected)
    for name, values in expected.items():
        figure = group.figures[name]
        assert figure.n == 3
        assert figure.mean == pytest.approx(statistics.fmean(values))
        assert figure.std == pytest.approx(statistics.stdev(values))
        assert (figure.min, figure.max) == (min(values), max(values))
    assert len(set(expected["accuracy"])) > 1  # the seeds differ, so the spread is not 0

    text = render_table(comparison)
    assert "over seeds (mean ± std [min, max]" in text
    acc = group.figures["accuracy"]
    cell = f"{acc.mean:.3f} ± {acc.std:.3f} [{acc.min:.3f}, {acc.max:.3f}]"
    assert cell in text and "3 (0, 1, 2)" in text and "F1 unsafe" in text
    assert cell in render_html(comparison)
    assert json.loads(comparison.model_dump_json())["seed_groups"][0]["model"] == "minilm-a"
    write_csv(comparison, tmp_path / "csv")
    lines = list(csv.DictReader((tmp_path / "csv" / "seed_groups.csv").open()))
    assert [line["figure"] for line in lines] == ["accuracy", "macro_f1", "positive_f1", "auprc"]
    assert lines[0]["seeds"] == "0 1 2" and float(lines[0]["mean"]) == pytest.approx(acc.mean)


def test_adapter_names_in_display_names_are_grouped_per_eval(tmp_path: Path) -> None:
    logs = []
    for seed in (3, 4):
        for split in ("dev", "test"):
            path = tmp_path / f"{split}{seed}.jsonl"
            classification_log(path, "hf-classifier", seed=seed, eval_name=f"gen-clf.{split}.v0")
            command = f"oaieval hf-classifier gen-clf --completion_args adapter=/a/m-seed{seed}"
            logs.append(read_log(_with_command(path, command)))
    groups = compare_logs(logs).seed_groups
    assert [(g.eval_name, g.model, g.seeds) for g in groups] == [
        ("gen-clf.dev.v0", "hf-classifier[adapter=m]", [3, 4]),
        ("gen-clf.test.v0", "hf-classifier[adapter=m]", [3, 4]),
    ]


def test_seed_recorded_in_adapter_metadata_groups_renamed_adapters(tmp_path: Path) -> None:
    logs = []
    for seed, name in ((0, "first-try"), (1, "second-try"), (2, "unrelated")):
        adapter = tmp_path / name
        adapter.mkdir()
        (adapter / "adapter_config.json").write_text("{}")
        meta = {"kind": "classifier", "config": {"seed": seed}}
        if name != "unrelated":
            meta |= {"seed": seed, "seed_group": "minilm-b"}
        (adapter / "ftevals.json").write_text(json.dumps(meta))
        path = tmp_path / f"{name}.jsonl"
        classification_log(path, "hf-classifier", seed=seed)
        command = f"oaieval hf-classifier gen-clf --completion_args adapter={adapter}"
        logs.append(read_log(_with_command(path, command)))
    [group] = compare_logs(logs).seed_groups
    assert (group.model, group.seeds) == ("hf-classifier[adapter=minilm-b]", [0, 1])
    assert group.models == ["hf-classifier[adapter=first-try]", "hf-classifier[adapter=second-try]"]
