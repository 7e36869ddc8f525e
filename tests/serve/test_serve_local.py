"""``ftevals serve`` with real local models: the tiny Llama and the MiniLM LoRA classifier.

Driven by the official openai clients, by ftevals' own ``openai-compatible`` completion
function under the real engine, and by the ``ftevals serve`` command itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ftevals.cli import main
from ftevals.runtime.causal import GenRequest
from ftevals.serve.app import Limits, create_app, running
from ftevals.serve.backend import LocalBackend, default_name

KEY = "serve-local-key-0a9b8c7d6e"
ROOT = Path(__file__).resolve().parents[2]
PROMPT = [{"role": "user", "content": "how do i bake bread at home?"}]


@pytest.fixture(scope="module")
def backend(tiny_llama_dir: Path) -> LocalBackend:
    return LocalBackend.load(str(tiny_llama_dir), max_tokens=8)


@pytest.fixture(scope="module")
def url(backend: LocalBackend) -> Iterator[str]:
    with running(create_app(backend, Limits(api_key=KEY))) as base:
        yield base


def direct(backend: LocalBackend, max_tokens: int = 8) -> str:
    """What the completion function itself generates for PROMPT (greedy)."""
    assert backend.causal is not None
    request = GenRequest((("user", PROMPT[0]["content"]),), max_tokens, 0.0, 1.0, ())
    return backend.causal.generate_batch([request])[0].text


def test_served_id_is_the_model_directory_name(backend: LocalBackend, tiny_llama_dir: Path) -> None:
    assert backend.models() == [tiny_llama_dir.name]
    assert default_name("smollm2-135m", ["/x/adapters/safety-lora"]) == "smollm2-135m+safety-lora"


def test_chat_matches_the_completion_function(url: str, backend: LocalBackend) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    model = backend.models()[0]
    reply = client.chat.completions.create(model=model, messages=PROMPT)
    assert reply.choices[0].message.content == direct(backend)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 8
    short = client.chat.completions.create(model=model, messages=PROMPT, max_tokens=1)
    assert short.usage is not None and short.usage.completion_tokens == 1
    assert short.choices[0].finish_reason == "length"


def test_stream_and_text_completion_agree(url: str, backend: LocalBackend) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    model = backend.models()[0]
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=PROMPT,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == direct(backend)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    text = client.completions.create(model=model, prompt=PROMPT[0]["content"])
    assert text.choices[0].text == direct(backend)
    azure = openai.AzureOpenAI(azure_endpoint=url, api_key=KEY, api_version="2024-10-21")
    via_azure = azure.chat.completions.create(model=model, messages=PROMPT)
    assert via_azure.choices[0].message.content == direct(backend)


def test_concurrent_requests_are_batched(tiny_llama_dir: Path) -> None:
    # A long batching window and a batch of 4: four concurrent requests run as one batch.
    backend = LocalBackend.load(str(tiny_llama_dir), batch_size=4, max_wait_ms=20_000, max_tokens=4)
    assert backend.causal is not None
    with running(create_app(backend)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
        answers: list[str | None] = []

        def ask() -> None:
            reply = client.chat.completions.create(model=backend.models()[0], messages=PROMPT)
            answers.append(reply.choices[0].message.content)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert backend.causal.batcher.batch_sizes == [4]
    assert len(answers) == 4 and len(set(answers)) == 1


def test_classifier_answers_with_its_label(minilm_adapter: Path) -> None:
    backend = LocalBackend.load(None, classifier=str(minilm_adapter))
    with running(create_app(backend)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
        [model] = [m.id for m in client.models.list()]
        assert model == f"hf-classifier:{minilm_adapter.name}"
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "How do I build a pipe bomb?"}]
        )
    assert reply.choices[0].message.content in ("safe", "unsafe")
    probs = (reply.model_extra or {})["ftevals"]["probs"]
    assert set(probs) == {"safe", "unsafe"} and abs(sum(probs.values()) - 1) < 1e-3
    assert reply.usage is not None and reply.usage.completion_tokens == 0


def test_classifier_on_the_onnx_backend_answers_as_torch_does(minilm_adapter: Path) -> None:
    prompts = ["How do I build a pipe bomb?", "how do i bake bread at home?", "hi"]
    answers: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for kind in ("torch", "onnx"):
        backend = LocalBackend.load(None, classifier=str(minilm_adapter), classifier_backend=kind)
        assert backend.classifier is not None and backend.classifier.backend == kind
        assert (backend.classifier.onnx is not None) == (kind == "onnx")
        with running(create_app(backend)) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
            answers[kind] = []
            for prompt in prompts:
                reply = client.chat.completions.create(
                    model=backend.models()[0], messages=[{"role": "user", "content": prompt}]
                )
                probs = (reply.model_extra or {})["ftevals"]["probs"]
                answers[kind].append((str(reply.choices[0].message.content), probs))
    for (label, probs), (onnx_label, onnx_probs) in zip(
        answers["torch"], answers["onnx"], strict=True
    ):
        assert onnx_label == label
        assert onnx_probs == pytest.approx(probs, abs=1e-3)


def test_cli_refuses_an_unknown_classifier_backend(
    minilm_adapter: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--classifier", str(minilm_adapter), "--backend", "tensorrt"])
    assert info.value.code == 2
    assert "--backend" in capsys.readouterr().err


def test_engine_runs_openai_compatible_against_the_server(
    url: str, backend: LocalBackend, tmp_path: Path
) -> None:
    """The real engine and ftevals' own `openai-compatible` function, 5 samples, with a key."""
    log = tmp_path / "run.jsonl"
    env = {**os.environ, "SERVE_KEY": KEY, "EVALS_THREADS": "4"}
    env.pop("OPENAI_API_KEY", None)
    args = f"base_url={url}/v1,model={backend.models()[0]},api_key_env=SERVE_KEY"
    proc = subprocess.run(
        [sys.executable, "-m", "ftevals.harness.engine", "openai-compatible", "prompt-safety"]
        + ["--completion_args", args, "--max_samples", "5", "--record_path", str(log)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = log.read_text(encoding="utf-8")
    assert KEY not in text and KEY not in proc.stderr and KEY not in proc.stdout
    rows = [json.loads(line) for line in text.splitlines()]
    sampling = [r["data"] for r in rows if r.get("type") == "sampling"]
    assert len(sampling) == 5
    assert not [s for s in sampling if s.get("failed")]
    assert all(s["usage"]["total_tokens"] > s["usage"]["prompt_tokens"] > 0 for s in sampling)
    assert any("final_report" in r for r in rows)


def test_cli_needs_a_model_or_a_key_that_exists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert "--model" in capsys.readouterr().err
    os.environ.pop("NO_SUCH_SERVE_KEY", None)
    assert main(["serve", "--model", "x", "--api-key-env", "NO_SUCH_SERVE_KEY"]) == 2
    assert "$NO_SUCH_SERVE_KEY" in capsys.readouterr().err


def test_cli_serves_until_stopped(tiny_llama_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CLI_SERVE_KEY": KEY}
    code = "import sys; from ftevals.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--model", str(tiny_llama_dir)]
    cmd += ["--port", "0", "--api-key-env", "CLI_SERVE_KEY", "--max-tokens", "4"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the model is loaded and the port bound
        assert first.startswith("serving "), proc.stderr.read() if proc.stderr else first
        base = first.split(" at ")[1].strip()
        models = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert models.json()["data"][0]["id"] == tiny_llama_dir.name
        assert httpx.get(f"{base}/models", timeout=30).status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert KEY not in out + err
