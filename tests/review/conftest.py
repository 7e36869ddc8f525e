"""Review fixtures: a real run of the keyword guard on a small eval in a temporary registry
(so fixing its samples never touches the project's registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from review_data import MINI, SYSTEM, write_jsonl


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, samples file): ``ftevals/keyword-guard`` on the MINI eval, run for real
    through evals' engine. Tests that edit the samples file copy the whole tree first."""
    from ftevals.harness.run import run_matrix

    root = tmp_path_factory.mktemp("mini-run")
    registry = root / "registry"
    samples = write_jsonl(
        registry / "data" / "review-mini" / "test.jsonl",
        [
            {
                "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}],
                "ideal": ideal,
            }
            for p, ideal, _ in MINI
        ],
    )
    (registry / "evals").mkdir()
    (registry / "evals" / "review-mini.yaml").write_text(
        "review-mini:\n  id: review-mini.test.v1\n  metrics: [accuracy]\n"
        "review-mini.test.v1:\n  class: ftevals.elsuite.classification:LabelMatch\n"
        "  args:\n    samples_jsonl: review-mini/test.jsonl\n    labels: [safe, unsafe]\n",
        encoding="utf-8",
    )
    run_dir = root / "run"
    manifest = run_matrix(["ftevals/keyword-guard"], ["review-mini"], run_dir, [str(registry)])
    assert [pair.status for pair in manifest.pairs] == ["done"], manifest.pairs
    return run_dir, samples


@pytest.fixture
def mini_copy(mini_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the mini run and its registry (logs point at the copied registry)."""
    run_dir, samples = mini_run
    root = tmp_path / "copy"
    registry = root / "registry"
    new_samples = root / samples.relative_to(samples.parents[3])
    new_samples.parent.mkdir(parents=True)
    new_samples.write_bytes(samples.read_bytes())
    old_registry = str(samples.parents[2])
    for log in run_dir.glob("*.jsonl"):
        text = log.read_text(encoding="utf-8").replace(
            json.dumps(old_registry)[1:-1], str(registry)
        )
        (root / "run").mkdir(exist_ok=True)
        (root / "run" / log.name).write_text(text, encoding="utf-8")
    return root / "run", new_samples
