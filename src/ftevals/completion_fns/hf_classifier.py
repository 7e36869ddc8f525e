"""A local LoRA sequence classifier as a completion function: it answers with its label."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ftevals import extras
from ftevals.completion_fns._batching import DynamicBatcher
from ftevals.completion_fns._onnx import INPUTS as INPUT_NAMES
from ftevals.completion_fns._onnx import QUANTIZE, OnnxClassifier
from ftevals.completion_fns.base import (
    Prompt,
    TextCompletionResult,
    record_call,
    text_to_classify,
)
from ftevals.errors import FtevalsError
from ftevals.models import resolve_adapter
from ftevals.training.calibrate import Calibration, decide

BACKENDS = ("torch", "onnx")
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
        backend: ``torch`` runs the PyTorch model; ``onnx`` exports the merged model to
            ONNX once (cached under the ftevals home, keyed by the adapter's weights) and runs
            it with ONNX Runtime, its BERT layers fused (see ``_onnx``).
        quantize: ``int8`` runs the linear layers with dynamic int8 quantization (CPU;
            answers checked against float32 in the tests and benchmarks); ``none`` keeps
            float32.
        threads: ONNX Runtime threads per batch (default 1).
        workers: batches run at once (default: one per CPU with ``onnx``, 1 with ``torch``,
            which already spreads each batch over the cores).
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
        backend: str = "torch",
        quantize: str = "none",
        threads: int | str = 1,
        workers: int | str | None = None,
        calibrated: bool | str = True,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        extras.require("local", "hf-classifier")
        if backend == "onnx":
            extras.require("local", "hf-classifier backend=onnx", "onnx", "onnxruntime")
        from ftevals.training.classifier import classifier_meta, classifier_tokenizer

        if backend not in BACKENDS:
            raise FtevalsError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if quantize not in QUANTIZE:
            raise FtevalsError(f"quantize must be none or int8, got {quantize!r}")
        self.adapter_dir = resolve_adapter(adapter, HOW_TO_MAKE)
        self.meta = classifier_meta(self.adapter_dir)
        self.backend = backend
        self.model: Any = None
        self.onnx: OnnxClassifier | None = None
        if backend == "onnx":
            self.tokenizer = classifier_tokenizer(self.adapter_dir)
            self.onnx = self._load_onnx(base, quantize, int(threads))
        else:
            self.model, self.tokenizer = self._load_torch(base, _truthy(merge), quantize)
        self.labels: list[str] = list(self.meta["labels"])
        stored = self.meta.get("calibration")
        self.calibration = (
            Calibration.model_validate(stored) if stored and _truthy(calibrated) else None
        )
        self.max_length = int(max_length or self.meta["config"].get("max_length", 128))
        self.name = f"hf-classifier:{self.adapter_dir.name}"
        self.chunk = 32 if backend == "onnx" else 16
        self.slack = 1.25 if backend == "onnx" else float("inf")
        default_workers = (os.cpu_count() or 1) if backend == "onnx" else 1
        self.workers = int(workers or default_workers)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self._lock = threading.Lock()
        self.batcher: DynamicBatcher[str, tuple[str, dict[str, float], int]] = DynamicBatcher(
            self.predict_batch,
            max_batch=int(batch_size),
            max_wait_s=float(max_wait_ms) / 1000,
            workers=self.workers,
        )

    def _load_torch(self, base: str | None, merge: bool, quantize: str) -> tuple[Any, Any]:
        from ftevals.training.classifier import load_classifier

        model, tokenizer, _ = load_classifier(self.adapter_dir, base)
        # Fold LoRA into the base weights for inference: same outputs (to float rounding),
        # no extra adapter matmuls per layer.
        model = model.merge_and_unload() if merge else model
        return (quantize_int8(model) if quantize == "int8" else model), tokenizer

    def _load_onnx(self, base: str | None, quantize: str, threads: int) -> OnnxClassifier:
        from ftevals.completion_fns import _onnx
        from ftevals.models import resolve_model

        target = _onnx.cached_path(
            self.adapter_dir, resolve_model(base or self.meta["base"]), quantize
        )
        if not target.exists():
            model, tokenizer = self._load_torch(base, merge=True, quantize="none")
            _onnx.export_cached(model, tokenizer, target, quantize)
        return _onnx.OnnxClassifier(target, threads)

    def encode(self, texts: Sequence[str]) -> dict[str, list[list[int]]]:
        """Token ids (and masks, token types) of each text, truncated, not padded."""
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return {name: enc[name] for name in INPUT_NAMES if name in enc}

    def pad(self, enc: dict[str, list[list[int]]], rows: Sequence[int]) -> dict[str, Any]:
        """Numpy arrays of the given rows padded to the longest (on the tokenizer's side)."""
        import numpy as np

        width = max(len(enc["input_ids"][i]) for i in rows)
        left = self.tokenizer.padding_side == "left"
        fill = {"input_ids": int(self.tokenizer.pad_token_id), "attention_mask": 0}
        out = {}
        for name, values in enc.items():
            array = np.full((len(rows), width), fill.get(name, 0), dtype=np.int64)
            for r, i in enumerate(rows):
                ids = values[i]
                if left:
                    array[r, width - len(ids) :] = ids
                else:
                    array[r, : len(ids)] = ids
            out[name] = array
        return out

    def logits(self, batch: dict[str, Any]) -> list[list[float]]:
        """Raw logits of one padded batch, by the loaded backend."""
        if self.onnx is not None:
            return self.onnx.logits(batch)
        import torch

        tensors = {name: torch.from_numpy(array) for name, array in batch.items()}
        with self._lock, torch.inference_mode():
            rows: list[list[float]] = self.model(**tensors).logits.float().tolist()
        return rows

    def predict_batch(self, texts: Sequence[str]) -> list[tuple[str, dict[str, float], int]]:
        """(label, probabilities, token count) for each text.

        Texts are tokenized once, sorted by length and run in chunks, so a short text is
        not padded to the longest text of the whole batch.
        """
        enc = self.encode(texts)
        lengths = [len(ids) for ids in enc["input_ids"]]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        rows: list[list[float]] = [[] for _ in texts]
        parts = chunks(order, lengths, self.chunk, self.slack)

        def run(part: list[int]) -> list[list[float]]:
            return self.logits(self.pad(enc, part))

        done = self._pool.map(run, parts) if self._pool and len(parts) > 1 else map(run, parts)
        for part, logits in zip(parts, done, strict=True):
            for i, row in zip(part, logits, strict=True):
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


def chunks(order: list[int], lengths: list[int], size: int, slack: float) -> list[list[int]]:
    """Length-sorted indices cut into chunks of at most ``size`` whose longest text is at most
    ``slack`` times (plus 4 tokens) the shortest: padding stays small even when a batch
    mixes short and long texts, and similar lengths still run together."""
    parts: list[list[int]] = []
    for i in order:
        part = parts[-1] if parts else None
        if part and len(part) < size and lengths[i] <= lengths[part[0]] * slack + 4:
            part.append(i)
        else:
            parts.append([i])
    return parts


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
