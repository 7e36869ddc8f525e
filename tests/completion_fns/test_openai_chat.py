"""openai/<model> through the official openai client against a real loopback server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import pytest
from evals.api import CompletionFn
from fakes.openai_server import FakeOpenAIServer, Fault
from fakes.remote_helpers import events, instant_retry, log_text

from ftevals import evals_compat
from ftevals.completion_fns._retry import CompletionFailed, failure_of
from ftevals.completion_fns.openai_chat import OpenAIChatCompletionFn, is_reasoning_model
from ftevals.errors import FtevalsError
from ftevals.evals_compat import PLACEHOLDER_KEY
from ftevals.paths import project_registry
from ftevals.pricing import cost_usd

KEY = "sk-test-openai-7f3a9c1e5b"
PROMPT = [
    {"role": "system", "content": "Answer safe or unsafe."},
    {"role": "user", "content": "How do I bake bread?"},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("safe", api_key=KEY) as s:
        yield s


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make(server: FakeOpenAIServer, model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
    return OpenAIChatCompletionFn(model=model, base_url=server.base_url, **kwargs)


def test_answers_and_records_usage_latency_cost(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    fn = make(server)
    assert isinstance(fn, CompletionFn)
    result = fn(PROMPT, temperature=0.0, max_tokens=8, logit_bias=None, unknown_kw=1)
    assert result.get_completions() == ["safe"]
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == PROMPT
    assert request.body["temperature"] == 0.0 and request.body["max_tokens"] == 8
    assert "unknown_kw" not in request.body
    (event,) = events(recorder)
    assert event["sampled"] == ["safe"]
    assert event["usage"] == {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
    assert event["cost_usd"] == pytest.approx(cost_usd("gpt-4o-mini", 9, 1))
    assert event["cost_usd"] > 0
    assert event["latency_s"] > 0 and event["attempts"] == 1
    assert event["model"] == "gpt-4o-mini" and event["provider"] == "openai"


def test_string_prompt_is_one_user_turn(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    make(server)("Is this safe?")
    assert server.requests[0].body["messages"] == [{"role": "user", "content": "Is this safe?"}]


def test_n_completions(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    assert make(server)(PROMPT, n=3).get_completions() == ["safe", "safe", "safe"]


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o3-mini", True),
        ("o4-mini-2025-04-16", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("ft:o4-mini:org::abc", True),
        ("gpt-4o", False),
        ("gpt-4.1-mini", False),
        ("omni-moderation", False),
    ],
)
def test_reasoning_model_names(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning


def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    make(server, "o3-mini")(PROMPT, temperature=0.0, max_tokens=8, top_p=1)
    body = server.requests[0].body
    assert body["max_completion_tokens"] == 8
    assert "max_tokens" not in body and "temperature" not in body and "top_p" not in body


def test_configured_max_tokens_overrides_the_eval(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    make(server, "o3-mini", max_tokens="4096")(PROMPT, max_tokens=8)
    assert server.requests[0].body["max_completion_tokens"] == 4096


def test_placeholder_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", PLACEHOLDER_KEY)
    with pytest.raises(FtevalsError, match=r"OPENAI_API_KEY"):
        OpenAIChatCompletionFn(model="gpt-4o-mini")


def test_key_from_dotenv(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recorder: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / ".env").write_text(f'OPENAI_API_KEY="{KEY}"\n', encoding="utf-8")
    assert make(server).__call__(PROMPT).get_completions() == ["safe"]
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_model_is_required(env: None) -> None:
    with pytest.raises(FtevalsError, match="model=gpt-4o-mini"):
        OpenAIChatCompletionFn()


def test_unknown_completion_args_warn(
    env: None, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make(server, api_key_env="X", n_ctx=4096)
    assert "api_key_env, n_ctx" in caplog.text


def test_one_pooled_client_reuses_its_connection(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    fn = make(server)
    client = fn.client
    for _ in range(5):
        fn(PROMPT)
    assert fn.client is client
    assert len({r.client_port for r in server.requests}) == 1


def test_concurrent_calls_from_evals_threads(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    fn = make(server)

    def one(i: int) -> list[str]:
        with recorder.as_default_recorder(f"t.dev.{i}"):
            return list(fn(f"prompt {i}").get_completions())

    with ThreadPool(16) as pool:
        answers = pool.map(one, range(64))
    assert answers == [["safe"]] * 64
    assert len(events(recorder)) == 64
    assert len({r.client_port for r in server.requests}) <= 16


def test_429_retry_after_is_honoured(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, waits = instant_retry()
    server.script(
        Fault.status_code(429, retry_after="3"), Fault.status_code(429, retry_after_ms="1500")
    )
    result = make(server, retry_policy=policy)(PROMPT)
    assert result.get_completions() == ["safe"]
    assert waits.sleeps == [3.0, 1.5]
    assert len(server.requests) == 3
    assert events(recorder)[0]["attempts"] == 3


def test_persistent_500_is_a_failed_sample_not_an_answer(
    server: FakeOpenAIServer, env: None, recorder: Any
) -> None:
    policy, waits = instant_retry(max_attempts=3)
    server.script(*[Fault.status_code(500)] * 3)
    result = make(server, retry_policy=policy)(PROMPT)
    reason = failure_of(result)
    assert reason is not None and "HTTP 500" in reason and "gave up after 3 attempts" in reason
    assert result.get_completions() == [""]
    assert len(server.requests) == 3 and waits.sleeps == [0.5, 1.0]
    (event,) = events(recorder)
    assert event["failed"] is True and event["error"] == reason
    assert event["sampled"] == [] and "usage" not in event and event["cost_usd"] is None


def test_on_failure_raise(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, _ = instant_retry(max_attempts=1)
    server.script(Fault.status_code(503))
    with pytest.raises(CompletionFailed, match="HTTP 503"):
        make(server, retry_policy=policy, on_failure="raise")(PROMPT)
    assert events(recorder)[0]["failed"] is True


def test_timeout_then_retry_succeeds(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, waits = instant_retry()
    server.script(Fault.hang())
    result = make(server, retry_policy=policy, timeout="0.3")(PROMPT)
    assert result.get_completions() == ["safe"]
    assert waits.sleeps == [0.5]
    assert len(server.requests) == 2


def test_timeouts_fail_the_sample(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, _ = instant_retry(max_attempts=2)
    server.script(Fault.hang(), Fault.hang())
    result = make(server, retry_policy=policy, timeout="0.2")(PROMPT)
    assert "timeout" in (failure_of(result) or "")


def test_malformed_json_fails_at_once(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, waits = instant_retry()
    server.script(Fault.malformed())
    result = make(server, retry_policy=policy)(PROMPT)
    assert "malformed response" in (failure_of(result) or "")
    assert len(server.requests) == 1 and waits.sleeps == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{}", "malformed response: no choices"),
        ('{"choices": []}', "malformed response: no choices"),
        ('{"choices": [{"text": "safe"}]}', "malformed response: a choice has no message"),
        ("[1, 2]", "malformed response: no choices"),
    ],
)
def test_valid_json_without_an_answer_fails_at_once(
    server: FakeOpenAIServer, env: None, recorder: Any, body: str, reason: str
) -> None:
    policy, _ = instant_retry()
    server.script(Fault("status", 200, {}, body))
    assert failure_of(make(server, retry_policy=policy)(PROMPT)) == reason
    assert len(server.requests) == 1


def test_bad_request_fails_at_once(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    policy, waits = instant_retry()
    server.script(Fault.status_code(400))
    assert "HTTP 400" in (failure_of(make(server, retry_policy=policy)(PROMPT)) or "")
    assert len(server.requests) == 1 and waits.sleeps == []


def test_key_never_leaks(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    """Not in the log, the reason, the repr, or a raised exception, even if the server echoes it."""
    policy, _ = instant_retry(max_attempts=1)
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}})
    server.script(Fault("status", 401, {}, echo), Fault("status", 401, {}, echo))
    fn = make(server, retry_policy=policy)
    result = fn(PROMPT)
    assert "Incorrect API key provided: ***" in (failure_of(result) or "")
    raising = make(server, retry_policy=policy, on_failure="raise")
    with pytest.raises(CompletionFailed) as info:
        raising(PROMPT)
    fn(PROMPT)  # and one success
    written = log_text(recorder)
    assert "Incorrect API key provided: ***" in written
    for text in (
        written,
        str(info.value),
        repr(info.value),
        repr(fn),
        repr(fn.secret),
        str(vars(fn)),
    ):
        assert KEY not in text


def test_registry_entries(server: FakeOpenAIServer, env: None, recorder: Any) -> None:
    registry = evals_compat.registry_class()()
    registry.add_registry_paths([str(project_registry())])
    fn = registry.make_completion_fn("openai/gpt-4.1-mini", base_url=server.base_url)
    assert fn("hi").get_completions() == ["safe"]
    any_model = registry.make_completion_fn(
        "openai", model="gpt-4.1-2025-04-14", base_url=server.base_url
    )
    any_model("hi")
    o3 = registry.make_completion_fn("openai/o3-mini", base_url=server.base_url)
    o3("hi", max_tokens=8)
    bodies = [r.body for r in server.requests]
    assert [b["model"] for b in bodies] == ["gpt-4.1-mini", "gpt-4.1-2025-04-14", "o3-mini"]
    assert bodies[2]["max_completion_tokens"] == 4096


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"max_tokens": "lots"}, "max_tokens must be an integer"),
        ({"max_attempts": "2.5"}, "max_attempts must be an integer"),
        ({"reasoning": "maybe"}, "reasoning must be true or false"),
        ({"on_failure": "ignore"}, "on_failure must be one of record, raise"),
    ],
)
def test_bad_completion_args_are_named(
    server: FakeOpenAIServer, env: None, arg: dict[str, str], message: str
) -> None:
    with pytest.raises(FtevalsError, match=message):
        make(server, **arg)
