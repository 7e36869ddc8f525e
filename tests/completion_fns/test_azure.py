"""azure/<deployment> through the official AzureOpenAI client against a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, Fault
from fakes.remote_helpers import events, instant_retry, log_text

from ftevals.completion_fns._retry import failure_of
from ftevals.completion_fns.azure import DEFAULT_API_VERSION, AzureCompletionFn
from ftevals.errors import FtevalsError
from ftevals.pricing import cost_usd

KEY = "azure-key-5d2e8b1f9a7c"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.entra-token-31337"
VARS = (
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_VERSION",
    "OPENAI_API_VERSION",
)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("unsafe", response_model="gpt-4o-2024-08-06") as s:
        yield s


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FakeOpenAIServer) -> None:
    monkeypatch.chdir(tmp_path)
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.root)


def test_key_auth_deployment_url_and_api_version(
    server: FakeOpenAIServer, env: None, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    fn = AzureCompletionFn(deployment="safety-prod")
    assert fn("Is this fine?", temperature=0, max_tokens=8).get_completions() == ["unsafe"]
    (request,) = server.requests
    assert request.path == "/openai/deployments/safety-prod/chat/completions"
    assert request.query == {"api-version": DEFAULT_API_VERSION}
    assert request.headers["api-key"] == KEY
    assert KEY not in request.headers.get("authorization", "")
    (event,) = events(recorder)
    usage = event["usage"]
    assert event["provider"] == "azure" and event["model"] == "gpt-4o-2024-08-06"
    # priced by the model the response names, not by the deployment name
    expected = cost_usd("gpt-4o", usage["prompt_tokens"], usage["completion_tokens"])
    assert expected is not None and event["cost_usd"] == pytest.approx(expected)


def test_entra_id_token_is_a_bearer_token(
    server: FakeOpenAIServer, env: None, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    fn = AzureCompletionFn(deployment="d1")
    assert fn.auth == "token"
    fn("x")
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in request.headers
    assert request.query["api-version"] == "2025-01-01-preview"
    assert TOKEN not in log_text(recorder) and TOKEN not in repr(fn)


def test_auth_mode_picks_the_credential(
    server: FakeOpenAIServer, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    assert AzureCompletionFn(deployment="d").auth == "key"
    assert AzureCompletionFn(deployment="d", auth="token").auth == "token"
    monkeypatch.delenv("AZURE_OPENAI_AD_TOKEN")
    with pytest.raises(FtevalsError, match=r"\$AZURE_OPENAI_AD_TOKEN"):
        AzureCompletionFn(deployment="d", auth="token")
    with pytest.raises(FtevalsError, match="auth must be"):
        AzureCompletionFn(deployment="d", auth="password")


def test_settings_from_dotenv_and_other_variables(
    server: FakeOpenAIServer,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    recorder: Any,
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    (tmp_path / ".env").write_text(
        f"AZURE_OPENAI_ENDPOINT={server.root}\nTEAM_AZURE_KEY='{KEY}'\n", encoding="utf-8"
    )
    fn = AzureCompletionFn(deployment="d", api_key_env="TEAM_AZURE_KEY", api_version="2024-06-01")
    fn("x")
    assert server.requests[0].headers["api-key"] == KEY
    assert server.requests[0].query["api-version"] == "2024-06-01"


def test_missing_settings_are_clear_errors(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FtevalsError, match="deployment=NAME"):
        AzureCompletionFn()
    with pytest.raises(FtevalsError, match=r"\$AZURE_OPENAI_API_KEY or \$AZURE_OPENAI_AD_TOKEN"):
        AzureCompletionFn(deployment="d")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with pytest.raises(FtevalsError, match="AZURE_OPENAI_ENDPOINT"):
        AzureCompletionFn(deployment="d")


def test_rate_limit_then_answer(
    server: FakeOpenAIServer, env: None, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    policy, waits = instant_retry()
    server.script(Fault.status_code(429, retry_after="2"), Fault.status_code(500))
    result = AzureCompletionFn(deployment="d", retry_policy=policy)("x")
    assert failure_of(result) is None and result.get_completions() == ["unsafe"]
    assert waits.sleeps == [2.0, 1.0]
    assert events(recorder)[0]["attempts"] == 3


def test_wrong_key_fails_without_leaking_it(
    env: None, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    with FakeOpenAIServer("safe", api_key="the-right-key") as strict:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", strict.root)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        result = AzureCompletionFn(deployment="d")("x")
    reason = failure_of(result)
    assert reason is not None and "HTTP 401" in reason
    assert KEY not in log_text(recorder)
