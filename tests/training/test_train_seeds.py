"""``ftevals train --seeds N``: one adapter per seed, the seed recorded, a line per seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftevals.cli import main
from ftevals.runtime.models import resolve_adapter
from ftevals.training.config import TrainConfig
from ftevals.training.train import seed_configs


def test_seed_configs_number_the_output_directories() -> None:
    config = TrainConfig(data="d.jsonl", out="runs/minilm-a/", seed=5)
    runs = seed_configs(config, 3)
    assert [(r.seed, r.out) for r in runs] == [
        (5, "runs/minilm-a-seed5"),
        (6, "runs/minilm-a-seed6"),
        (7, "runs/minilm-a-seed7"),
    ]
    assert all(r.data == "d.jsonl" and r.learning_rate == config.learning_rate for r in runs)
    assert config.seed == 5 and config.out == "runs/minilm-a/"  # the given config is unchanged


def test_train_seeds_writes_one_adapter_per_seed(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sft"
    argv = ["train", "--kind", "causal", "--base", str(tiny_llama_dir), "--data"]
    argv += [str(tiny_chat_data), "--out", str(out), "--max-steps", "1", "--batch-size", "4"]
    assert main([*argv, "--seed", "3", "--seeds", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    dirs = [tmp_path / "sft-seed3", tmp_path / "sft-seed4"]
    for seed, adapter in zip((3, 4), dirs, strict=True):
        meta = json.loads((adapter / "ftevals.json").read_text())
        assert (meta["seed"], meta["seed_group"], meta["config"]["seed"]) == (seed, "sft", seed)
        assert meta["config"]["out"] == str(adapter)
        [line] = [line for line in printed if line.startswith(f"seed {seed}: ")]
        assert str(adapter) in line and "steps 1, loss " in line
    assert not out.exists()
    weights = [(d / "adapter_model.safetensors").read_bytes() for d in dirs]
    assert weights[0] != weights[1]  # another seed, another LoRA initialisation
    assert printed[-2] == f"2 adapters written: {dirs[0]}, {dirs[1]}"


def test_named_adapters_with_seeds_default_to_seed_0(
    tiny_llama_dir: Path, tiny_chat_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--kind", "causal", "--base", str(tiny_llama_dir), "--data"]
    argv += [str(tiny_chat_data), "--name", "tiny-seeded", "--max-steps", "1", "--seeds", "2"]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    for seed in (0, 1):
        meta = json.loads((resolve_adapter(f"tiny-seeded-seed{seed}") / "ftevals.json").read_text())
        assert (meta["seed"], meta["seed_group"]) == (seed, "tiny-seeded")


def test_zero_seeds_is_a_usage_error(
    tiny_chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--data", str(tiny_chat_data), "--out", str(tmp_path / "x"), "--seeds", "0"]
    assert main(argv) == 2
    assert "--seeds must be at least 1, got 0" in capsys.readouterr().err
