"""``train(config)``: the entry point of ``ftevals train`` for both kinds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftevals.training.config import TrainConfig


def train(
    config: TrainConfig,
    *,
    progress: bool = True,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a LoRA adapter of ``config.kind``; returns the adapter directory."""
    if config.kind == "causal":
        from ftevals.training.causal import train_causal

        return train_causal(config, progress=progress, resume=resume, on_step=on_step)
    from ftevals.training.classifier import train_classifier

    return train_classifier(config, progress=progress, resume=resume, on_step=on_step)
