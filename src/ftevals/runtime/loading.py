"""Loading local models: tokenizers with a pad token, causal LMs and sequence classifiers with
their LoRA adapters, LoRA merge and int8.

Training, the completion functions, ``ftevals serve`` and ``ftevals fuse`` all load through
here, so a model is loaded one way wherever it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.runtime.meta import AdapterMeta, classifier_meta
from ftevals.runtime.models import resolve_model


def set_pad_token(tokenizer: Any, where: str | Path) -> Any:
    """Give a tokenizer without a pad token its eos token as pad (causal LMs ship none)."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise FtevalsError(f"{where}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(path: str | Path, padding_side: str | None = None) -> Any:
    """The tokenizer saved at ``path`` (a model or adapter directory, or a hub id), with a pad
    token; ``padding_side``: ``left`` for batched generation."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    return set_pad_token(tokenizer, path)


def quiet_transformers() -> None:
    """transformers logs errors only (no notices about unused weights on every load)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def load_base_causal(base_path: str) -> Any:
    """A causal LM in float32."""
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    return AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)


def load_causal(base_path: str, adapter_dirs: Sequence[Path] = ()) -> Any:
    """A causal LM with its LoRA adapters, in eval mode. With several adapters, all are loaded
    and activated together."""
    model = load_base_causal(base_path)
    if adapter_dirs:
        from peft import PeftModel

        names = [f"adapter_{i}" for i in range(len(adapter_dirs))]
        peft_model = PeftModel.from_pretrained(model, str(adapter_dirs[0]), adapter_name=names[0])
        for name, directory in zip(names[1:], adapter_dirs[1:], strict=True):
            peft_model.load_adapter(str(directory), adapter_name=name)
        if len(names) > 1:
            peft_model.base_model.set_adapter(names)
        model = peft_model
    model.eval()
    return model


def load_base_classifier(
    base_path: str, labels: list[str], pad_token_id: int | None, layers: int | None = None
) -> Any:
    """The base as a sequence classifier; ``layers``: keep only its first N layers."""
    import torch
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        dtype=torch.float32,
        **({"num_hidden_layers": layers} if layers else {}),
    )
    if layers and model.config.num_hidden_layers != layers:
        raise FtevalsError(f"{base_path}: could not keep {layers} layers")
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id
    return model


def load_classifier(
    adapter_dir: str | Path, base: str | None = None
) -> tuple[Any, Any, AdapterMeta]:
    """(model in eval mode, tokenizer, meta) for a trained or fused classifier adapter."""
    from peft import PeftModel

    meta = classifier_meta(adapter_dir)
    base_path = resolve_model(base or meta.base)
    tokenizer = load_tokenizer(adapter_dir)
    model = load_base_classifier(
        base_path, list(meta.labels or []), tokenizer.pad_token_id, meta.base_layers
    )
    model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    return model, tokenizer, meta


def merge(model: Any) -> Any:
    """The model with its LoRA weights folded into the base weights (same outputs to float
    rounding, no extra adapter matmuls per layer)."""
    return model.merge_and_unload()


def quantize_int8(model: Any) -> Any:
    """The model with its ``nn.Linear`` layers dynamically quantized to int8 (CPU)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's migration notice
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )


def accepts_logits_to_keep(model: Any) -> bool:
    """True when the causal LM can project only chosen positions onto the vocabulary."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False
