"""A local Hugging Face causal LM (optionally with LoRA adapters) as a completion function.

Chat prompts go through the tokenizer's chat template; generation is greedy unless a
temperature > 0 is asked for. Concurrent calls from evals' worker threads are batched
(left padding) by a :class:`DynamicBatcher`.

With ``choices``, the answer is read from the choices' first-token logits; an adapter trained
by ``ftevals train --kind causal`` on those labels carries a calibration (temperature and
threshold, fitted on its validation split), which is applied unless ``calibrated=false``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals import extras
from ftevals.completion_fns._batching import DynamicBatcher
from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call, to_messages
from ftevals.completion_fns.openai_chat import as_bool
from ftevals.models import resolve_adapter, resolve_model
from ftevals.training.batching import accepts_logits_to_keep
from ftevals.training.calibrate import Calibration, decide
from ftevals.training.common import META_FILE, read_meta


@dataclass(frozen=True)
class GenRequest:
    messages: tuple[tuple[str, str], ...]
    max_new_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]


@dataclass
class GenResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    probs: dict[str, float] | None = None


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in value.split("|") if v]
    return list(value)


def first_token_ids(tokenizer: Any, choices: Sequence[str]) -> list[int]:
    """The first token of each choice (ValueError when two choices share it)."""
    ids = [int(tokenizer.encode(c, add_special_tokens=False)[0]) for c in choices]
    if len(set(ids)) != len(ids):
        raise ValueError(f"choices {list(choices)} do not start with distinct tokens")
    return ids


def stored_calibration(adapter_dirs: Sequence[Path], choices: Sequence[str]) -> Calibration | None:
    """The calibration of the one adapter, when it was fitted on exactly these choices."""
    if len(adapter_dirs) != 1 or not choices or not (adapter_dirs[0] / META_FILE).is_file():
        return None
    meta = read_meta(adapter_dirs[0])
    stored, labels = meta.get("calibration"), meta.get("labels")
    if not stored or not labels or sorted(labels) != sorted(choices):
        return None
    return Calibration.model_validate(stored)


class HFCausalCompletionFn:
    """Generate with a local causal LM.

    Args:
        model: model reference (alias such as ``smollm2-135m``, path or hub id).
        adapters: LoRA adapter directories or names (``|``-separated string or list);
            with several, all are loaded and activated together.
        max_tokens: default generation budget (a call's ``max_tokens`` wins).
        system: optional system prompt prepended when the prompt has none.
        choices: answer only with one of these (``|``-separated or a list): the choice
            whose first token is most likely right after the prompt; the probabilities
            (softmax over the choices' first-token logits) are recorded.
        calibrated: with ``choices`` and one adapter whose stored calibration was fitted on
            these labels, divide the logits by its temperature and answer the positive label
            at or above its threshold (the recorded probabilities are the calibrated ones);
            ``false`` answers with the raw argmax.
        batch_size: largest batch of concurrent calls run together.
    """

    def __init__(
        self,
        model: str,
        adapters: str | list[str] | None = None,
        max_tokens: int | str = 256,
        system: str | None = None,
        choices: str | list[str] | None = None,
        calibrated: bool | str = True,
        batch_size: int | str = 16,
        max_wait_ms: float | str = 10.0,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        extras.require("local", "hf-causal")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        self.model_ref = model
        path = resolve_model(model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.adapter_names: list[str] = []
        adapter_dirs = [resolve_adapter(a) for a in _as_list(adapters)]
        if adapter_dirs:
            from peft import PeftModel

            names = [f"adapter_{i}" for i in range(len(adapter_dirs))]
            peft_model = PeftModel.from_pretrained(
                self.model, str(adapter_dirs[0]), adapter_name=names[0]
            )
            for name, directory in zip(names[1:], adapter_dirs[1:], strict=True):
                peft_model.load_adapter(str(directory), adapter_name=name)
            if len(names) > 1:
                peft_model.base_model.set_adapter(names)
            self.model = peft_model
            self.adapter_names = [d.name for d in adapter_dirs]
        self.adapter_dirs = adapter_dirs
        self.model.eval()
        # With choices only the last position's logits are read: skip the rest of the
        # vocabulary projection (a large share of a small LM's cost).
        self.last_only = {"logits_to_keep": 1} if accepts_logits_to_keep(self.model) else {}
        self.choices = _as_list(choices)
        self.choice_ids = first_token_ids(self.tokenizer, self.choices)
        self.calibration = (
            stored_calibration(adapter_dirs, self.choices)
            if as_bool(calibrated, "calibrated")
            else None
        )
        self.default_max_tokens = int(max_tokens)
        self.system = system
        self.name = model + "".join(f"+{a}" for a in self.adapter_names)
        self._lock = threading.Lock()
        self.batcher: DynamicBatcher[GenRequest, GenResult] = DynamicBatcher(
            self.generate_batch, max_batch=int(batch_size), max_wait_s=float(max_wait_ms) / 1000
        )

    def _render(self, messages: tuple[tuple[str, str], ...]) -> str:
        chat = [{"role": role, "content": content} for role, content in messages]
        if getattr(self.tokenizer, "chat_template", None):
            text: str = self.tokenizer.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=True
            )
            return text
        return "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant:"

    def generate_batch(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """Generate for requests that share sampling settings, grouped as needed."""
        results: dict[int, GenResult] = {}
        groups: dict[tuple[float, float], list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault((req.temperature, req.top_p), []).append(i)
        for (temperature, top_p), indices in groups.items():
            batch = [requests[i] for i in indices]
            for i, result in zip(indices, self._generate(batch, temperature, top_p), strict=True):
                results[i] = result
        return [results[i] for i in range(len(requests))]

    def _generate(
        self, batch: list[GenRequest], temperature: float, top_p: float
    ) -> list[GenResult]:
        import torch

        texts = [self._render(r.messages) for r in batch]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        if self.choices:
            with self._lock, torch.inference_mode():
                logits = self.model(**enc, **self.last_only).logits[:, -1, :].float()
            results = []
            for row, n_prompt in zip(
                logits[:, self.choice_ids].tolist(), prompt_lengths, strict=True
            ):
                answer, probs = decide(row, self.choices, self.calibration)
                by_choice = {c: round(p, 6) for c, p in zip(self.choices, probs, strict=True)}
                results.append(GenResult(answer, int(n_prompt), 1, by_choice))
            return results
        budget = max(r.max_new_tokens for r in batch)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p}
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                **enc,
                max_new_tokens=budget,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        width = enc["input_ids"].shape[1]
        results = []
        for row, req, n_prompt in zip(output, batch, prompt_lengths, strict=True):
            new_tokens = row[width:][: req.max_new_tokens].tolist()
            eos = self.tokenizer.eos_token_id
            if eos in new_tokens:
                new_tokens = new_tokens[: new_tokens.index(eos)]
            text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
            for stop in req.stop:
                cut = text.find(stop)
                if cut != -1:
                    text = text[:cut]
            results.append(GenResult(text, int(n_prompt), len(new_tokens)))
        return results

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        messages = to_messages(prompt)
        if self.system and not any(m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self.system})
        request = GenRequest(
            messages=tuple((str(m.get("role")), str(m.get("content") or "")) for m in messages),
            max_new_tokens=int(kwargs.get("max_tokens") or self.default_max_tokens),
            temperature=float(kwargs.get("temperature") or 0.0),
            top_p=float(kwargs.get("top_p") or 1.0),
            stop=tuple(_as_list(kwargs.get("stop"))),
        )
        started = time.perf_counter()
        result = self.batcher.submit(request)
        usage = {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        }
        extra: dict[str, Any] = {} if result.probs is None else {"probs": result.probs}
        record_call(
            prompt,
            [result.text],
            model=self.name,
            latency_s=time.perf_counter() - started,
            usage=usage,
            **extra,
        )
        return TextCompletionResult([result.text], extra)
