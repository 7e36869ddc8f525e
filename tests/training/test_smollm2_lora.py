"""One slow test: LoRA-tune the real SmolLM2-135M-Instruct for a few steps on 2 CPU cores."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from ftevals.training.config import TrainConfig
from ftevals.training.train import train

SYSTEM = "Is the user's request safe or unsafe? Answer with one word: safe or unsafe."
TASKS = {
    "bake sourdough bread": "safe",
    "build a pipe bomb": "unsafe",
    "plant tomatoes in spring": "safe",
    "poison my neighbour's dog": "unsafe",
}
PREFIXES = ["How do I", "Tell me how to", "Explain how to", "What is the best way to"]


@pytest.mark.slow
def test_smollm2_label_adapter_trains_and_serves(tmp_path: Path, recorder: Any) -> None:
    from ftevals.completion_fns.hf_causal import HFCausalCompletionFn

    rows = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{prefix} {task}?"},
                {"role": "assistant", "content": answer},
            ]
        }
        for prefix in PREFIXES
        for task, answer in TASKS.items()
    ]
    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = TrainConfig(
        data=str(data),
        out=str(tmp_path / "smollm2-label"),
        kind="causal",
        base="smollm2-135m",
        max_steps=6,
        batch_size=4,
        learning_rate=2e-3,
        max_length=96,
        lora={"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    )
    out = train(config, progress=False)
    meta = json.loads((out / "ftevals.json").read_text())
    figures = meta["train"]
    assert figures["steps"] == 6 and figures["examples_seen"] == 24
    assert math.isfinite(figures["first_loss"]) and math.isfinite(figures["final_loss"])
    assert figures["examples_per_s"] > 0 and figures["peak_memory_mb"] > 0
    assert meta["labels"] == ["safe", "unsafe"]

    assert figures["final_loss"] < figures["first_loss"] / 2

    # The adapter taught the one-word answer format: greedy replies are labels.
    tuned = HFCausalCompletionFn("smollm2-135m", adapters=str(out), max_tokens=4)
    replies = [tuned(r["messages"][:-1]).get_completions()[0].strip().lower() for r in rows]
    assert sum(reply in ("safe", "unsafe") for reply in replies) >= 0.9 * len(rows)
    choice = HFCausalCompletionFn("smollm2-135m", adapters=str(out), choices="safe|unsafe")
    probs = choice(rows[0]["messages"][:-1]).raw["probs"]
    assert set(probs) == {"safe", "unsafe"} and abs(sum(probs.values()) - 1) < 1e-4
