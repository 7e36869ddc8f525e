"""Training checkpoints for ``--resume``: adapter weights, optimizer, scheduler, RNG, loop state.

A checkpoint is ``<out>/checkpoints/step-NNNNNN/``, written by ``Accelerator.save_state`` (the
optimizer, the registered scheduler and every process's RNG states; FSDP saves its own shards)
plus ``trainable.safetensors`` (only the trained parameters, not the frozen base) and
``state.json`` (step, losses, validation history, the config and the data hash). It is written
to a ``.tmp`` directory and renamed, so a checkpoint that exists is complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
TRAINABLE_FILE = "trainable.safetensors"
BEST_FILE = "best.safetensors"


def checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``out``, oldest first."""
    root = out / CHECKPOINTS
    found = []
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith("step-") and (path / STATE_FILE).is_file():
                try:
                    found.append((int(path.name[5:]), path))
                except ValueError:
                    continue
    return sorted(found)


def trainable_state(model: Any) -> dict[str, Any]:
    """Detached CPU copies of the trained parameters (name -> tensor)."""
    return {
        name: param.detach().to("cpu", copy=True).contiguous()
        for name, param in model.named_parameters()
        if param.requires_grad
    }


def load_trainable(model: Any, state: dict[str, Any], where: str) -> None:
    """Copy saved trained parameters back; every trained parameter must be present."""
    import torch

    params = dict(model.named_parameters())
    wanted = {n for n, p in params.items() if p.requires_grad}
    missing, unexpected = wanted - set(state), set(state) - set(params)
    if missing or unexpected:
        raise FtevalsError(
            f"{where}: checkpoint does not fit the model "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device))


def install_hooks(accelerator: Any) -> list[Any]:
    """Make ``save_state``/``load_state`` store only trained parameters (not the frozen base).

    FSDP keeps its own sharded model files, so the hooks leave it alone.
    """
    from accelerate.utils import DistributedType
    from safetensors.torch import load_file, save_file

    if accelerator.distributed_type == DistributedType.FSDP:
        return []

    def save_hook(models: list[Any], weights: list[Any], output_dir: str) -> None:
        for i, model in enumerate(models):
            state = trainable_state(accelerator.unwrap_model(model))
            if accelerator.is_main_process:
                save_file(state, os.path.join(output_dir, f"trainable_{i}.safetensors"))
        weights.clear()

    def load_hook(models: list[Any], input_dir: str) -> None:
        for i, model in enumerate(models):
            path = os.path.join(input_dir, f"trainable_{i}.safetensors")
            if not os.path.isfile(path):
                raise FtevalsError(f"{input_dir}: checkpoint has no trained weights ({path})")
            load_trainable(accelerator.unwrap_model(model), load_file(path), input_dir)
        models.clear()

    return [
        accelerator.register_save_state_pre_hook(save_hook),
        accelerator.register_load_state_pre_hook(load_hook),
    ]


def rng_snapshot() -> dict[str, Any]:
    """The RNG states ``save_state`` records, taken at an optimizer-step boundary."""
    import numpy as np
    import torch

    snap: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        snap["cuda"] = torch.cuda.get_rng_state_all()
    return snap


def restore_rng(snap: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(snap["python"])
    np.random.set_state(snap["numpy"])
    torch.set_rng_state(snap["torch"])
    if "cuda" in snap:
        torch.cuda.set_rng_state_all(snap["cuda"])


def save(
    accelerator: Any,
    out: Path,
    step: int,
    state: dict[str, Any],
    best: dict[str, Any] | None,
    keep: int,
) -> Path:
    """Write checkpoint ``step`` (all processes call this) and keep the newest ``keep``."""
    from safetensors.torch import save_file

    root = out / CHECKPOINTS
    final = root / f"step-{step:06d}"
    tmp = root / f".step-{step:06d}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every process has written its RNG states
    if accelerator.is_main_process:
        if best is not None:
            save_file(best, str(tmp / BEST_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for _, old in checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load(accelerator: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Restore a checkpoint into the accelerator's objects; returns (loop state, best weights)."""
    from safetensors.torch import load_file

    state: dict[str, Any] = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    accelerator.load_state(str(path))
    best = load_file(str(path / BEST_FILE)) if (path / BEST_FILE).is_file() else None
    return state, best
