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
from ftevals.models import resolve_adapter

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
    """

    def __init__(
        self,
        adapter: str,
        base: str | None = None,
        batch_size: int | str = 32,
        max_length: int | str | None = None,
        max_wait_ms: float | str = 5.0,
        merge: bool | str = True,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        from ftevals.training.classifier import load_classifier

        self.adapter_dir = resolve_adapter(adapter, HOW_TO_MAKE)
        model, self.tokenizer, self.meta = load_classifier(self.adapter_dir, base)
        # Fold LoRA into the base weights for inference: same outputs (to float rounding),
        # no extra adapter matmuls per layer.
        self.model = (
            model.merge_and_unload()
            if str(merge).lower() not in ("", "0", "false", "no")
            else model
        )
        self.labels: list[str] = list(self.meta["labels"])
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
        probs: list[list[float]] = [[] for _ in texts]
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
            for i, row in zip(part, torch.softmax(logits, dim=-1).tolist(), strict=True):
                probs[i] = row
        out = []
        for row, n_tokens in zip(probs, lengths, strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            out.append(
                (
                    self.labels[best],
                    {label: round(p, 6) for label, p in zip(self.labels, row, strict=True)},
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
