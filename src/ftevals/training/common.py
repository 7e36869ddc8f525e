"""Pieces both trainers share: training data record, validation split, LoRA config.

Adapter metadata (``ftevals.json``) is :class:`ftevals.runtime.meta.AdapterMeta`, written with
:func:`ftevals.runtime.meta.write_meta`; tokenizers load through
:func:`ftevals.runtime.loading.load_tokenizer`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ftevals.jsonl import file_sha256
from ftevals.training.config import TrainConfig

logger = logging.getLogger(__name__)

# LoRA targets per model type when the config names none; others get peft's "all-linear".
DEFAULT_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gpt2": ["c_attn"],
}
# Heads trained in full beside the LoRA weights. all-MiniLM-L6-v2 was trained with mean
# pooling, so BERT's [CLS] pooler is untrained for this use and must learn too. peft adds
# the classification head (``classifier`` / ``score``) by itself.
DEFAULT_MODULES_TO_SAVE: dict[str, list[str]] = {"bert": ["classifier", "pooler"]}


def training_data(config: TrainConfig, sha256: str | None = None) -> list[dict[str, Any]]:
    """The training files of a run as ``ftevals.json`` records them (``training_data``): the path
    as given and absolute, sha256, format and text field, so that ``ftevals compare`` can check
    an eval's samples against them (:mod:`ftevals.harness.contamination`)."""
    path = Path(config.data)
    return [
        {
            "path": config.data,
            "absolute_path": str(path.resolve()),
            "sha256": sha256 or file_sha256(path),
            "format": config.format,
            "text_field": config.text_field,
        }
    ]


def validation_side(key: str, config: TrainConfig) -> bool:
    """True when a row (by its split key) is held out for validation.

    The seed differs from ``ftevals convert --split``'s, so validation rows are not just the
    rows that a converter split already sent to the test file.
    """
    from ftevals.converters.split import assign_split

    if config.val_fraction <= 0:
        return False
    return assign_split(key, config.val_fraction, seed=f"ftevals-val:{config.seed}") == "test"


def target_modules(model: Any, config: TrainConfig) -> list[str] | str:
    if config.lora.target_modules:
        return list(config.lora.target_modules)
    model_type = getattr(model.config, "model_type", "")
    if model_type in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[model_type]
    logger.info("no default LoRA targets for model type %r: using all-linear", model_type)
    return "all-linear"


def lora_config(model: Any, config: TrainConfig, task_type: str) -> Any:
    """peft ``LoraConfig`` from the settings (defaults filled in for the model type)."""
    from peft import LoraConfig

    settings = config.lora
    model_type = getattr(model.config, "model_type", "")
    modules_to_save = settings.modules_to_save
    if modules_to_save is None and task_type == "SEQ_CLS":
        modules_to_save = DEFAULT_MODULES_TO_SAVE.get(model_type)
    return LoraConfig(
        task_type=task_type,
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        bias=settings.bias,
        target_modules=target_modules(model, config),
        modules_to_save=modules_to_save,
        use_rslora=settings.use_rslora,
        use_dora=settings.use_dora,
        init_lora_weights=settings.init_lora_weights,
        fan_in_fan_out=settings.fan_in_fan_out or model_type == "gpt2",
        layers_to_transform=settings.layers_to_transform,
        rank_pattern=dict(settings.rank_pattern),
        alpha_pattern=dict(settings.alpha_pattern),
    )


def peak_memory_mb() -> float:
    """Peak resident memory of this process (CUDA: peak allocated), in MB."""
    import resource
    import sys

    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
