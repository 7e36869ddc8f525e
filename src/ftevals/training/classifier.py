"""LoRA sequence classifiers: train from fine-tuning data, save, load.

An adapter directory holds peft's files (LoRA weights and the classification head,
saved through ``modules_to_save``), the tokenizer, and ``ftevals.json``: the base model
reference, the label set, the config, a hash of the training data and training figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals.completion_fns.base import text_to_classify
from ftevals.errors import FtevalsError, InputError
from ftevals.models import resolve_model
from ftevals.training.config import TrainConfig

logger = logging.getLogger(__name__)

META_FILE = "ftevals.json"
DEFAULT_TARGETS = {"bert": ["query", "key", "value", "dense"], "llama": ["q_proj", "v_proj"]}
# Heads trained in full beside the LoRA weights. all-MiniLM-L6-v2 was trained with mean
# pooling, so BERT's [CLS] pooler is untrained for this use and must learn too.
DEFAULT_MODULES_TO_SAVE = {"bert": ["classifier", "pooler"]}


@dataclass
class Example:
    text: str
    label: str
    line: int


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_examples(config: TrainConfig) -> list[Example]:
    """(text, label) pairs: the user turns and the last assistant turn of every row."""
    from ftevals.converters.formats import read_rows

    rows = read_rows(
        Path(config.data),
        config.format,
        text_field=config.text_field,
        label_field=config.label_field,
    )
    examples: list[Example] = []
    for row in rows:
        messages = row.messages
        last = max(
            (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None
        )
        if last is None:
            raise InputError(config.data, "row has no assistant turn to use as the label", row.line)
        label = str(messages[last].get("content") or "").strip()
        if not label:
            raise InputError(config.data, "empty label", row.line, "content")
        examples.append(Example(text_to_classify(messages[:last]), label, row.line))
    if not examples:
        raise FtevalsError(f"{config.data}: no training examples")
    return examples


def _target_modules(model: Any, config: TrainConfig) -> list[str]:
    if config.lora.target_modules:
        return list(config.lora.target_modules)
    model_type = getattr(model.config, "model_type", "")
    if model_type in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[model_type]
    raise FtevalsError(
        f"no default LoRA target modules for model type {model_type!r}; set lora.target_modules"
    )


def train_classifier(config: TrainConfig, progress: bool = True) -> Path:
    """Train a LoRA sequence classifier; returns the adapter directory."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    examples = load_examples(config)
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise FtevalsError(f"{config.data}: need at least two labels, found {labels}")
    label2id = {label: i for i, label in enumerate(labels)}
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    base_path = resolve_model(config.base)
    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=label2id,
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora.r,
        lora_alpha=config.lora.lora_alpha,
        lora_dropout=config.lora.lora_dropout,
        bias=config.lora.bias,
        target_modules=_target_modules(model, config),
        modules_to_save=config.lora.modules_to_save
        or DEFAULT_MODULES_TO_SAVE.get(model.config.model_type),
    )
    model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate
    )
    steps_per_epoch = max(1, -(-len(examples) // config.batch_size))
    total_batches = round(config.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / max(1, total_batches / config.grad_accum))
    )
    model.train()
    started = time.perf_counter()
    losses: list[float] = []
    order: list[int] = []
    bar = tqdm(total=total_batches, desc="train", unit="batch", disable=not progress)
    for step in range(total_batches):
        if not order:
            order = list(range(len(examples)))
            rng.shuffle(order)
        batch = [examples[order.pop()] for _ in range(min(config.batch_size, len(order)))]
        enc = tokenizer(
            [e.text for e in batch],
            truncation=True,
            max_length=config.max_length,
            padding=True,
            return_tensors="pt",
        )
        target = torch.tensor([label2id[e.label] for e in batch])
        loss = model(**enc, labels=target).loss / config.grad_accum
        loss.backward()
        if (step + 1) % config.grad_accum == 0 or step + 1 == total_batches:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        losses.append(float(loss.detach()) * config.grad_accum)
        bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - started

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    meta = {
        "kind": "classifier",
        "base": config.base,
        "labels": labels,
        "config": config.to_dict(),
        "data_sha256": file_sha256(config.data),
        "train": {
            "examples": len(examples),
            "batches": total_batches,
            "seconds": round(elapsed, 3),
            "first_loss": round(losses[0], 4),
            "final_loss": round(sum(losses[-10:]) / len(losses[-10:]), 4),
        },
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def read_meta(adapter_dir: str | Path) -> dict[str, Any]:
    path = Path(adapter_dir) / META_FILE
    if not path.is_file():
        raise FtevalsError(f"{adapter_dir}: not an ftevals adapter (no {META_FILE})")
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta


def load_classifier(
    adapter_dir: str | Path, base: str | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    """(model in eval mode, tokenizer, meta) for a trained classifier adapter."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    meta = read_meta(adapter_dir)
    if meta.get("kind") != "classifier":
        raise FtevalsError(f"{adapter_dir}: adapter kind is {meta.get('kind')!r}, not classifier")
    labels: list[str] = meta["labels"]
    hf_logging.set_verbosity_error()
    base_path = resolve_model(base or meta["base"])
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    return model, tokenizer, meta
