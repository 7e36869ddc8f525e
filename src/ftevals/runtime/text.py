"""Prompts as local models see them: chat messages, and the text a classifier judges."""

from __future__ import annotations

from typing import Any

Prompt = str | list[dict[str, Any]]


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
