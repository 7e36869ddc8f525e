"""A local Hugging Face causal LM (optionally with LoRA adapters) as a completion function.

A thin evals adapter over :class:`ftevals.runtime.causal.CausalLM`, which loads the model,
batches concurrent calls (evals' worker threads) and generates or scores choices; this module
parses evals' arguments, builds the request from the prompt and records each call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ftevals import extras
from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call, to_messages
from ftevals.completion_fns.openai_chat import as_bool
from ftevals.runtime.causal import CausalLM, GenRequest, GenResult, first_token_ids

__all__ = ["GenRequest", "GenResult", "HFCausalCompletionFn", "first_token_ids"]


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in value.split("|") if v]
    return list(value)


class HFCausalCompletionFn(CausalLM):
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
        super().__init__(
            model,
            adapters=_as_list(adapters),
            choices=_as_list(choices),
            calibrated=bool(as_bool(calibrated, "calibrated")),
            batch_size=int(batch_size),
            max_wait_ms=float(max_wait_ms),
        )
        self.default_max_tokens = int(max_tokens)
        self.system = system

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
        result = self.generate(request)
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
