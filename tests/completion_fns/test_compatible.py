"""openai-compatible and the OctoAI preset, down to a full oaieval run against a loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, Fault
from fakes.remote_helpers import events

from ftevals.completion_fns.compatible import (
    NO_KEY,
    OCTOAI_BASE_URL,
    OctoAICompletionFn,
    OpenAICompatibleCompletionFn,
)
from ftevals.errors import FtevalsError
from ftevals.evals_compat import prefixed_spec
from ftevals.pricing import cost_usd

KEY = "local-secret-key-9e8d7c6b5a"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("safe") as s:
        yield s


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("OCTOAI_API_KEY", "OCTOAI_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_key_from_named_variable(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    fn = OpenAICompatibleCompletionFn(
        base_url=server.base_url + "/", model="m", api_key_env="MY_KEY"
    )
    assert fn("hello", max_tokens=4).get_completions() == ["safe"]
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "m" and request.body["max_tokens"] == 4
    (event,) = events(recorder)
    assert event["provider"] == "openai-compatible" and event["usage"]["total_tokens"] == 2
    assert event["cost_usd"] is None  # "m" has no price
    assert KEY not in repr(fn)


def test_no_key_needed_for_local_servers(server: FakeOpenAIServer, recorder: Any) -> None:
    OpenAICompatibleCompletionFn(base_url=server.base_url, model="m")("hello")
    assert server.requests[0].headers["authorization"] == f"Bearer {NO_KEY}"


def test_price_model_prices_the_calls(server: FakeOpenAIServer, recorder: Any) -> None:
    OpenAICompatibleCompletionFn(base_url=server.base_url, model="m", price_model="gpt-4o-mini")(
        "one two three"
    )
    (event,) = events(recorder)
    assert event["cost_usd"] == pytest.approx(cost_usd("gpt-4o-mini", 3, 1))


def test_missing_named_key_is_an_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(FtevalsError, match=r"\$MY_KEY"):
        OpenAICompatibleCompletionFn(base_url=server.base_url, model="m", api_key_env="MY_KEY")


def test_base_url_is_required() -> None:
    with pytest.raises(FtevalsError, match="base_url=http"):
        OpenAICompatibleCompletionFn(model="m")


def test_the_only_served_model_is_used(server: FakeOpenAIServer, recorder: Any) -> None:
    fn = OpenAICompatibleCompletionFn(base_url=server.base_url)
    assert fn.model == "m"
    fn("x")
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/chat/completions"]


def test_several_served_models_need_a_choice() -> None:
    with FakeOpenAIServer(models=("a", "b")) as two:
        with pytest.raises(FtevalsError, match=r"serves 2 models \(a, b\)"):
            OpenAICompatibleCompletionFn(base_url=two.base_url)


def test_octoai_preset_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FtevalsError, match=r"\$OCTOAI_API_KEY"):
        OctoAICompletionFn(model="meta-llama-3.1-8b-instruct")
    monkeypatch.setenv("OCTOAI_API_KEY", KEY)
    fn = OctoAICompletionFn(model="meta-llama-3.1-8b-instruct")  # builds a client, no request
    assert fn.base_url == OCTOAI_BASE_URL == "https://text.octoai.run/v1"
    assert fn.provider == "octoai"


def test_octoai_runs_against_any_compatible_endpoint(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.setenv("OCTOAI_API_KEY", KEY)
    monkeypatch.setenv("OCTOAI_BASE_URL", server.base_url)
    fn = OctoAICompletionFn(model="mixtral-8x7b-instruct")
    assert fn("x").get_completions() == ["safe"]
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.requests[0].body["model"] == "mixtral-8x7b-instruct"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai/gpt-4.1-2025-04-14", ("openai_chat:OpenAIChatCompletionFn", "model")),
        ("azure/my-deployment", ("azure:AzureCompletionFn", "deployment")),
        ("octoai/llama", ("compatible:OctoAICompletionFn", "model")),
        ("openpipe/openpipe:x", ("openpipe:OpenPipeCompletionFn", "model")),
    ],
)
def test_prefixed_names_route_to_a_provider(name: str, expected: tuple[str, str]) -> None:
    spec = prefixed_spec(name)
    assert spec is not None
    cls, args = spec
    assert cls == f"ftevals.completion_fns.{expected[0]}"
    assert args == {expected[1]: name.split("/", 1)[1]}


def test_unknown_prefixes_are_not_routed() -> None:
    assert prefixed_spec("hf-causal") is None
    assert prefixed_spec("ftevals/keyword-guard") is None


def test_oaieval_end_to_end(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """The real engine: 10 samples, 3 of which hit a 400 and are recorded as failed samples."""
    server.script(*[Fault.status_code(400)] * 3)
    log = tmp_path / "run.jsonl"
    server.api_key = KEY
    env = {**os.environ, "MY_KEY": KEY, "EVALS_THREADS": "4"}
    env.pop("OPENAI_API_KEY", None)
    args = f"base_url={server.base_url},model=m,api_key_env=MY_KEY,price_model=gpt-4o-mini"
    proc = subprocess.run(
        [sys.executable, "-m", "ftevals.harness.engine", "openai-compatible", "prompt-safety"]
        + ["--completion_args", args, "--max_samples", "10", "--record_path", str(log)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = log.read_text(encoding="utf-8")
    assert KEY not in text and KEY not in proc.stderr and KEY not in proc.stdout
    rows = [json.loads(line) for line in text.splitlines()]
    report = next(r["final_report"] for r in rows if "final_report" in r)
    sampling = [r["data"] for r in rows if r.get("type") == "sampling"]
    matches = [r["data"] for r in rows if r.get("type") == "match"]
    assert len(sampling) == 10 and len(matches) == 10
    failed = [s for s in sampling if s.get("failed")]
    answered = [s for s in sampling if not s.get("failed")]
    assert len(failed) == 3 and all("HTTP 400" in s["error"] for s in failed)
    assert all(s["usage"]["total_tokens"] > 0 and s["cost_usd"] > 0 for s in answered)
    assert all(s["latency_s"] > 0 for s in sampling)
    assert sum(1 for m in matches if m.get("failed")) == 3
    assert report["failed"] == 3
    correct = sum(1 for m in matches if m["correct"])
    assert report["accuracy"] == pytest.approx(correct / 7)
    assert report["usage_total_tokens"] == sum(s["usage"]["total_tokens"] for s in answered)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert len(server.requests) == 10


def test_no_log_line_per_http_request_unless_configured(
    server: FakeOpenAIServer, recorder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    with caplog.at_level(logging.INFO):
        fn = OpenAICompatibleCompletionFn(base_url=server.base_url, model="m")
        fn("hello")
        assert not [r for r in caplog.records if "HTTP Request" in r.getMessage()]
        # a level the user set is theirs: it is kept
        logging.getLogger("httpx2").setLevel(logging.INFO)
        OpenAICompatibleCompletionFn(base_url=server.base_url, model="m")("hello")
        assert [r for r in caplog.records if "HTTP Request" in r.getMessage()]
    logging.getLogger("httpx2").setLevel(logging.NOTSET)
