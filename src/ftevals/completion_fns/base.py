"""Pieces shared by every completion function: the result type, prompt handling, recording."""

from __future__ import annotations

from typing import Any

from evals.api import CompletionResult
from evals.record import record_sampling

from ftevals.runtime.text import Prompt, text_to_classify, to_messages

__all__ = ["Prompt", "TextCompletionResult", "record_call", "text_to_classify", "to_messages"]


class TextCompletionResult(CompletionResult):  # type: ignore[misc]
    """A finished completion: one or more texts."""

    def __init__(self, completions: list[str], raw: dict[str, Any] | None = None) -> None:
        self.completions = completions
        self.raw = raw or {}

    def get_completions(self) -> list[str]:
        return list(self.completions)


def record_call(
    prompt: Prompt,
    sampled: list[str],
    *,
    model: str,
    latency_s: float,
    usage: dict[str, int] | None = None,
    **extra: Any,
) -> None:
    """Record a ``sampling`` event with usage and latency (keys evals' usage summary reads)."""
    data: dict[str, Any] = {"model": model, "latency_s": round(latency_s, 6)}
    if usage is not None:
        data["usage"] = usage
    data.update(extra)
    record_sampling(prompt=prompt, sampled=sampled, **data)
