"""azure/<deployment> through the official AzureOpenAI client against a loopback server."""

from __future__ import annotations

import contextvars
import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, Fault
from fakes.remote_helpers import events, instant_retry, log_text

from ftevals.completion_fns._retry import failure_of
from ftevals.completion_fns.azure import (
    DEFAULT_API_VERSION,
    DEFAULT_TOKEN_COMMAND,
    AzureCompletionFn,
    TokenCommand,
)
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
    "AZURE_OPENAI_TOKEN_COMMAND",
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


# -- refreshing Entra ID tokens: auth=token_command, auth=entra --------------------------

SUFFIX = "c0ffee-9f3a71d2"  # every token the script prints ends with it
TOKEN_SCRIPT = """\
import pathlib, sys, threading
counter = pathlib.Path(sys.argv[1])
mode = sys.argv[2]
fail_from = int(sys.argv[3])
n = (int(counter.read_text()) if counter.exists() else 0) + 1
counter.write_text(str(n))
token = f"entra-tok-{n}-SUFFIX"
if mode == "hang":
    threading.Event().wait()  # never set: hangs until the token command's timeout kills it
if fail_from and n >= fail_from:
    print(token)
    print(f"ERROR: could not refresh {token}", file=sys.stderr)
    sys.exit(3)
print(token)
""".replace("SUFFIX", SUFFIX)


def token(n: int) -> str:
    return f"entra-tok-{n}-{SUFFIX}"


