"""A loaded causal LM (optionally with LoRA adapters): batched generation and first-token
choice scoring.

Chat prompts go through the tokenizer's chat template; generation is greedy unless a
temperature > 0 is asked for. Concurrent requests are batched (left padding) by
:attr:`CausalLM.batcher`. With ``choices``, the answer is read from the choices' first-token
logits; an adapter trained by ``ftevals train --kind causal`` on those labels carries a
calibration (temperature and threshold), applied unless ``calibrated=False``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals.runtime.batching import DynamicBatcher
from ftevals.runtime.calibration import Calibration, decide
from ftevals.runtime.fingerprint import fingerprint
from ftevals.runtime.meta import META_FILE, read_meta
from ftevals.runtime.models import resolve_adapter, resolve_model


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


def first_token_ids(tokenizer: Any, choices: Sequence[str]) -> list[int]:
    """The first token of each choice (ValueError when two choices share it)."""
    ids = [int(tokenizer.encode(c, add_special_tokens=False)[0]) for c in choices]
    if len(set(ids)) != len(ids):
        raise ValueError(f"choices {list(choices)} do not start with distinct tokens")
    return ids


def render_chat(tokenizer: Any, messages: list[dict[str, Any]], generation_prompt: bool) -> str:
    """A conversation as the model reads it: its chat template, else ``role: content`` lines
    (with ``assistant:`` after them when a generation prompt is asked for). Training renders
    its rows with this too, so a trained adapter sees prompts exactly as it was trained."""
    chat = [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        text: str = tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=generation_prompt
        )
        return text
    rendered = "".join(f"{m['role']}: {m['content']}\n" for m in chat)
    return rendered + ("assistant:" if generation_prompt else "")


def stored_calibration(adapter_dirs: Sequence[Path], choices: Sequence[str]) -> Calibration | None:
    """The calibration of the one adapter, when it was fitted on exactly these choices."""
    if len(adapter_dirs) != 1 or not choices or not (adapter_dirs[0] / META_FILE).is_file():
        return None
    meta = read_meta(adapter_dirs[0])
    if not meta.calibration or not meta.labels or sorted(meta.labels) != sorted(choices):
        return None
    return meta.calibration


class CausalLM:
    """A causal LM loaded for inference.

    Args:
        model: model reference (alias such as ``smollm2-135m``, path or hub id).
        adapters: LoRA adapter directories or names; with several, all are loaded and
            activated together.
        choices: answer only with one of these: the choice whose first token is most likely
            right after the prompt; the probabilities (softmax over the choices' first-token
            logits) come with the answer.
        calibrated: with ``choices`` and one adapter whose stored calibration was fitted on
            these labels, divide the logits by its temperature and answer the positive label
            at or above its threshold; False answers with the raw argmax.
        batch_size: largest batch of concurrent requests run together.
    """

    def __init__(
        self,
        model: str,
        adapters: Sequence[str] = (),
        choices: Sequence[str] = (),
        calibrated: bool = True,
        batch_size: int = 16,
        max_wait_ms: float = 10.0,
    ) -> None:
        from ftevals.runtime.loading import accepts_logits_to_keep, load_causal, load_tokenizer

        self.model_ref = model
        path = resolve_model(model)
        self.tokenizer = load_tokenizer(path, padding_side="left")
        adapter_dirs = [resolve_adapter(a) for a in adapters]
        self.model = load_causal(path, adapter_dirs)
        self.adapter_dirs = adapter_dirs
        self.adapter_names = [d.name for d in adapter_dirs]
        # With choices only the last position's logits are read: skip the rest of the
        # vocabulary projection (a large share of a small LM's cost).
        self.last_only = {"logits_to_keep": 1} if accepts_logits_to_keep(self.model) else {}
        self.choices = list(choices)
        self.choice_ids = first_token_ids(self.tokenizer, self.choices)
        self.calibration = stored_calibration(adapter_dirs, self.choices) if calibrated else None
        self.name = model + "".join(f"+{a}" for a in self.adapter_names)
        self.fingerprint = fingerprint(adapter_dirs, path)
        self._lock = threading.Lock()
        self.batcher: DynamicBatcher[GenRequest, GenResult] = DynamicBatcher(
            self.generate_batch, max_batch=int(batch_size), max_wait_s=float(max_wait_ms) / 1000
        )

    def _render(self, messages: tuple[tuple[str, str], ...]) -> str:
        chat = [{"role": role, "content": content} for role, content in messages]
        return render_chat(self.tokenizer, chat, True)

    def generate(self, request: GenRequest) -> GenResult:
        """One request's answer, batched with concurrent callers' requests."""
        return self.batcher.submit(request)

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
