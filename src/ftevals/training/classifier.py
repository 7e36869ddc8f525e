"""LoRA sequence classifiers: train from fine-tuning data and save (loading: runtime.loading).

Any base works: an encoder (MiniLM, BERT) or a causal LM (SmolLM2, Llama) through
``AutoModelForSequenceClassification`` (the pad token is set, so the last real token is
classified). An adapter directory holds peft's files (LoRA weights and the classification head,
saved through ``modules_to_save``), the tokenizer, and ``ftevals.json``: the base model
reference, the label set, the config, a hash of the training data and training figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals import extras
from ftevals.converters.formats import normalise_text
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import file_sha256
from ftevals.runtime.calibration import Calibration
from ftevals.runtime.loading import load_base_classifier, load_classifier, load_tokenizer
from ftevals.runtime.meta import AdapterMeta, read_meta, write_meta
from ftevals.runtime.models import resolve_model
from ftevals.runtime.text import text_to_classify
from ftevals.training.batching import Encoded
from ftevals.training.calibrate import calibrate, describe
from ftevals.training.common import lora_config, training_data, validation_side
from ftevals.training.config import TrainConfig

__all__ = ["Example", "load_examples", "recalibrate", "train_classifier"]

logger = logging.getLogger(__name__)


@dataclass
class Example:
    text: str
    label: str
    line: int


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


def train_classifier(
    config: TrainConfig,
    progress: bool = True,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a LoRA sequence classifier; returns the adapter directory."""
    import torch
    from peft import get_peft_model

    from ftevals.training.loop import run_loop

    examples = load_examples(config)
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise FtevalsError(f"{config.data}: need at least two labels, found {labels}")
    label2id = {label: i for i, label in enumerate(labels)}

    base_path = resolve_model(config.base)
    tokenizer = load_tokenizer(base_path)
    ids = tokenizer([e.text for e in examples], truncation=True, max_length=config.max_length)[
        "input_ids"
    ]
    train: list[Encoded] = []
    val: list[Encoded] = []
    for example, input_ids in zip(examples, ids, strict=True):
        encoded = Encoded(list(input_ids), target=label2id[example.label], line=example.line)
        (val if validation_side(normalise_text(example.text), config) else train).append(encoded)
    if not train:
        raise FtevalsError(f"{config.data}: every row went to validation; lower val_fraction")
    if config.val_fraction and not val:
        raise FtevalsError(f"{config.data}: no row went to validation; raise val_fraction")

    torch.manual_seed(config.seed)
    model = load_base_classifier(base_path, labels, tokenizer.pad_token_id, config.base_layers)
    model = get_peft_model(model, lora_config(model, config, "SEQ_CLS"))
    data_sha256 = file_sha256(config.data)
    model, result, is_main = run_loop(
        model,
        train,
        val,
        config,
        pad_id=int(tokenizer.pad_token_id),
        data_sha256=data_sha256,
        resume=resume,
        progress=progress,
        on_step=on_step,
    )
    out = Path(config.out)
    if is_main:
        calibration = (
            fit_calibration(model, val, labels, config, int(tokenizer.pad_token_id))
            if config.calibrate and val
            else None
        )
        tokenizer.save_pretrained(str(out))
        figures = result.to_dict()
        figures.pop("losses")
        meta: dict[str, Any] = {
            "kind": "classifier",
            "base": config.base,
            "labels": labels,
            "config": config.to_dict(),
            "data_sha256": data_sha256,
            "training_data": training_data(config, data_sha256),
            "train": {
                **figures,
                "examples": len(train),
                "validation_examples": len(val),
                "examples_seen": result.examples,
            },
        }
        if calibration is not None:
            meta["calibration"] = calibration.model_dump()
        write_meta(out, AdapterMeta.model_validate(meta))
    return out


def predict_logits(
    model: Any, examples: list[Encoded], pad_id: int, batch_size: int = 32
) -> list[list[float]]:
    """Logits of every example, in order (eval mode, no gradients, length-sorted batches)."""
    import torch

    from ftevals.training.batching import collate

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    out: list[list[float]] = [[] for _ in examples]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            batch = collate([examples[i] for i in part], pad_id)
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            for i, row in zip(part, logits.float().tolist(), strict=True):
                out[i] = row
    model.train(was_training)
    return out


def fit_calibration(
    model: Any, val: list[Encoded], labels: list[str], config: TrainConfig, pad_id: int
) -> Calibration:
    """Temperature and threshold fitted on the validation split (see ``calibrate``)."""
    logits = predict_logits(model, val, pad_id)
    targets = [int(e.target or 0) for e in val]
    calibration = calibrate(logits, targets, labels, config.positive_label, config.max_fpr)
    logger.info(describe(calibration))
    return calibration


def recalibrate(
    adapter_dir: str | Path, max_fpr: float | None = None, positive_label: str | None = None
) -> Calibration:
    """Refit the calibration of a trained classifier on its own validation split (rebuilt from
    the stored config and data, which must be unchanged) and store it in ``ftevals.json``."""
    extras.require("local", "ftevals calibrate")
    meta = read_meta(adapter_dir)
    config = TrainConfig.from_dict(meta.config)
    if file_sha256(config.data) != meta.data_sha256:
        raise FtevalsError(f"{config.data} changed since {adapter_dir} was trained on it")
    model, tokenizer, _ = load_classifier(adapter_dir)
    labels: list[str] = list(meta.labels or [])
    label2id = {label: i for i, label in enumerate(labels)}
    val = [
        Encoded(list(ids), target=label2id[e.label], line=e.line)
        for e, ids in (
            (e, tokenizer(e.text, truncation=True, max_length=config.max_length)["input_ids"])
            for e in load_examples(config)
            if validation_side(normalise_text(e.text), config)
        )
    ]
    if not val:
        raise FtevalsError(f"{adapter_dir}: no validation split (trained with val_fraction 0)")
    config.max_fpr = max_fpr
    config.positive_label = positive_label or config.positive_label
    calibration = fit_calibration(model, val, labels, config, int(tokenizer.pad_token_id))
    meta.calibration = calibration
    meta.config = config.to_dict()
    write_meta(Path(adapter_dir), meta)
    return calibration
