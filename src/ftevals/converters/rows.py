"""The one in-memory shape of a fine-tuning example: chat messages plus metadata."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Row:
    """One fine-tuning example normalised to chat messages."""

    messages: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def assistant_index(self) -> int | None:
        """Index of the last assistant message, or None."""
        messages = self.messages
        if messages and messages[-1].get("role") == "assistant":  # the usual case
            return len(messages) - 1
        for i in range(len(messages) - 2, -1, -1):
            if messages[i].get("role") == "assistant":
                return i
        return None

    def prompt_messages(self) -> list[dict[str, Any]]:
        """Messages before the last assistant turn (all messages when there is none)."""
        messages = self.messages
        if messages and messages[-1].get("role") == "assistant":  # the usual case
            return messages[:-1]
        idx = self.assistant_index()
        return messages if idx is None else messages[:idx]

    def answer(self) -> str | None:
        """Content of the last assistant turn (None when absent or not text)."""
        idx = self.assistant_index()
        content = None if idx is None else self.messages[idx].get("content")
        return content if isinstance(content, str) else None


def fold_text(text: str) -> str:
    """Comparison form of a text: whitespace runs collapsed, case folded; that is
    ``" ".join(text.split()).casefold()``, without splitting printable ASCII text that has no
    whitespace to collapse (the usual prompt)."""
    if text.isascii() and text.isprintable() and "  " not in text:
        # printable ASCII has no whitespace but the space, and no run of two: only the ends
        return text.strip().lower()  # lower is casefold on ASCII, and faster
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=4096)
def normalise_text(text: str) -> str:
    """:func:`fold_text`, memoised (a bounded LRU cache): fine-tuning files repeat their system
    prompts on every row."""
    return fold_text(text)
