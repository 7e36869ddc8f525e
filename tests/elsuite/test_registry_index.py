"""registry/README.md: the generated eval index matches the YAML, and every eval is versioned."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ftevals.elsuite import index
from ftevals.paths import project_registry

REGISTRY = project_registry()
VERSIONED = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z0-9-]+\.v[0-9]+$")


def test_readme_index_is_up_to_date() -> None:
    assert index.main(["--check"]) == 0, "run: python -m ftevals.elsuite.index"


def test_every_eval_is_versioned_described_and_has_samples() -> None:
    entries = index.eval_entries(REGISTRY)
    assert {e.name for e in entries} >= {
        "prompt-safety", "toxicity", "moderation", "error-categorization", "harmfulness",
        "refusal", "refusal-keyword", "over-refusal", "over-refusal-keyword", "utility-qa",
        "child-appropriate",
    }  # fmt: skip
    for e in entries:
        assert VERSIONED.match(e.concrete), f"{e.name}: {e.concrete} is not name.split.vN"
        assert e.concrete.startswith(e.name + "."), e.concrete
        assert "\n" not in e.description and len(e.description) < 400, e.name
        assert e.count, f"{e.name}: samples file {e.samples} missing or empty"


def test_project_samples_are_small_and_real() -> None:
    """The project's own data: 40-130 samples per file, no duplicate prompts within a file."""
    import json

    for path in sorted((REGISTRY / "data").glob("*/*.jsonl")):
        samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert 40 <= len(samples) <= 130, path
        prompts = [s["input"][-1]["content"] for s in samples]
        assert len(set(prompts)) == len(prompts), f"{path}: duplicate prompts"


def test_a_stale_readme_is_detected_and_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    for part in ("evals", "eval_sets", "data"):
        shutil.copytree(REGISTRY / part, root / part)
    readme = root / "README.md"
    readme.write_text(
        (REGISTRY / "README.md").read_text(encoding="utf-8").replace("`toxicity`", "`toxic`"),
        encoding="utf-8",
    )
    assert index.main(["--registry", str(root), "--check"]) == 1
    assert index.main(["--registry", str(root)]) == 0
    assert index.main(["--registry", str(root), "--check"]) == 0


def test_an_eval_without_description_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    (root / "evals").mkdir(parents=True)
    (root / "evals" / "x.yaml").write_text(
        "x:\n  id: x.test.v1\nx.test.v1:\n  class: a:B\n", encoding="utf-8"
    )
    with pytest.raises(index.FtevalsError, match="no description"):
        index.eval_entries(root)
