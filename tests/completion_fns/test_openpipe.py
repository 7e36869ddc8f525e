"""openpipe/<model-id>: OpenPipe's OpenAI-compatible endpoint, request tags as metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from fakes.remote_helpers import events, log_text

from ftevals import evals_compat
from ftevals.completion_fns.openpipe import OPENPIPE_BASE_URL, OpenPipeCompletionFn, parse_tags
from ftevals.errors import FtevalsError
from ftevals.paths import project_registry

KEY = "opk_test_4c3b2a1f0e9d"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("safe", api_key=KEY) as s:
        yield s


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENPIPE_API_KEY", KEY)
    monkeypatch.delenv("OPENPIPE_BASE_URL", raising=False)


def test_defaults_to_openpipe() -> None:
    fn = OpenPipeCompletionFn(model="openpipe:safety-v1")  # builds a client, sends nothing
    assert fn.base_url == OPENPIPE_BASE_URL == "https://api.openpipe.ai/api/v1"
    assert fn.provider == "openpipe"


def test_tags_are_sent_as_metadata_with_store(server: FakeOpenAIServer, recorder: Any) -> None:
    fn = OpenPipeCompletionFn(
        model="openpipe:safety-v1", base_url=server.base_url, tags="prompt_id:safety|run:ci 42"
    )
    assert fn("x", temperature=0).get_completions() == ["safe"]
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "openpipe:safety-v1"
    assert request.body["metadata"] == {"prompt_id": "safety", "run": "ci 42"}
    assert request.body["store"] is True
    assert events(recorder)[0]["provider"] == "openpipe"
    assert KEY not in log_text(recorder)


def test_no_tags_no_metadata(server: FakeOpenAIServer, recorder: Any) -> None:
    OpenPipeCompletionFn(model="openpipe:m", base_url=server.base_url)("x")
    body = server.requests[0].body
    assert "metadata" not in body and "store" not in body


def test_registry_entry_with_yaml_tags(server: FakeOpenAIServer, recorder: Any) -> None:
    registry = evals_compat.registry_class()()
    registry.add_registry_paths([str(project_registry())])
    fn = registry.make_completion_fn(
        "openpipe", model="openpipe:m", base_url=server.base_url, tags={"team": "safety"}
    )
    fn("x")
    assert server.requests[0].body["metadata"] == {"team": "safety"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (None, {}),
        ("", {}),
        ("a:1", {"a": "1"}),
        ("a:1|b: two ", {"a": "1", "b": "two"}),
        ("url:http://x", {"url": "http://x"}),
        ({"n": 3}, {"n": "3"}),
    ],
)
def test_parse_tags(tags: Any, expected: dict[str, str]) -> None:
    assert parse_tags(tags) == expected


@pytest.mark.parametrize("bad", ["novalue", "a:1|oops", ":x"])
def test_bad_tags(bad: str) -> None:
    with pytest.raises(FtevalsError, match="key:value"):
        parse_tags(bad)


def test_model_and_key_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FtevalsError, match="model=openpipe:"):
        OpenPipeCompletionFn()
    monkeypatch.delenv("OPENPIPE_API_KEY")
    with pytest.raises(FtevalsError, match=r"\$OPENPIPE_API_KEY"):
        OpenPipeCompletionFn(model="openpipe:m")
