from __future__ import annotations

from typing import Any

import pytest

from ftevals.converters.checks import COOKBOOK_TYPES, Problem, check_example, is_simple

USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "safe"}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def types(obj: Any) -> list[tuple[str, str | None]]:
    return [(p.type, p.field) for p in check_example(obj)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"messages": [{"role": "user"}, ASSISTANT]},
            [("message_missing_key", "messages[0].content")],
        ),
        ({"messages": []}, [("missing_messages_list", "messages")]),
        ({"prompt": "x"}, [("missing_messages_list", "messages")]),
        ({"messages": ["hi", ASSISTANT]}, [("data_type", "messages[0]")]),
        (
            {"messages": [{**USER, "extra": 1}, ASSISTANT]},
            [("message_unrecognized_key", "messages[0].extra")],
        ),
        (
            {"messages": [{"role": "bot", "content": "x"}, ASSISTANT]},
            [("unrecognized_role", "messages[0].role")],
        ),
        (
            {"messages": [{"role": "user", "content": ""}, ASSISTANT]},
            [("missing_content", "messages[0].content")],
        ),
        (
            {"messages": [{"role": "user", "content": ["a"]}, ASSISTANT]},
            [("missing_content", "messages[0].content")],
        ),
        ({"messages": [USER]}, [("example_missing_assistant_message", "messages")]),
    ],
)
def test_cookbook_error_types(obj: Any, expected: list[tuple[str, str]]) -> None:
    assert types(obj) == expected
    assert {t for t, _ in expected} <= set(COOKBOOK_TYPES)


def test_what_the_cookbook_gets_wrong_is_accepted() -> None:
    # null content beside function_call / tool_calls, the tool role, weights 0 and 1
    obj = {
        "messages": [
            USER,
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "f", "arguments": "{}"},
            },
            {"role": "function", "name": "f", "content": "1"},
            {"role": "assistant", "tool_calls": [CALL], "weight": 0},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "assistant", "content": "done", "weight": 1},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert check_example(obj) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"role": "assistant", "content": "a", "weight": 2},
            ("invalid_weight", "messages[1].weight"),
        ),
        (
            {"role": "assistant", "content": "a", "weight": True},
            ("invalid_weight", "messages[1].weight"),
        ),
        (
            {"role": "assistant", "content": "a", "weight": "1"},
            ("invalid_weight", "messages[1].weight"),
        ),
        ({"role": "assistant", "content": "a", "name": 3}, ("invalid_name", "messages[1].name")),
        ({"role": "assistant", "tool_calls": []}, ("invalid_tool_calls", "messages[1].tool_calls")),
        (
            {"role": "assistant", "tool_calls": [{"id": "c"}]},
            ("invalid_tool_calls", "messages[1].tool_calls"),
        ),
        (
            {"role": "assistant", "function_call": {"name": "f"}},
            ("invalid_function_call", "messages[1].function_call"),
        ),
        ({"role": "assistant", "content": None}, ("missing_content", "messages[1].content")),
    ],
)
def test_corrected_checks(message: dict[str, Any], expected: tuple[str, str]) -> None:
    assert types({"messages": [USER, message]}) == [expected]


def test_weight_and_calls_only_on_assistant_turns_and_tool_needs_its_call_id() -> None:
    obj = {
        "messages": [
            {**USER, "weight": 1},
            {"role": "user", "content": "x", "tool_calls": [CALL]},
            {"role": "tool", "content": "42"},
            ASSISTANT,
        ]
    }
    assert types(obj) == [
        ("invalid_weight", "messages[0].weight"),
        ("invalid_tool_calls", "messages[1].tool_calls"),
        ("message_missing_key", "messages[2].tool_call_id"),
    ]


def test_is_simple_is_only_a_shortcut() -> None:
    simple = {"messages": [{"role": "system", "content": "S"}, USER, ASSISTANT]}
    assert is_simple(simple) and check_example(simple) == []
    for obj in (
        {"messages": [USER]},
        {"messages": [USER, {"role": "assistant", "content": ""}]},
        {"messages": [USER, ASSISTANT], "id": 1},
        {"messages": [{"role": ["user"], "content": "x"}, ASSISTANT]},
    ):
        assert not is_simple(obj)
    assert check_example({"messages": [{"role": ["user"], "content": "x"}, ASSISTANT]}) == [
        Problem(
            "unrecognized_role",
            "messages[0].role",
            "['user'] is not one of system, user, assistant, tool, function",
        )
    ]
