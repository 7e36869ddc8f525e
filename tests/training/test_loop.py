"""The shared training loop: batch plans, validation, early stopping, checkpoints, --resume."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftevals.converters.formats import read_rows
from ftevals.converters.split import assign_split, split_key
from ftevals.errors import FtevalsError
from ftevals.training import checkpoint
from ftevals.training.batching import Encoded, collate, plan_batches
from ftevals.training.config import TrainConfig
from ftevals.training.train import train


def test_batch_plan_covers_every_example_once_and_is_reproducible() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(3, 90) for _ in range(203)]
    plan = plan_batches(lengths, 8, 4, seed=3, epoch=0)
    assert sorted(i for batch in plan for i in batch) == list(range(203))
    assert all(1 <= len(batch) <= 8 for batch in plan)
    assert plan == plan_batches(lengths, 8, 4, seed=3, epoch=0)
    assert plan != plan_batches(lengths, 8, 4, seed=3, epoch=1)
    assert plan != plan_batches(lengths, 8, 4, seed=4, epoch=0)

    def padding(batches: list[list[int]]) -> int:
        return sum(
            max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches
        )

    unsorted = plan_batches(lengths, 8, 1, seed=3, epoch=0)
    assert padding(plan) < padding(unsorted) / 2


def test_collate_pads_right_and_masks_labels() -> None:
    batch = collate([Encoded([5, 6, 7], [-100, 6, 7]), Encoded([9], [9])], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [9, -100, -100]]
    targets = collate([Encoded([1, 2], target=1), Encoded([3], target=0)], pad_id=0)
    assert targets["labels"].tolist() == [1, 0]


def causal_config(base: Path, data: Path, out: Path, **kw: object) -> TrainConfig:
    settings: dict[str, object] = {
        "max_steps": 6,
        "batch_size": 4,
        "grad_accum": 2,
        "learning_rate": 1e-2,
        "val_fraction": 0.25,
        "eval_every": 2,
        "lora": {"lora_dropout": 0.2},
    }
    settings.update(kw)
    return TrainConfig(data=str(data), out=str(out), kind="causal", base=str(base), **settings)  # type: ignore[arg-type]


def adapter_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "adapter_model.safetensors"))


class Interrupt:
    """``on_step`` callback that raises KeyboardInterrupt (as Ctrl-C would) after a step."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self, step: int, loss: float) -> None:
        if step == self.at:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def uninterrupted(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("loop") / "straight"
    return train(causal_config(tiny_llama_dir, tiny_chat_data, out), progress=False)


def test_resume_after_interrupt_gives_the_uninterrupted_result(
    uninterrupted: Path, tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    """Dropout, shuffling, optimizer and scheduler all continue exactly where they stopped."""
    config = causal_config(tiny_llama_dir, tiny_chat_data, tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        train(config, progress=False, on_step=Interrupt(3))
    assert [step for step, _ in checkpoint.checkpoints(tmp_path / "resumed")] == [3]
    assert not (tmp_path / "resumed" / "adapter_model.safetensors").exists()
    train(config, progress=False, resume=True)

    expected, got = adapter_weights(uninterrupted), adapter_weights(tmp_path / "resumed")
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    meta = json.loads((tmp_path / "resumed" / "ftevals.json").read_text())
    straight = json.loads((uninterrupted / "ftevals.json").read_text())
    assert meta["train"]["resumed_from"] == 3
    assert meta["train"]["validation"] == straight["train"]["validation"]
    assert meta["train"]["final_loss"] == straight["train"]["final_loss"]


def test_periodic_checkpoints_rotate(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    config = causal_config(
        tiny_llama_dir, tiny_chat_data, tmp_path / "a", checkpoint_every=2, keep_checkpoints=2
    )
    out = train(config, progress=False)
    assert [step for step, _ in checkpoint.checkpoints(out)] == [4, 6]
    files = {p.name for p in (out / "checkpoints" / "step-000006").iterdir()}
    assert {"state.json", "trainable_0.safetensors", "optimizer.bin"} <= files
    assert "model.safetensors" not in files  # the frozen base is not copied into checkpoints
    with pytest.raises(FtevalsError, match="holds checkpoints of an earlier run"):
        train(config, progress=False)
    with pytest.raises(FtevalsError, match=r"config or data changed \(learning_rate\)"):
        train(config.model_copy(update={"learning_rate": 0.5}), progress=False, resume=True)
    with pytest.raises(FtevalsError, match="nothing to resume"):
        train(config.model_copy(update={"out": str(tmp_path / "b")}), progress=False, resume=True)


def test_validation_split_is_the_hash_split_and_early_stopping_keeps_the_best(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    config = causal_config(
        tiny_llama_dir,
        tiny_chat_data,
        tmp_path / "a",
        max_steps=20,
        early_stopping_patience=2,
        early_stopping_min_delta=100.0,  # no later validation counts as an improvement
    )
    meta = json.loads((train(config, progress=False) / "ftevals.json").read_text())
    rows = read_rows(tiny_chat_data)
    held_out = [r for r in rows if assign_split(split_key(r), 0.25, "ftevals-val:0") == "test"]
    assert meta["train"]["validation_examples"] == len(held_out) > 0
    assert meta["train"]["examples"] == len(rows) - len(held_out)
    assert meta["train"]["stopped_early"] is True
    assert [v["step"] for v in meta["train"]["validation"]] == [2, 4, 6]
    assert meta["train"]["best_step"] == 2
    assert meta["train"]["steps"] == 6 < meta["train"]["total_steps"] == 20


def test_early_stopping_needs_validation(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="needs a validation split"):
        TrainConfig(data="d", out="o", early_stopping_patience=2)
