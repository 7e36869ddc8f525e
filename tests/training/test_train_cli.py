"""``ftevals train`` from a YAML config with flags on top, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ftevals.cli import main
from ftevals.jsonl import file_sha256
from ftevals.runtime.models import resolve_adapter
from ftevals.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]


def test_yaml_config_with_flag_overrides(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "causal",
                "base": str(tiny_llama_dir),
                "data": str(tiny_chat_data),
                "batch_size": 4,
                "max_steps": 5,
                "lora": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]},
            }
        )
    )
    out = tmp_path / "adapter"
    argv = ["train", "--config", str(config), "--out", str(out), "--max-steps", "2"]
    argv += ["--lora-r", "2", "--target-modules", "q_proj,v_proj", "--seed", "3", "--quiet"]
    assert main(argv) == 0
    assert f"adapter written to {out}" in capsys.readouterr().out
    meta = json.loads((out / "ftevals.json").read_text())
    assert meta["config"]["max_steps"] == 2 and meta["config"]["seed"] == 3
    assert meta["config"]["batch_size"] == 4
    assert meta["config"]["lora"]["r"] == 2 and meta["config"]["lora"]["lora_alpha"] == 8
    assert meta["data_sha256"] == file_sha256(tiny_chat_data)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 2 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert TrainConfig.from_dict(meta["config"]).lora.r == 2


def test_named_adapter_lands_in_the_ftevals_home(
    tiny_llama_dir: Path, tiny_chat_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--kind", "causal", "--base", str(tiny_llama_dir)]
    argv += ["--data", str(tiny_chat_data), "--name", "tiny-sft", "--max-steps", "1", "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    assert (resolve_adapter("tiny-sft") / "ftevals.json").is_file()


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "train").glob("*.yaml")))
def test_example_configs_are_valid(path: Path) -> None:
    config = TrainConfig.from_yaml(path, data="d.jsonl", out="o")
    assert config.kind in ("causal", "classifier")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("epochs: 1\nwarmup: 3\n", "unknown keys ['warmup']"),
        ("lora: {rank: 4}\n", "lora: unknown keys ['rank']"),
        ("kind: causal\n", "set data and out"),
        ("data: d\nout: o\nlearning_rate: -1\n", "learning_rate must be > 0"),
        ("- a\n", "expected a mapping"),
        ("lora: {target_modules: q_proj}\n", "lora.target_modules must be a list of strings"),
        ("data: d\nout: o\nmax_steps: 1.5\n", "max_steps must be an integer or null, got 1.5"),
    ],
)
def test_bad_configs_exit_2_with_a_clear_message(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    assert main(["train", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_yaml_numbers_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 reads 1e-3 as a string; a number field takes it as the number it means."""
    config = tmp_path / "c.yaml"
    config.write_text("data: d\nout: o\nlearning_rate: 1e-3\nepochs: 2\n")
    loaded = TrainConfig.from_yaml(config)
    assert loaded.learning_rate == 0.001 and isinstance(loaded.epochs, float)


def test_resume_without_checkpoints_exits_2(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--kind", "causal", "--base", str(tiny_llama_dir), "--data"]
    argv += [str(tiny_chat_data), "--out", str(tmp_path / "a"), "--resume", "--quiet"]
    assert main(argv) == 2
    assert "nothing to resume" in capsys.readouterr().err
