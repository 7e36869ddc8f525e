"""Will OpenAI's fine-tuning API accept this chat example? The cookbook's checks, corrected.

The OpenAI cookbook notebook ``Chat_finetuning_data_prep.ipynb`` counts seven error types:
``data_type``, ``missing_messages_list``, ``message_missing_key``, ``message_unrecognized_key``,
``unrecognized_role``, ``missing_content`` and ``example_missing_assistant_message``. Its
known gaps are fixed here: a numeric ``weight`` is checked (0 or 1, assistant turns only)
instead of crashing the token counter; the ``tool`` role, ``tool_calls`` and ``tool_call_id``
are understood; ``content`` may be null or absent beside ``tool_calls``/``function_call``.
New types: ``invalid_weight``, ``invalid_name``, ``invalid_tool_calls``,
``invalid_function_call``; the JSONL reader adds ``invalid_json``, ``encoding`` and
``line_too_long``, and other input formats ``invalid_row``.

Reading data (:mod:`~ftevals.converters.formats`) is more lenient on purpose: it only needs to
understand a row, whereas these checks say what the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COOKBOOK_TYPES = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
)
ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = frozenset(
    ("role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id")
)
TOP_LEVEL_KEYS = frozenset(("messages", "tools", "functions", "parallel_tool_calls"))


@dataclass(frozen=True)
class Problem:
    """One format error of an example."""

    type: str
    """An error type (see the module docstring)."""
    field: str | None
    """Where in the example, e.g. ``messages[2].content``."""
    message: str


def _is_call(value: Any) -> bool:
    """``{"name": str, "arguments": str}``."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and isinstance(value.get("arguments"), str)
    )


def _tool_calls_problem(calls: Any) -> str | None:
    if not isinstance(calls, list) or not calls:
        return "must be a non-empty list"
    for j, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            return f"[{j}] needs a string 'id'"
        if call.get("type", "function") != "function":
            return f"[{j}].type must be 'function'"
        if not _is_call(call.get("function")):
            return f"[{j}].function needs string 'name' and 'arguments'"
    return None


def check_message(i: int, msg: Any) -> list[Problem]:
    """Problems of message ``i``."""
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        return [Problem("data_type", where, f"expected an object, got {type(msg).__name__}")]
    problems = []
    role = msg.get("role")
    calls = msg.get("tool_calls") is not None or msg.get("function_call") is not None
    if "role" not in msg:
        problems.append(Problem("message_missing_key", f"{where}.role", "missing"))
    elif not isinstance(role, str) or role not in ROLES:
        why = f"{role!r} is not one of {', '.join(ROLES)}"
        problems.append(Problem("unrecognized_role", f"{where}.role", why))
    if "content" not in msg and not calls:
        problems.append(Problem("message_missing_key", f"{where}.content", "missing"))
    for key in msg:
        if key not in MESSAGE_KEYS:
            problems.append(Problem("message_unrecognized_key", f"{where}.{key}", "not allowed"))
    content = msg.get("content")
    if "content" in msg:
        if content is None and not (calls and role == "assistant"):
            why = "null (allowed only beside tool_calls or function_call of an assistant)"
            problems.append(Problem("missing_content", f"{where}.content", why))
        elif content is not None and not isinstance(content, str):
            why = f"must be a string, got {type(content).__name__}"
            problems.append(Problem("missing_content", f"{where}.content", why))
        elif content == "" and not calls:
            problems.append(Problem("missing_content", f"{where}.content", "empty"))
    if "weight" in msg:
        weight = msg["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            problems.append(Problem("invalid_weight", f"{where}.weight", f"{weight!r}: not 0 or 1"))
        elif role != "assistant":
            why = "only assistant messages take a weight"
            problems.append(Problem("invalid_weight", f"{where}.weight", why))
    if "name" in msg and not isinstance(msg["name"], str):
        problems.append(Problem("invalid_name", f"{where}.name", "must be a string"))
    if msg.get("tool_calls") is not None:
        wrong = _tool_calls_problem(msg["tool_calls"])
        if wrong is None and role != "assistant":
            wrong = "only assistant messages make tool calls"
        if wrong:
            problems.append(Problem("invalid_tool_calls", f"{where}.tool_calls", wrong))
    if msg.get("function_call") is not None:
        bad = "needs string 'name' and 'arguments'" if not _is_call(msg["function_call"]) else ""
        bad = bad or ("" if role == "assistant" else "only assistant messages call functions")
        if bad:
            problems.append(Problem("invalid_function_call", f"{where}.function_call", bad))
    if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
        why = "a tool message needs the string id of the call it answers"
        problems.append(Problem("message_missing_key", f"{where}.tool_call_id", why))
    return problems


def check_example(obj: dict[str, Any]) -> list[Problem]:
    """Problems of one chat example (a JSON object); empty when the API would accept it."""
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        what = "missing" if messages is None else "must be a non-empty list"
        return [Problem("missing_messages_list", "messages", what)]
    problems = [p for i, msg in enumerate(messages) for p in check_message(i, msg)]
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        why = "no assistant message to learn from"
        problems.append(Problem("example_missing_assistant_message", "messages", why))
    return problems


def is_simple(obj: dict[str, Any]) -> bool:
    """True for the common example that needs no closer look: only ``messages``, each with
    exactly a known role and non-empty text content, and at least one assistant turn."""
    messages = obj.get("messages")
    if len(obj) != 1 or type(messages) is not list or not messages:
        return False
    assistant = False
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return False
        role, content = m.get("role"), m.get("content")
        if type(content) is not str or not content or role not in ROLES:
            return False
        assistant = assistant or role == "assistant"
    return assistant
