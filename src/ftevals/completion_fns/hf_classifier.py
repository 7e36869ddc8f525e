"""A local LoRA sequence classifier as a completion function: it answers with its label."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from ftevals.completion_fns._batching import DynamicBatcher
from ftevals.completion_fns.base import (
    Prompt,
    TextCompletionResult,
    record_call,
    text_to_classify,
)
from ftevals.errors import FtevalsError
from ftevals.models import resolve_adapter
from ftevals.training.calibrate import Calibration, decide

HOW_TO_MAKE = (
    "Make it with `make demo`, or with `ftevals train --kind classifier --base minilm "
    "--data data/prompt-safety/prompts.jsonl --out <dir>` and pass that <dir>."
)


class HFClassifierCompletionFn:
    """Answers with the predicted label; records class probabilities in the sampling event.

    Args:
        adapter: adapter directory, or a name under the ftevals adapters directory.
        base: base model reference; default: the one stored with the adapter.
        batch_size: largest batch of concurrent calls run together.
        max_length: tokens per text (truncated).
        merge: fold the LoRA weights into the base model at load (faster inference).
        quantize: ``int8`` runs the linear layers with dynamic int8 quantization (CPU; about
            1.5x faster here, answers checked against float32 in the benchmarks); ``none``
            keeps float32.
        calibrated: apply the temperature and threshold stored with the adapter (when the
            adapter has them); ``false`` answers with the raw argmax.
    """

    def __init__(
        self,
        adapter: str,
        base: str | None = None,
        batch_size: int | str = 32,
        max_length: int | str | None = None,
        max_wait_ms: float | str = 5.0,
        merge: bool | str = True,
        quantize: str = "none",
        calibrated: bool | str = True,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        from ftevals.training.classifier import load_classifier

        self.adapter_dir = resolve_adapter(adapter, HOW_TO_MAKE)
        model, self.tokenizer, self.meta = load_classifier(self.adapter_dir, base)
        # Fold LoRA into the base weights for inference: same outputs (to float rounding),
        # no extra adapter matmuls per layer.
        self.model = model.merge_and_unload() if _truthy(merge) else model
        if quantize not in ("none", "int8"):
            raise FtevalsError(f"quantize must be none or int8, got {quantize!r}")
        if quantize == "int8":
            self.model = quantize_int8(self.model)
        self.labels: list[str] = list(self.meta["labels"])
        stored = self.meta.get("calibration")
        self.calibration = (
            Calibration.model_validate(stored) if stored and _truthy(calibrated) else None
        )
        self.max_length = int(max_length or self.meta["config"].get("max_length", 128))
        self.name = f"hf-classifier:{self.adapter_dir.name}"
        self.chunk = 16
        self._lock = threading.Lock()
        self.batcher: DynamicBatcher[str, tuple[str, dict[str, float], int]] = DynamicBatcher(
            self.predict_batch, max_batch=int(batch_size), max_wait_s=float(max_wait_ms) / 1000
        )

    def predict_batch(self, texts: Sequence[str]) -> list[tuple[str, dict[str, float], int]]:
        """(label, probabilities, token count) for each text.

        Texts are sorted by length and run in chunks, so a short text is not padded to
        the longest text of the whole batch.
        """
        import torch

        lengths = [
            len(ids)
            for ids in self.tokenizer(list(texts), truncation=True, max_length=self.max_length)[
                "input_ids"
            ]
        ]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        rows: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.chunk):
            part = order[start : start + self.chunk]
            enc = self.tokenizer(
                [texts[i] for i in part],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            with self._lock, torch.inference_mode():
                logits = self.model(**enc).logits.float()
            for i, row in zip(part, logits.tolist(), strict=True):
                rows[i] = row
        out = []
        for row, n_tokens in zip(rows, lengths, strict=True):
            label, probs = decide(row, self.labels, self.calibration)
            out.append(
                (
                    label,
                    {name: round(p, 6) for name, p in zip(self.labels, probs, strict=True)},
                    int(n_tokens),
                )
            )
        return out

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        label, probs, n_tokens = self.batcher.submit(text_to_classify(prompt))
        record_call(
            prompt,
            [label],
            model=self.name,
            latency_s=time.perf_counter() - started,
            usage={"prompt_tokens": n_tokens, "completion_tokens": 0, "total_tokens": n_tokens},
            probs=probs,
        )
        return TextCompletionResult([label], {"probs": probs})


def _truthy(value: bool | str) -> bool:
    return str(value).lower() not in ("", "0", "false", "no", "none")


def quantize_int8(model: Any) -> Any:
    """The model with its ``nn.Linear`` layers dynamically quantized to int8 (CPU)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's migration notice
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
