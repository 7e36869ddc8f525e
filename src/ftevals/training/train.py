"""``train(config)``: the entry point of ``ftevals train`` for both kinds; ``train_seeds`` for
``--seeds N``: the same config trained with N seeds, one adapter each."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftevals import extras
from ftevals.errors import FtevalsError
from ftevals.training.config import TrainConfig

SEED_SUFFIX = "-seed{seed}"
"""Appended to the output directory of each seed (``ftevals.harness.seeds`` reads it back)."""


def train(
    config: TrainConfig,
    *,
    progress: bool = True,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a LoRA adapter of ``config.kind``; returns the adapter directory."""
    extras.require("train", "ftevals train")
    if config.kind == "causal":
        from ftevals.training.causal import train_causal

        return train_causal(config, progress=progress, resume=resume, on_step=on_step)
    from ftevals.training.classifier import train_classifier

    return train_classifier(config, progress=progress, resume=resume, on_step=on_step)


def seed_configs(config: TrainConfig, seeds: int) -> list[TrainConfig]:
    """The configs of ``--seeds N``: seeds ``config.seed`` .. ``config.seed + N - 1``, each
    written to ``<out>-seed<k>``."""
    if seeds < 1:
        raise FtevalsError(f"--seeds must be at least 1, got {seeds}")
    out = config.out.rstrip("/\\") or config.out
    return [
        config.model_copy(update={"seed": seed, "out": out + SEED_SUFFIX.format(seed=seed)})
        for seed in range(config.seed, config.seed + seeds)
    ]


def seed_summary(out: Path, meta: dict[str, Any]) -> str:
    """One line of a finished seed: steps, loss, best validation loss, time."""
    figures = meta.get("train", {})

    def number(key: str, digits: int = 4) -> str:
        value = figures.get(key)
        return "-" if value is None else f"{value:.{digits}f}"

    line = (
        f"seed {meta.get('seed')}: {out}  steps {figures.get('steps', '-')}, "
        f"loss {number('first_loss')} -> {number('final_loss')}"
    )
    if figures.get("best_val_loss") is not None:
        line += f", best validation loss {number('best_val_loss')} at step {figures['best_step']}"
    return line + f", {number('seconds', 0)} s"


def train_seeds(
    config: TrainConfig,
    seeds: int,
    *,
    progress: bool = True,
    resume: bool = False,
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Train ``config`` once per seed (:func:`seed_configs`); record ``seed`` and
    ``seed_group`` (the last part of ``config.out``) in each adapter's ``ftevals.json`` and
    ``report`` one summary line per seed. Returns the adapter directories."""
    from ftevals.runtime.meta import AdapterMeta, read_meta, write_meta

    group = Path(config.out).name
    written = []
    for run in seed_configs(config, seeds):
        out = train(run, progress=progress, resume=resume)
        if int(os.environ.get("RANK", "0")) == 0:  # under accelerate launch: the main process
            record = read_meta(out).to_json() | {"seed": run.seed, "seed_group": group}
            write_meta(out, AdapterMeta.model_validate(record))
            report(seed_summary(out, record))
        written.append(out)
    return written
