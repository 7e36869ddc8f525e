"""Rows written back as fine-tuning formats: chat, prompt/completion and text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftevals.converters.rows import Row
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import write_jsonl

WRITE_FORMATS = ("chat", "completion", "text")
# Top-level keys the fine-tuning API accepts beside "messages"; written back by ``write_rows``.
CHAT_PASSTHROUGH = ("tools", "functions", "parallel_tool_calls")


def flatten(messages: list[dict[str, Any]], for_completion: bool = True) -> str:
    """Chat messages as one text, exactly like ``evals.prompt.base.chat_prompt_to_text_prompt``.

    One message gives its content. Otherwise each message is a line prefixed ``User: ``,
    ``Assistant: `` (also for ``name`` example_user/example_assistant) or nothing (system),
    and ``for_completion`` appends a final ``Assistant:`` cue.
    """
    if len(messages) == 1:
        return str(messages[0]["content"])
    prefixes = {"system": "", "example_user": "User: ", "example_assistant": "Assistant: "}
    text = ""
    for msg in messages:
        role = str(msg["name"] if "name" in msg else msg["role"])
        text += f"{prefixes.get(role, role.capitalize() + ': ')}{msg['content']}\n"
    if for_completion:
        text += "Assistant:"
    return text.lstrip()


def prompt_and_answer(row: Row) -> tuple[list[dict[str, Any]], str | None]:
    """Split a row at its last assistant turn: (prompt messages, answer or None).

    The assistant turn must be the final message and hold text, and every prompt message must
    hold text (tool-call turns cannot be flattened); otherwise :class:`InputError`.
    """
    messages = row.messages
    last = len(messages) - 1
    idx = last if messages and messages[-1].get("role") == "assistant" else row.assistant_index()
    answer: str | None = None
    prompt = messages
    if idx is not None:
        if idx != last:
            why = f"{last - idx} message(s) after the last assistant turn"
            raise InputError(row.source, why, row.line, f"messages[{idx + 1}]")
        content = messages[idx].get("content")
        if not isinstance(content, str):
            why = "the last assistant turn has no text content"
            raise InputError(row.source, why, row.line, f"messages[{idx}].content")
        prompt, answer = messages[:idx], content
    if not prompt:
        raise InputError(row.source, "no message before the assistant turn", row.line, "messages")
    for i, message in enumerate(prompt):
        if type(message.get("content")) is not str:
            why = "no text content (tool-call turns cannot be used as a prompt)"
            raise InputError(row.source, why, row.line, f"messages[{i}].content")
    return prompt, answer


def row_to_record(row: Row, fmt: str) -> dict[str, Any]:
    """One output line (see :func:`write_rows`)."""
    if fmt == "chat":
        record: dict[str, Any] = {"messages": row.messages}
        record.update({k: row.metadata[k] for k in CHAT_PASSTHROUGH if k in row.metadata})
        return record
    if fmt not in WRITE_FORMATS:
        raise FtevalsError(f"unknown output format {fmt!r} (expected {', '.join(WRITE_FORMATS)})")
    prompt, answer = prompt_and_answer(row)
    if fmt == "text":
        return {"text": flatten(prompt, for_completion=False).rstrip("\n")}
    if answer is None:
        raise InputError(row.source, "completion output needs an assistant turn", row.line)
    return {"prompt": flatten(prompt), "completion": answer}


def write_rows(rows: list[Row], path: str | Path, fmt: str) -> int:
    """Write rows as JSONL (atomically) and return the count. Formats:

    * ``chat``: ``messages`` plus ``tools``/``functions``/``parallel_tool_calls`` from the
      metadata; other metadata is dropped (the fine-tuning API rejects unknown keys);
    * ``completion``: ``prompt`` = :func:`flatten` of the messages before the last assistant
      turn (a lone user message gives its content, else ``User: ...`` lines and a final
      ``Assistant:`` cue), ``completion`` = that turn's content;
    * ``text``: ``text`` = the same prompt messages flattened without the cue.
    """
    if fmt not in WRITE_FORMATS:
        raise FtevalsError(f"unknown output format {fmt!r} (expected {', '.join(WRITE_FORMATS)})")
    return write_jsonl(path, [row_to_record(row, fmt) for row in rows])
