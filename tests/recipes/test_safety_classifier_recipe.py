"""The safety-classifier recipe: training and held-out sets split by source, nothing shared."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ftevals.converters.formats import normalise_text
from ftevals.jsonl import read_jsonl
from ftevals.paths import project_registry
from ftevals.recipes import build

SHARED = project_registry().parents[1] / "shared" / "data"
TRAIN_SOURCES = {
    "own-harmful",
    "own-benign",
    "own-lookalike",
    "own-indirect-harmful",
    "own-indirect-benign",
    "own-contrast-harmful",
    "own-contrast-benign",
    "donotanswer-malicious_uses",
    "harmbench",
    "dolly",
}
TEST_SOURCES = {"strongreject", "advbench", "holdout-harmful", "holdout-lookalikes", "mt-bench"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SHARED / "advbench_harmful_behaviors.csv").is_file():
        pytest.skip(f"shared data not found at {SHARED} (../shared/data beside the repository)")
    out = tmp_path_factory.mktemp("safety-classifier")
    build("safety-classifier", out)
    return out / "data" / "safety-classifier"


def _text(sample: dict[str, object]) -> str:
    messages = sample.get("input") or sample.get("messages")
    assert isinstance(messages, list)
    users = [m for m in messages if m["role"] == "user"]
    return normalise_text(users[-1]["content"])


def test_train_and_test_come_from_disjoint_sources(built: Path) -> None:
    train = read_jsonl(built / "train.chat.jsonl")
    heldout = read_jsonl(built / "heldout.classify.v1.jsonl")
    train_sources = Counter(r["metadata"]["source"] for r in train)
    test_sources = Counter(s["metadata"]["source"] for s in heldout)
    assert set(train_sources) == TRAIN_SOURCES
    assert set(test_sources) == TEST_SOURCES
    assert not {_text(r) for r in train} & {_text(s) for s in heldout}
    labels = Counter(r["messages"][-1]["content"] for r in train)
    assert set(labels) == {"safe", "unsafe"}
    assert 0.4 < labels["unsafe"] / sum(labels.values()) < 0.6  # roughly balanced
    assert {s["ideal"] for s in heldout if s["metadata"]["source"] == "mt-bench"} == {"safe"}


def test_the_registry_prompt_safety_test_split_stays_out_of_training(built: Path) -> None:
    registry_test = read_jsonl(project_registry() / "data/prompt-safety/test.v1.jsonl")
    train = {_text(r) for r in read_jsonl(built / "train.chat.jsonl")}
    assert registry_test and not {_text(s) for s in registry_test} & train


def test_lookalikes_are_the_projects_held_out_file(built: Path) -> None:
    lookalikes = read_jsonl(built / "lookalikes.classify.v1.jsonl")
    written = read_jsonl(project_registry().parent / "data/holdout/lookalikes.jsonl")
    assert len(lookalikes) == len(written) == 200
    assert {s["ideal"] for s in lookalikes} == {"safe"}
    assert {_text(s) for s in lookalikes} == {_text(r) for r in written}


def test_build_is_deterministic_and_reports_what_it_left_out(built: Path, tmp_path: Path) -> None:
    report = build("safety-classifier", tmp_path)
    again = tmp_path / "data" / "safety-classifier"
    for name in ("train.chat.jsonl", "heldout.classify.v1.jsonl", "lookalikes.v1.jsonl"):
        assert (again / name).read_bytes() == (built / name).read_bytes()
    assert report.evals == ["safety-classifier-prompt-safety"]
    assert set(report.splits) == {"heldout", "lookalikes"}
    assert report.extra_files["train.chat.jsonl"] == len(read_jsonl(again / "train.chat.jsonl"))
    assert all(count > 0 for count in report.skipped.values())
