"""A local LoRA sequence classifier as a completion function: it answers with its label.

A thin evals adapter over :class:`ftevals.runtime.classifier.Classifier`, which loads and runs
the model; this module parses evals' string arguments and records each call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ftevals import extras
from ftevals.completion_fns.base import (
    Prompt,
    TextCompletionResult,
    record_call,
    text_to_classify,
)
from ftevals.errors import FtevalsError
from ftevals.runtime.answers import Answers
from ftevals.runtime.classifier import Classifier


class HFClassifierCompletionFn(Classifier):
    """Answers with the predicted label (or its mapped answer); records class probabilities in
    the sampling event.

    Args:
        adapter: adapter directory, or a name under the ftevals adapters directory.
        base: base model reference; default: the one stored with the adapter.
        batch_size: largest batch of concurrent calls run together.
        max_length: tokens per text (truncated).
        merge: fold the LoRA weights into the base model at load (faster inference).
        backend: ``torch`` runs the PyTorch model; ``onnx`` exports the merged model to
            ONNX once (cached under the ftevals home, keyed by the adapter's fingerprint) and
            runs it with ONNX Runtime, its BERT layers fused (see :mod:`ftevals.runtime.onnx`).
        quantize: ``int8`` runs the linear layers with dynamic int8 quantization (CPU;
            answers checked against float32 in the tests and benchmarks); ``none`` keeps
            float32.
        threads: ONNX Runtime threads per batch (default 1).
        workers: batches run at once (default: one per CPU with ``onnx``, 1 with ``torch``,
            which already spreads each batch over the cores).
        calibrated: apply the temperature and threshold stored with the adapter (when the
            adapter has them); ``false`` answers with the raw argmax.
        answers: what to answer for a predicted label, a mapping label -> answer text (in the
            registry YAML, or a YAML/JSON mapping in one string); a label it does not name
            answers with itself. Every key must be one of the adapter's labels
            (:class:`ftevals.runtime.answers.Answers`). The sampling event keeps the predicted
            label as ``predicted_label``.
    """

    def __init__(
        self,
        adapter: str,
        base: str | None = None,
        batch_size: int | str = 32,
        max_length: int | str | None = None,
        max_wait_ms: float | str = 5.0,
        merge: bool | str = True,
        backend: str = "torch",
        quantize: str = "none",
        threads: int | str = 1,
        workers: int | str | None = None,
        calibrated: bool | str = True,
        answers: Mapping[object, object] | str | None = None,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        extras.require("local", "hf-classifier")
        if backend == "onnx":
            extras.require("local", "hf-classifier backend=onnx", "onnx", "onnxruntime")
        super().__init__(
            adapter,
            base=base,
            batch_size=int(batch_size),
            max_length=int(max_length) if max_length else None,
            max_wait_ms=float(max_wait_ms),
            merge=_truthy(merge),
            backend=backend,
            quantize=quantize,
            threads=int(threads),
            workers=int(workers) if workers else None,
            calibrated=_truthy(calibrated),
        )
        self.answers = Answers.checked(_mapping(answers), self.labels, self.name)

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        label, probs, n_tokens = self.classify(text_to_classify(prompt))
        answer = self.answers.of(label)
        mapped = {"predicted_label": label} if self.answers.mapping else {}
        record_call(
            prompt,
            [answer],
            model=self.name,
            latency_s=time.perf_counter() - started,
            usage={"prompt_tokens": n_tokens, "completion_tokens": 0, "total_tokens": n_tokens},
            probs=probs,
            **mapped,
        )
        return TextCompletionResult([answer], {"probs": probs, **mapped})


def _mapping(value: Mapping[object, object] | str | None) -> Mapping[object, object] | None:
    """The ``answers`` argument as a mapping (a string is read as YAML, which JSON is)."""
    if not isinstance(value, str):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        raise FtevalsError(f"answers: not a YAML mapping: {value!r}") from None
    if not isinstance(parsed, Mapping):
        raise FtevalsError(f"answers: expected a mapping label -> answer text, got {value!r}")
    return parsed


def _truthy(value: bool | str) -> bool:
    return str(value).lower() not in ("", "0", "false", "no", "none")
