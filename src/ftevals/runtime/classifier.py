"""A loaded LoRA sequence classifier: texts in, (label, probabilities, tokens) out.

Backends: ``torch`` runs the PyTorch model (LoRA merged into the base by default, optionally
int8); ``onnx`` exports the merged model to ONNX once (cached by the adapter's fingerprint,
:mod:`ftevals.runtime.onnx`) and runs it with ONNX Runtime. Concurrent callers go through
:attr:`Classifier.batcher` (:class:`~ftevals.runtime.batching.DynamicBatcher`); the stored
calibration is applied to the logits (:func:`~ftevals.runtime.calibration.decide`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from ftevals.errors import FtevalsError
from ftevals.runtime.batching import DynamicBatcher
from ftevals.runtime.calibration import Calibration, decide
from ftevals.runtime.fingerprint import fingerprint
from ftevals.runtime.meta import classifier_meta
from ftevals.runtime.models import resolve_adapter, resolve_model
from ftevals.runtime.onnx import INPUTS as INPUT_NAMES
from ftevals.runtime.onnx import QUANTIZE, OnnxClassifier

BACKENDS = ("torch", "onnx")
HOW_TO_MAKE = (
    "Make it with `make demo`, or with `ftevals train --kind classifier --base minilm "
    "--data data/prompt-safety/prompts.jsonl --out <dir>` and pass that <dir>."
)


class Prediction(NamedTuple):
    """One text's answer: the label, the (calibrated) class probabilities, its token count."""

    label: str
    probs: dict[str, float]
    tokens: int


class Classifier:
    """A classifier adapter loaded for inference.

    Args:
        adapter: adapter directory, or a name under the ftevals adapters directory.
        base: base model reference; default: the one stored with the adapter.
        batch_size: largest batch of concurrent calls run together.
        max_length: tokens per text (truncated); default: the adapter's training value.
        merge: fold the LoRA weights into the base model at load (faster inference).
        backend: ``torch`` or ``onnx`` (see the module docstring).
        quantize: ``int8`` runs the linear layers with dynamic int8 quantization (CPU);
            ``none`` keeps float32.
        threads: ONNX Runtime threads per batch.
        workers: batches run at once (default: one per CPU with ``onnx``, 1 with ``torch``,
            which already spreads each batch over the cores).
        calibrated: apply the temperature and threshold stored with the adapter (when the
            adapter has them); False answers with the raw argmax.
    """

    def __init__(
        self,
        adapter: str | Path,
        base: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        max_wait_ms: float = 5.0,
        merge: bool = True,
        backend: str = "torch",
        quantize: str = "none",
        threads: int = 1,
        workers: int | None = None,
        calibrated: bool = True,
    ) -> None:
        if backend not in BACKENDS:
            raise FtevalsError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if quantize not in QUANTIZE:
            raise FtevalsError(f"quantize must be none or int8, got {quantize!r}")
        self.adapter_dir = resolve_adapter(str(adapter), HOW_TO_MAKE)
        self.meta = classifier_meta(self.adapter_dir)
        self.base_path = resolve_model(base or self.meta.base)
        self.backend = backend
        self.model: Any = None
        self.onnx: OnnxClassifier | None = None
        if backend == "onnx":
            from ftevals.runtime.loading import load_tokenizer

            self.tokenizer = load_tokenizer(self.adapter_dir)
            self.onnx = self._load_onnx(base, quantize, threads)
        else:
            self.model, self.tokenizer = self._load_torch(base, merge, quantize)
        self.labels: list[str] = list(self.meta.labels or [])
        stored = self.meta.calibration
        self.calibration: Calibration | None = stored if stored and calibrated else None
        self.max_length = int(max_length or self.meta.max_length)
        self.name = f"hf-classifier:{self.adapter_dir.name}"
        self.fingerprint = fingerprint([self.adapter_dir], self.base_path)
        self.chunk = 32 if backend == "onnx" else 16
        self.slack = 1.25 if backend == "onnx" else float("inf")
        default_workers = (os.cpu_count() or 1) if backend == "onnx" else 1
        self.workers = int(workers or default_workers)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self._lock = threading.Lock()
        self.batcher: DynamicBatcher[str, Prediction] = DynamicBatcher(
            self.predict_batch,
            max_batch=int(batch_size),
            max_wait_s=float(max_wait_ms) / 1000,
            workers=self.workers,
        )

    def _load_torch(self, base: str | None, merge: bool, quantize: str) -> tuple[Any, Any]:
        from ftevals.runtime import loading

        model, tokenizer, _ = loading.load_classifier(self.adapter_dir, base)
        model = loading.merge(model) if merge else model
        return (loading.quantize_int8(model) if quantize == "int8" else model), tokenizer

    def _load_onnx(self, base: str | None, quantize: str, threads: int) -> OnnxClassifier:
        from ftevals.runtime import onnx

        target = onnx.cached_path(self.adapter_dir, self.base_path, quantize)
        if not target.exists():
            model, tokenizer = self._load_torch(base, merge=True, quantize="none")
            onnx.export_cached(model, tokenizer, target, quantize)
        return onnx.OnnxClassifier(target, threads)

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

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
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
                Prediction(
                    label,
                    {name: round(p, 6) for name, p in zip(self.labels, probs, strict=True)},
                    int(n_tokens),
                )
            )
        return out

    def classify(self, text: str) -> Prediction:
        """One text's prediction, batched with concurrent callers' texts."""
        return self.batcher.submit(text)


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
