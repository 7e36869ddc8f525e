"""The same ``ftevals train`` under ``accelerate launch`` and with two CPU processes (DDP)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "accelerate"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train_args(base: Path, data: Path, out: Path) -> list[str]:
    return [
        str(BIN / "ftevals"),
        "train",
        "--kind",
        "causal",
        "--base",
        str(base),
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--quiet",
    ]


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_shipped_accelerate_configs_are_valid() -> None:
    expected = {"cpu_single": "NO", "ddp": "MULTI_GPU", "fsdp": "FSDP"}
    for name, kind in expected.items():
        config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
        assert config["distributed_type"] == kind
        assert config["num_machines"] == 1
    fsdp = yaml.safe_load((CONFIGS / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"


@pytest.mark.skipif(not (BIN / "accelerate").is_file(), reason="accelerate CLI not installed")
def test_train_under_accelerate_launch(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "adapter"
    cmd = [str(BIN / "accelerate"), "launch", "--config_file", str(CONFIGS / "cpu_single.yaml")]
    cmd += ["--num_cpu_threads_per_process", "1", "--main_process_port", str(free_port())]
    result = run([*cmd, *train_args(tiny_llama_dir, tiny_chat_data, out)])
    assert f"adapter written to {out}" in result.stdout
    meta = json.loads((out / "ftevals.json").read_text())
    assert meta["train"]["processes"] == 1 and meta["train"]["steps"] == 2


@pytest.mark.skipif(shutil.which("torchrun", path=str(BIN)) is None, reason="no torchrun")
def test_two_processes_share_the_batches(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    """DDP over gloo on the CPU: each process takes every other batch; rank 0 saves."""
    out = tmp_path / "ddp"
    cmd = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port())]
    args = train_args(tiny_llama_dir, tiny_chat_data, out)
    run([*cmd, *args, "--val-fraction", "0.25"], env={"ACCELERATE_USE_CPU": "true"})
    meta = json.loads((out / "ftevals.json").read_text())
    assert meta["train"]["processes"] == 2
    assert meta["train"]["steps"] == 2
    # Each process saw 2 batches of 4 (its own share); validation loss was reduced over both.
    assert meta["train"]["examples_seen"] == 8
    assert len(meta["train"]["validation"]) == 1
    assert (out / "adapter_model.safetensors").is_file()