class TokenScript:
    """A token command: a Python script printing a new token each run (counted in a file)."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "get_token.py"
        self.script.write_text(TOKEN_SCRIPT, encoding="utf-8")
        self.counter = tmp_path / "token-runs.txt"

    def command(self, mode: str = "ok", fail_from: int = 0) -> str:
        argv = [sys.executable, str(self.script), str(self.counter), mode, str(fail_from)]
        return shlex.join(argv)

    @property
    def runs(self) -> int:
        return int(self.counter.read_text()) if self.counter.exists() else 0


@pytest.fixture
def tokens(tmp_path: Path) -> TokenScript:
    return TokenScript(tmp_path)


def bearers(server: FakeOpenAIServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def assert_no_token(text: str, runs: int) -> None:
    for n in range(1, runs + 1):
        assert token(n) not in text
    assert SUFFIX not in text


def test_token_command_token_is_sent_and_cached(
    server: FakeOpenAIServer, env: None, tokens: TokenScript, recorder: Any
) -> None:
    fn = AzureCompletionFn(deployment="d", auth="token_command", token_command=tokens.command())
    assert fn.auth == "token_command"
    for _ in range(3):
        assert fn("x").get_completions() == ["unsafe"]
    # default token_ttl (2700 s): the command ran once, every request carried its token
    assert tokens.runs == 1
    assert bearers(server) == [f"Bearer {token(1)}"] * 3
    assert all("api-key" not in r.headers for r in server.requests)
    assert len(events(recorder)) == 3
    assert_no_token(log_text(recorder) + repr(fn) + str(fn), tokens.runs)


def test_token_ttl_zero_gives_every_request_a_fresh_token(
    server: FakeOpenAIServer, env: None, tokens: TokenScript, recorder: Any
) -> None:
    fn = AzureCompletionFn(
        deployment="d", auth="token_command", token_command=tokens.command(), token_ttl="0"
    )
    for _ in range(3):
        fn("x")
    # one token when the function was made (a failing command is caught then), then one each
    assert tokens.runs == 4
    assert bearers(server) == [f"Bearer {token(n)}" for n in (2, 3, 4)]


def test_token_is_fetched_again_once_it_is_token_ttl_old(tokens: TokenScript) -> None:
    now = [100.0]
    provider = TokenCommand(tokens.command(), ttl=60, clock=lambda: now[0])
    assert provider() == token(1)
    now[0] += 59.9
    assert provider() == token(1) and tokens.runs == 1
    now[0] += 0.1  # 60 s old
    assert provider() == token(2) and tokens.runs == 2
    now[0] += 30
    assert provider() == token(2)
    assert not provider.invalidate(used=token(1))  # an old token: the current one stays
    assert provider() == token(2) and tokens.runs == 2
    assert provider.invalidate(used=token(2))
    assert provider() == token(3) and tokens.runs == 3
    assert token(3) not in repr(provider)


def test_token_command_from_the_environment(
    server: FakeOpenAIServer,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    tokens: TokenScript,
    recorder: Any,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_TOKEN_COMMAND", tokens.command())
    fn = AzureCompletionFn(deployment="d")  # auth=auto: no key, no fixed token, a command
    assert fn.auth == "token_command"
    fn("x")
    assert bearers(server) == [f"Bearer {token(1)}"]
    # a key still wins under auth=auto
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    assert AzureCompletionFn(deployment="d").auth == "key"
    assert AzureCompletionFn(deployment="d", auth="token_command").auth == "token_command"


def test_401_fetches_one_new_token_and_retries_once(
    env: None, monkeypatch: pytest.MonkeyPatch, tokens: TokenScript, recorder: Any
) -> None:
    # the service accepts only the second token: the first was "revoked"
    with FakeOpenAIServer("safe", api_key=token(2)) as strict:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", strict.root)
        fn = AzureCompletionFn(deployment="d", auth="token_command", token_command=tokens.command())
        first = fn("x")
        second = fn("y")
    assert failure_of(first) is None and first.get_completions() == ["safe"]
    assert failure_of(second) is None
    assert bearers(strict) == [f"Bearer {token(1)}", f"Bearer {token(2)}", f"Bearer {token(2)}"]
    assert tokens.runs == 2
    assert [e["attempts"] for e in events(recorder)] == [1, 1]
    assert_no_token(log_text(recorder), tokens.runs)


def test_401_with_the_new_token_fails_without_a_loop_or_a_leak(
    env: None, monkeypatch: pytest.MonkeyPatch, tokens: TokenScript, recorder: Any
) -> None:
    policy, waits = instant_retry(max_attempts=5)
    with FakeOpenAIServer("safe", api_key="no-token-is-good", echo_credentials=True) as strict:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", strict.root)
        fn = AzureCompletionFn(
            deployment="d",
            auth="token_command",
            token_command=tokens.command(),
            retry_policy=policy,
        )
        result = fn("x")
    reason = failure_of(result)
    assert reason is not None and "HTTP 401" in reason and "***" in reason
    assert len(strict.requests) == 2 and tokens.runs == 2  # one new token, one retry
    assert waits.sleeps == []  # 401 is not retried by the policy
    assert_no_token(reason + log_text(recorder) + repr(fn), tokens.runs)


def test_concurrent_401s_cause_one_new_token(
    env: None, monkeypatch: pytest.MonkeyPatch, tokens: TokenScript, recorder: Any
) -> None:
    with FakeOpenAIServer("safe", api_key=token(2)) as strict:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", strict.root)
        fn = AzureCompletionFn(deployment="d", auth="token_command", token_command=tokens.command())
        results: list[Any] = [None] * 8
        start = threading.Barrier(len(results))

        def call(i: int) -> None:
            start.wait(timeout=30)
            results[i] = fn(f"prompt {i}")

        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(call, i))
            for i in range(len(results))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    # the list, not all(): a failure shows each call's reason (openai 3.60 keeps no
    # Authorization header on a refused request; this test caught the refresh it broke)
    assert [failure_of(r) if r is not None else "no result" for r in results] == [None] * 8
    # every request refused with token 1 asked for a new token; the command ran once more
    assert tokens.runs == 2
    assert set(bearers(strict)) <= {f"Bearer {token(1)}", f"Bearer {token(2)}"}


def test_failing_token_command_is_a_clear_error_without_its_output(
    server: FakeOpenAIServer, env: None, tokens: TokenScript
) -> None:
    with pytest.raises(FtevalsError) as caught:
        AzureCompletionFn(
            deployment="d", auth="token_command", token_command=tokens.command(fail_from=1)
        )
    message = str(caught.value)
    assert "exit status 3" in message and f"`{sys.executable}`" in message
    assert_no_token(message, tokens.runs)
    assert "ERROR" not in message  # nor its error output
    assert server.requests == []


def test_token_command_failing_mid_run_fails_the_sample(
    server: FakeOpenAIServer, env: None, tokens: TokenScript, recorder: Any
) -> None:
    fn = AzureCompletionFn(
        deployment="d",
        auth="token_command",
        token_command=tokens.command(fail_from=2),
        token_ttl=0,
    )
    result = fn("x")
    reason = failure_of(result)
    assert reason is not None and "TokenCommandError" in reason and "exit status 3" in reason
    assert server.requests == []  # no request went out without a token
    (event,) = events(recorder)
    assert event["failed"] is True
    assert_no_token(reason + log_text(recorder), tokens.runs)


def test_token_command_timeout_and_bad_output(
    env: None, tokens: TokenScript, tmp_path: Path
) -> None:
    with pytest.raises(FtevalsError, match=r"timed out after 0.5s") as caught:
        AzureCompletionFn(
            deployment="d",
            auth="token_command",
            token_command=tokens.command(mode="hang"),
            token_timeout="0.5",
        )
    assert_no_token(str(caught.value), tokens.runs)
    two = tmp_path / "two_words.py"
    two.write_text(f"print('{token(1)} {token(2)}')\n", encoding="utf-8")
    with pytest.raises(FtevalsError, match="more than one token") as caught:
        TokenCommand(shlex.join([sys.executable, str(two)]))()
    assert_no_token(str(caught.value), 2)
    empty = tmp_path / "empty.py"
    empty.write_text("print('  ')\n", encoding="utf-8")
    with pytest.raises(FtevalsError, match="printed no token"):
        TokenCommand(shlex.join([sys.executable, str(empty)]))()


def test_default_token_command_is_azure_cli(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert DEFAULT_TOKEN_COMMAND == (
        "az account get-access-token --resource https://cognitiveservices.azure.com "
        "--query accessToken -o tsv"
    )
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no `az` here
    with pytest.raises(FtevalsError, match=r"token command `az` not found"):
        AzureCompletionFn(deployment="d", auth="token_command")


def test_token_command_argument_errors(env: None, tokens: TokenScript) -> None:
    with pytest.raises(FtevalsError, match="auth=token_command, not auth=key"):
        AzureCompletionFn(deployment="d", auth="key", token_command=tokens.command())
    with pytest.raises(FtevalsError, match="token_ttl must be at least 0"):
        AzureCompletionFn(
            deployment="d", auth="token_command", token_command=tokens.command(), token_ttl=-1
        )
    with pytest.raises(FtevalsError, match="not a valid command line"):
        AzureCompletionFn(deployment="d", auth="token_command", token_command="az 'unclosed")
    assert tokens.runs == 0


def test_entra_without_azure_identity_says_what_to_install(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if not installed
    with pytest.raises(FtevalsError, match=r"pip install azure-identity.*auth=token_command"):
        AzureCompletionFn(deployment="d", auth="entra")


def test_entra_with_azure_identity_builds_a_token_provider(env: None) -> None:
    pytest.importorskip(
        "azure.identity",
        reason="azure-identity is not installed (optional; only auth=entra uses it)",
    )
    fn = AzureCompletionFn(deployment="d", auth="entra")
    assert fn.auth == "entra" and callable(fn.token_provider)
