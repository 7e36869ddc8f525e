"""Pieces shared by every completion function: the result type, prompt handling, recording."""

from __future__ import annotations

from typing import Any

from evals.api import CompletionResult
from evals.record import record_sampling

Prompt = str | list[dict[str, Any]]


class TextCompletionResult(CompletionResult):  # type: ignore[misc]
    """A finished completion: one or more texts."""

    def __init__(self, completions: list[str], raw: dict[str, Any] | None = None) -> None:
        self.completions = completions
        self.raw = raw or {}

    def get_completions(self) -> list[str]:
        return list(self.completions)


def to_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """A chat message list for any evals prompt (a bare string becomes one user turn)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt):
        return [dict(m) for m in prompt]
    raise TypeError(f"unsupported prompt type: {type(prompt).__name__}")


def text_to_classify(prompt: Prompt) -> str:
    """The text a sequence classifier judges: the user turns of a chat prompt.

    System instructions (which tell a generative model how to answer) are not part of
    the text under judgement; several user turns are joined with newlines.
    """
    if isinstance(prompt, str):
        return prompt
    messages = to_messages(prompt)
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    if users:
        return "\n".join(users)
    return "\n".join(str(m.get("content") or "") for m in messages)


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
