"""Supervised fine-tuning of a causal LM with LoRA: loss on assistant tokens only.

Every chat row is rendered with the tokenizer's chat template (as
:func:`ftevals.runtime.causal.render_chat`, as the runtime renders prompts), and only the
tokens of assistant turns (with their end-of-turn marker) carry loss; an assistant message
with ``"weight": 0`` is context only, as in OpenAI's fine-tuning format. Rows of the ``text``
format (no assistant turn) are plain language modelling on the whole text.

A "label classifier" is the same thing with one-word answers: train on ``safe``/``unsafe``
replies and evaluate with ``hf-causal`` and ``choices=safe|unsafe``, which reads the class
probability from the first-token logits. When every answer is one of a few labels whose first
tokens differ, those first-token logits on the validation split are calibrated after training
(temperature and, for two labels, a threshold; see :mod:`ftevals.training.calibrate`) and the
calibration is stored with the adapter for ``hf-causal`` to apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftevals.converters.formats import Row, read_rows, resolve_format
from ftevals.converters.split import split_key
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import file_sha256
from ftevals.runtime.calibration import Calibration
from ftevals.runtime.causal import first_token_ids, render_chat
from ftevals.runtime.loading import accepts_logits_to_keep, load_base_causal, load_tokenizer
from ftevals.runtime.meta import AdapterMeta, write_meta
from ftevals.runtime.models import resolve_model
from ftevals.training.batching import IGNORE_INDEX, Encoded
from ftevals.training.calibrate import calibrate, describe
from ftevals.training.common import lora_config, training_data, validation_side
from ftevals.training.config import TrainConfig

logger = logging.getLogger(__name__)
MAX_LABELS = 10  # answer sets up to this size are recorded as the adapter's labels


def assistant_spans(tokenizer: Any, row: Row) -> tuple[str, list[tuple[int, int]]]:
    """(rendered row, character spans of the assistant turns that carry loss)."""
    messages = row.messages
    full = render_chat(tokenizer, messages, False)
    spans = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        if not isinstance(message.get("content"), str):
            raise InputError(row.source, "assistant turn without text", row.line, f"messages[{i}]")
        prefix = render_chat(tokenizer, messages[:i], True)
        upto = render_chat(tokenizer, messages[: i + 1], False)
        if not (upto.startswith(prefix) and full.startswith(upto)):
            raise FtevalsError(
                f"{row.where}: the chat template does not render a conversation as a prefix "
                "of its continuation, so the assistant tokens cannot be located"
            )
        spans.append((len(prefix), len(upto)))
    return full, spans


def encode_row(tokenizer: Any, row: Row, max_length: int, plain_text: bool) -> Encoded:
    """Token ids and labels (-100 except on assistant tokens) of one row, truncated."""
    eos = tokenizer.eos_token_id
    if plain_text:
        text = str(row.messages[0].get("content") or "")
        ids = tokenizer(text, truncation=True, max_length=max_length - 1)["input_ids"]
        ids = [*ids, eos] if eos is not None else list(ids)
        return Encoded(ids, list(ids), line=row.line)
    full, spans = assistant_spans(tokenizer, row)
    enc = tokenizer(
        full,
        add_special_tokens=False,
        return_offsets_mapping=True,
        truncation=True,
        max_length=max_length,
    )
    ids = list(enc["input_ids"])
    labels = [
        tid if any(start < e and end > s for s, e in spans) else IGNORE_INDEX
        for tid, (start, end) in zip(ids, enc["offset_mapping"], strict=True)
    ]
    templated = bool(getattr(tokenizer, "chat_template", None))
    if not templated and eos is not None and spans and len(ids) < max_length:
        last_is_answer = spans[-1][1] == len(full)
        ids.append(eos)
        labels.append(eos if last_is_answer else IGNORE_INDEX)
    return Encoded(ids, labels, line=row.line)


def encode_dataset(
    config: TrainConfig, tokenizer: Any
) -> tuple[list[Encoded], list[Encoded], list[Row], dict[str, Any]]:
    """(train, validation, validation rows, report): every row encoded; rows left without
    loss are counted. The validation rows are the rows behind ``validation``, in order."""
    path = Path(config.data)
    fmt = resolve_format(path, config.format, config.text_field, config.label_field)
    rows = read_rows(path, fmt, config.text_field, config.label_field, system=config.system)
    if not getattr(tokenizer, "is_fast", False):
        raise FtevalsError(f"{config.base}: causal training needs a fast tokenizer (offsets)")
    train: list[Encoded] = []
    val: list[Encoded] = []
    val_rows: list[Row] = []
    truncated_away = no_loss = 0
    answers: set[str] = set()
    for row in rows:
        plain = fmt == "text"
        if not plain and row.assistant_index() is None:
            raise InputError(row.source, "no assistant turn to learn from", row.line, "messages")
        encoded = encode_row(tokenizer, row, config.max_length, plain)
        if encoded.loss_tokens == 0:
            weighted = any(
                m.get("role") == "assistant" and m.get("weight", 1) != 0 for m in row.messages
            )
            if weighted or plain:
                truncated_away += 1
            else:
                no_loss += 1
            continue
        answer = row.answer()
        if answer is not None:
            answers.add(answer.strip())
        if validation_side(split_key(row), config):
            val.append(encoded)
            val_rows.append(row)
        else:
            train.append(encoded)
    report: dict[str, Any] = {
        "rows": len(rows),
        "skipped_truncated": truncated_away,
        "skipped_weight_0": no_loss,
        "chat_template": bool(getattr(tokenizer, "chat_template", None)),
    }
    skipped = truncated_away + no_loss
    if skipped:
        logger.warning(
            "%s: %d of %d rows skipped (%d: answer truncated away by max_length=%d, "
            "%d: every assistant turn has weight 0)",
            path,
            skipped,
            len(rows),
            truncated_away,
            config.max_length,
            no_loss,
        )
    if not train:
        raise FtevalsError(f"{path}: no training rows left (see skipped rows, val_fraction)")
    if config.val_fraction and not val:
        raise FtevalsError(f"{path}: no row went to validation; raise val_fraction")
    if 1 < len(answers) <= MAX_LABELS and len(answers) * 4 <= len(rows):
        report["labels"] = sorted(answers)
    return train, val, val_rows, report


def choice_logits(
    model: Any, tokenizer: Any, prompts: list[str], token_ids: list[int], batch_size: int = 16
) -> list[list[float]]:
    """Next-token logits of ``token_ids`` after each prompt, in order.

    Prompts are tokenized and left-padded as the runtime's ``CausalLM`` does with ``choices``,
    in length-sorted batches (eval mode, no gradients).
    """
    import torch

    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    pad = int(tokenizer.pad_token_id)
    keep = {"logits_to_keep": 1} if accepts_logits_to_keep(model) else {}
    out: list[list[float]] = [[] for _ in prompts]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in part)
            ids = torch.full((len(part), width), pad, dtype=torch.long)
            mask = torch.zeros((len(part), width), dtype=torch.long)
            for row, i in enumerate(part):
                n = len(encoded[i])
                ids[row, width - n :] = torch.tensor(encoded[i], dtype=torch.long)
                mask[row, width - n :] = 1
            logits = model(input_ids=ids, attention_mask=mask, **keep).logits[:, -1, :]
            for i, values in zip(part, logits[:, token_ids].float().tolist(), strict=True):
                out[i] = values
    model.train(was_training)
    return out


def fit_label_calibration(
    model: Any, tokenizer: Any, rows: list[Row], labels: list[str], config: TrainConfig
) -> Calibration | None:
    """Calibration of the labels' first-token logits on the validation rows (None, with a
    warning, when two labels start with the same token or the rows cannot support one)."""
    try:
        token_ids = first_token_ids(tokenizer, labels)
    except ValueError as exc:
        logger.warning("no calibration: %s", exc)
        return None
    prompts = [render_chat(tokenizer, row.prompt_messages(), True) for row in rows]
    targets = [labels.index((row.answer() or "").strip()) for row in rows]
    logits = choice_logits(model, tokenizer, prompts, token_ids)
    try:
        calibration = calibrate(logits, targets, labels, config.positive_label, config.max_fpr)
    except FtevalsError as exc:  # e.g. no positive example in a small validation split
        logger.warning("no calibration: %s", exc)
        return None
    logger.info(describe(calibration))
    return calibration


def train_causal(
    config: TrainConfig,
    progress: bool = True,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train a LoRA adapter for a causal LM; returns the adapter directory."""
    import torch
    from peft import get_peft_model

    from ftevals.training.loop import run_loop

    base_path = resolve_model(config.base)
    tokenizer = load_tokenizer(base_path)
    train, val, val_rows, report = encode_dataset(config, tokenizer)
    labels: list[str] = report.get("labels", [])
    calibrating = bool(config.calibrate and val and labels)
    if calibrating and config.positive_label not in (None, *labels):
        raise FtevalsError(f"positive_label {config.positive_label!r} is not one of {labels}")
    torch.manual_seed(config.seed)
    model = load_base_causal(base_path)
    model = get_peft_model(model, lora_config(model, config, "CAUSAL_LM"))
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
            fit_label_calibration(model, tokenizer, val_rows, labels, config)
            if calibrating
            else None
        )
        tokenizer.save_pretrained(str(out))
        figures = result.to_dict()
        figures.pop("losses")
        meta: dict[str, Any] = {
            "kind": "causal",
            "base": config.base,
            "config": config.to_dict(),
            "data_sha256": data_sha256,
            "training_data": training_data(config, data_sha256),
            "data": report,
            "train": {
                **figures,
                "examples": len(train),
                "validation_examples": len(val),
                "examples_seen": result.examples,
            },
        }
        if labels:
            meta["labels"] = labels
        if calibration is not None:
            meta["calibration"] = calibration.model_dump()
        write_meta(out, AdapterMeta.model_validate(meta))
    return out
