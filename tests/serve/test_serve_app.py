"""The server's wire format and limits, through the official openai clients and raw HTTP.

The backend here is a small real object (no model): it answers with the last user turn
upper-cased, and can hold its answers on a threading.Event to fill the queue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest

from ftevals.serve.app import Limits, create_app, running
from ftevals.serve.backend import Generation, Sampling

KEY = "serve-test-key-5f4e3d2c1b"
MODEL = "echo"


class EchoBackend:
    """Answers the last user turn upper-cased; ``gate`` (when set up) holds every answer."""

    def __init__(self, gated: bool = False) -> None:
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.entered = threading.Semaphore(0)
        self.seen: list[tuple[list[tuple[str, str]], Sampling]] = []

    def models(self) -> list[str]:
        return [MODEL]

    def generate(
        self, model: str, messages: list[tuple[str, str]], sampling: Sampling
    ) -> Generation:
        self.seen.append((messages, sampling))
        self.entered.release()
        assert self.gate.wait(timeout=30), "test never opened the gate"
        text = next(c for r, c in reversed(messages) if r == "user").upper()
        budget = sampling.max_tokens or 100
        words = text.split()[:budget]
        prompt_tokens = sum(len(c.split()) for _, c in messages)
        return Generation(" ".join(words), prompt_tokens, len(words), "stop")


@pytest.fixture
def backend() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
def url(backend: EchoBackend) -> Iterator[str]:
    with running(create_app(backend, Limits(api_key=KEY, max_body_bytes=4000))) as base:
        yield base


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def test_models_list(url: str) -> None:
    assert [m.id for m in client(url).models.list()] == [MODEL]


def test_chat_completion_with_usage(url: str, backend: EchoBackend) -> None:
    reply = client(url).chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "be loud"},
            {"role": "user", "content": [{"type": "text", "text": "hello there world"}]},
        ],
        max_tokens=2,
        stop=["END"],
        temperature=0,
    )
    assert reply.choices[0].message.content == "HELLO THERE"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == MODEL
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5, 2)
    assert reply.usage.total_tokens == 7
    messages, sampling = backend.seen[0]
    assert messages == [("system", "be loud"), ("user", "hello there world")]
    assert sampling == Sampling(max_tokens=2, temperature=0.0, top_p=1.0, stop=("END",))


def test_max_completion_tokens_wins(url: str, backend: EchoBackend) -> None:
    client(url).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a b c"}], max_completion_tokens=1
    )
    assert backend.seen[0][1].max_tokens == 1


def test_text_completion(url: str) -> None:
    reply = client(url).completions.create(model=MODEL, prompt="say this", max_tokens=5)
    assert reply.object == "text_completion"
    assert reply.choices[0].text == "SAY THIS"
    assert reply.usage is not None and reply.usage.total_tokens == 4


def test_streamed_chat_through_the_client(url: str) -> None:
    stream = client(url).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "ONE TWO THREE"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert all(c.usage is None for c in chunks[:-1])


def test_streamed_text_completion_through_the_client(url: str) -> None:
    stream = client(url).completions.create(model=MODEL, prompt="x y", stream=True)
    assert "".join(c.choices[0].text for c in stream) == "X Y"


def test_sse_wire_format(url: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert {p["object"] for p in payloads} == {"chat.completion.chunk"}
    assert len({p["id"] for p in payloads}) == 1
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("usage" not in p for p in payloads)  # no include_usage: no usage chunk


def test_azure_client(url: str) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=url, api_key=KEY, api_version="2024-10-21", max_retries=0
    )
    reply = azure.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "via azure"}]
    )
    assert reply.choices[0].message.content == "VIA AZURE"
    assert reply.usage is not None and reply.usage.total_tokens == 4


def test_azure_unknown_deployment_is_404(url: str) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=url, api_key=KEY, api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_unknown_model_is_404_in_openai_format(url: str) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client(url).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.code == "model_not_found"
    assert "gpt-4o" in err.value.message and MODEL in err.value.message


@pytest.mark.parametrize("key", ["wrong-key", KEY + "x", KEY[:-1]])
def test_wrong_or_missing_key_is_401(url: str, key: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(url, key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.AuthenticationError):
        client(url, key).models.list()


def test_no_auth_header_is_401_and_health_is_open(url: str) -> None:
    resp = httpx.get(f"{url}/v1/models")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    azure_key = httpx.get(f"{url}/v1/models", headers={"api-key": KEY})
    assert azure_key.status_code == 200


def test_key_never_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client(url).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        client(url, "bad-" + KEY).models.list()
    assert KEY not in caplog.text


def test_body_over_the_limit_is_413(url: str, backend: EchoBackend) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}
    resp = httpx.post(f"{url}/v1/chat/completions", json=big, headers=headers)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        data = json.dumps(big).encode()
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    resp = httpx.post(f"{url}/v1/chat/completions", content=chunked(), headers=headers)
    assert resp.status_code == 413
    assert backend.seen == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (json.dumps({"model": MODEL, "messages": []}).encode(), "messages"),
        (json.dumps({"model": MODEL, "messages": [{"content": "x"}]}).encode(), "messages.0.role"),
        (
            json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "n": 2}),
            "n",
        ),
    ],
)
def test_bad_requests_are_400(url: str, body: bytes | str, param: str | None) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    resp = httpx.post(f"{url}/v1/chat/completions", content=body, headers=headers)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_full_queue_is_503_with_retry_after() -> None:
    backend = EchoBackend(gated=True)
    app = create_app(backend, Limits(max_queue=2, retry_after_s=3))
    with running(app) as url:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "held"}]}
        results: list[int] = []

        def post() -> None:
            results.append(
                httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code
            )

        held = [threading.Thread(target=post) for _ in range(2)]
        for t in held:
            t.start()
        for _ in held:  # both requests are inside the backend: the queue is full
            assert backend.entered.acquire(timeout=30)
        resp = httpx.post(f"{url}/v1/chat/completions", json=body)
        assert resp.status_code == 503
        assert resp.headers["retry-after"] == "3"
        assert resp.json()["error"]["code"] == "overloaded"
        with pytest.raises(openai.InternalServerError):
            client(url).chat.completions.create(**body)
        backend.gate.set()
        for t in held:
            t.join(timeout=30)
        assert results == [200, 200]
        assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 200
        assert len(backend.seen) == 3  # refused requests never reached the backend


def test_backend_failure_is_500_without_details() -> None:
    class Broken(EchoBackend):
        def generate(
            self, model: str, messages: list[tuple[str, str]], sampling: Sampling
        ) -> Generation:
            raise RuntimeError("secret internals")

    with running(create_app(Broken())) as url:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
        resp = httpx.post(f"{url}/v1/chat/completions", json=body)
    assert resp.status_code == 500
    assert "secret internals" not in resp.text
    assert resp.json()["error"]["message"] == "generation failed: RuntimeError"
