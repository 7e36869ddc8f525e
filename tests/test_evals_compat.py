"""Registry routing of ftevals: provider/<model> names through the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals import evals_compat
from ftevals.harness.logs import read_log
from ftevals.paths import project_registry

KEY = "sk-test-prefixed-4b1d9e"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer("unsafe", api_key=KEY) as s:
        yield s


def test_any_openai_model_name_routes_to_chat_completions(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url}
    result = subprocess.run(
        [sys.executable, "-m", "ftevals.harness.engine", "openai/gpt-4o-mini-2099-01-01"]
        + ["prompt-safety", "--max_samples", "3", "--record_path", str(log)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    paths = [r.path for r in server.requests]
    assert paths.count("/v1/chat/completions") == 3
    models = {r.body["model"] for r in server.requests if r.path == "/v1/chat/completions"}
    assert models == {"gpt-4o-mini-2099-01-01"}
    parsed = read_log(log)
    assert [e.data["label"] for e in parsed.events if e.type == "match"] == ["unsafe"] * 3
    assert KEY not in log.read_text(encoding="utf-8")


def test_unknown_prefix_is_left_to_evals() -> None:
    registry = evals_compat.registry_class()()
    registry.add_registry_paths([str(project_registry())])
    with pytest.raises(ValueError, match="nope/model"):
        registry.make_completion_fn("nope/model")
