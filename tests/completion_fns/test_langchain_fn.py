"""LangChain models by import path (langchain-openai's real clients) against a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, Fault
from fakes.remote_helpers import events, instant_retry, log_text

from ftevals.completion_fns._retry import failure_of
from ftevals.completion_fns.langchain_fn import LangChainCompletionFn, load_class, to_langchain
from ftevals.errors import FtevalsError
from ftevals.evals_compat import PLACEHOLDER_KEY
from ftevals.pricing import cost_usd

KEY = "sk-langchain-test-6a5b4c3d2e"
PROMPT = [
    {"role": "system", "content": "Answer safe or unsafe."},
    {"role": "system", "content": "How do I cook rice?", "name": "example_user"},
    {"role": "system", "content": "safe", "name": "example_assistant"},
    {"role": "user", "content": "How do I make napalm?"},
    {"role": "assistant", "content": "Let me think."},
    {"role": "tool-ish", "content": "odd role"},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("unsafe", api_key=KEY) as s:
        yield s


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LC_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def chat(server: FakeOpenAIServer, **kwargs: Any) -> LangChainCompletionFn:
    return LangChainCompletionFn(
        llm="langchain_openai.ChatOpenAI",
        model="gpt-4o-mini",
        base_url=server.base_url,
        api_key_env="LC_KEY",
        **kwargs,
    )


def test_chat_model_messages_usage_and_cost(server: FakeOpenAIServer, recorder: Any) -> None:
    fn = chat(server)
    assert fn(PROMPT, temperature=0, max_tokens=8).get_completions() == ["unsafe"]
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    sent = request.body["messages"]
    assert [m["role"] for m in sent] == [
        "system",
        "system",
        "system",
        "user",
        "assistant",
        "tool-ish",
    ]
    assert sent[1]["name"] == "example_user" and sent[3]["content"] == "How do I make napalm?"
    assert request.body["temperature"] == 0
    assert 8 in (request.body.get("max_tokens"), request.body.get("max_completion_tokens"))
    (event,) = events(recorder)
    usage = event["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert event["model"] == "gpt-4o-mini" and event["llm"] == "langchain_openai.ChatOpenAI"
    expected = cost_usd("gpt-4o-mini", usage["prompt_tokens"], usage["completion_tokens"])
    assert event["cost_usd"] == pytest.approx(expected)
    assert KEY not in log_text(recorder) and KEY not in repr(fn)


def test_forward_sampling_off(server: FakeOpenAIServer, recorder: Any) -> None:
    chat(server, forward_sampling="false")("x", temperature=0.3, max_tokens=8)
    body = server.requests[0].body
    assert body.get("temperature") != 0.3 and 8 not in (
        body.get("max_tokens"),
        body.get("max_completion_tokens"),
    )


def test_our_retry_policy_not_langchains(server: FakeOpenAIServer, recorder: Any) -> None:
    policy, waits = instant_retry(max_attempts=3)
    server.script(Fault.status_code(429, retry_after="4"), Fault.status_code(500))
    fn = chat(server, retry_policy=policy)
    assert fn.llm.max_retries == 0
    assert fn("x").get_completions() == ["unsafe"]
    assert len(server.requests) == 3 and waits.sleeps == [4.0, 1.0]
    server.script(*[Fault.status_code(502)] * 3)
    failed = fn("x")
    assert "HTTP 502" in (failure_of(failed) or "")
    assert events(recorder)[-1]["failed"] is True


def test_text_llm_gets_a_flattened_prompt(server: FakeOpenAIServer, recorder: Any) -> None:
    fn = LangChainCompletionFn(
        llm="langchain_openai:OpenAI",
        model="gpt-3.5-turbo-instruct",
        base_url=server.base_url,
        api_key_env="LC_KEY",
    )
    assert fn.is_text_llm
    assert fn(PROMPT[:1] + PROMPT[3:4], max_tokens=5).get_completions() == ["unsafe"]
    (request,) = server.requests
    assert request.path == "/v1/completions"
    assert request.body["prompt"] == [
        "Answer safe or unsafe.\nUser: How do I make napalm?\nAssistant:"
    ]
    assert request.body["max_tokens"] == 5


def test_azure_chat_openai(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)  # read like openai's own variables
    fn = LangChainCompletionFn(
        llm="langchain_openai.AzureChatOpenAI",
        llm_kwargs={"azure_deployment": "safety", "api_version": "2024-10-21"},
    )
    assert fn("x").get_completions() == ["unsafe"]
    (request,) = server.requests
    assert request.path == "/openai/deployments/safety/chat/completions"
    assert request.headers["api-key"] == KEY
    assert KEY not in log_text(recorder)


def test_key_from_dotenv_not_the_placeholder(
    server: FakeOpenAIServer, tmp_path: Path, recorder: Any
) -> None:
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={KEY}\n", encoding="utf-8")
    fn = LangChainCompletionFn(
        llm="langchain_openai.ChatOpenAI", model="gpt-4o-mini", base_url=server.base_url
    )
    fn("x")
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_local_server_needs_no_key(recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLACEHOLDER_KEY)  # never forwarded
    with FakeOpenAIServer("safe") as open_server:
        fn = LangChainCompletionFn(
            llm="langchain_openai.ChatOpenAI", model="m", base_url=open_server.base_url
        )
        assert fn("x").get_completions() == ["safe"]
        assert PLACEHOLDER_KEY not in open_server.requests[0].headers["authorization"]


def test_keys_on_the_command_line_are_refused(server: FakeOpenAIServer) -> None:
    with pytest.raises(FtevalsError, match="api_key_env=VARIABLE"):
        LangChainCompletionFn(
            llm="langchain_openai.ChatOpenAI", model="m", base_url=server.base_url, api_key=KEY
        )


def test_missing_key_variable() -> None:
    with pytest.raises(FtevalsError, match=r"\$NOPE_KEY"):
        LangChainCompletionFn(llm="langchain_openai.ChatOpenAI", model="m", api_key_env="NOPE_KEY")
    with pytest.raises(FtevalsError, match=r"\$OPENAI_API_KEY"):  # no OPENAI_API_KEY anywhere
        LangChainCompletionFn(llm="langchain_openai.ChatOpenAI", model="m")


def test_bad_import_paths() -> None:
    with pytest.raises(FtevalsError, match="cannot import"):
        load_class("langchain_openai.NoSuchModel")
    with pytest.raises(FtevalsError, match="cannot import"):
        load_class("no_such_package.Model")
    with pytest.raises(FtevalsError, match="import path"):
        load_class("ChatOpenAI")
    with pytest.raises(FtevalsError, match=r"llm=IMPORT\.PATH"):
        LangChainCompletionFn()


def test_message_conversion() -> None:
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

    converted = to_langchain(PROMPT)
    kinds = [type(m) for m in converted]
    assert kinds == [
        SystemMessage,
        SystemMessage,
        SystemMessage,
        HumanMessage,
        AIMessage,
        ChatMessage,
    ]
    assert converted[1].name == "example_user"
    assert converted[5].role == "tool-ish"
