"""A real HTTP server on 127.0.0.1 speaking OpenAI's (and Azure OpenAI's) wire format.

Provider tests drive the official clients against it; nothing is patched. It serves
``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models`` and Azure's
``POST /openai/deployments/{name}/chat/completions?api-version=...``, records every
request (method, path, query, headers, body), and plays scripted faults in order:
``Fault.status_code(429, retry_after="0")``, ``Fault.status_code(500)``, ``Fault.hang()`` (no answer
until the server stops, i.e. past any client timeout) and ``Fault.malformed()``.

For runs with many concurrent requests, ``fault_plan(request, attempt)`` decides instead,
deterministically: ``attempt`` counts the requests with the same body (1 for the first), so
a plan keyed on the prompt (e.g. its hash) gives every sample the same faults in any thread
order. ``echo_credentials`` makes 401 answers quote the key they were sent (as some servers
do), for tests that check keys are masked.

Also a script for benchmarks: ``python tests/fakes/openai_server.py --latency 0.1`` prints
``READY <base_url>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")


@dataclass
class Fault:
    """One scripted answer instead of the normal one."""

    kind: str  # status | hang | malformed
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @classmethod
    def status_code(
        cls, code: int, retry_after: str | None = None, retry_after_ms: str | None = None
    ) -> Fault:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        body = json.dumps({"error": {"message": f"scripted {code}", "type": "fake", "code": code}})
        return cls("status", code, headers, body)

    @classmethod
    def hang(cls) -> Fault:
        return cls("hang")

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed", 200, {}, '{"id": "x", "choices": [ {"mess')


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    client_port: int  # one port for many requests = a reused (pooled) connection


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # clients that open a connection per call (evals' own) burst


def body_key(body: Any) -> str:
    """Hash of a request body (JSON with sorted keys): what ``fault_plan`` attempts count by."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        return " ".join(str(m.get("content") or "") for m in body["messages"])
    return str(body.get("prompt") or "")


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as server:`` ... ``server.base_url`` (``.../v1``).

    Args:
        answer: the completion text, or a function of the request body giving it.
        latency_s: wait before each normal answer (benchmarks only).
        api_key: when set, requests without ``Bearer <key>`` (or Azure's ``api-key``) get 401;
            a tuple accepts any of its keys.
        models: what ``GET /v1/models`` lists.
        response_model: the ``model`` the answers name (default: the request's).
        record: keep every request in ``requests``.
        fault_plan: ``(request, attempt) -> Fault | None`` for each completion request that no
            scripted fault answers; ``attempt`` is 1 for the first request with that body.
        echo_credentials: 401 answers quote the credentials they were sent.
    """

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], str] | str = "safe",
        *,
        latency_s: float = 0.0,
        api_key: str | tuple[str, ...] | None = None,
        models: tuple[str, ...] = ("m",),
        response_model: str | None = None,
        record: bool = True,
        fault_plan: Callable[[Request, int], Fault | None] | None = None,
        echo_credentials: bool = False,
    ) -> None:
        self.answer = answer if callable(answer) else (lambda _body, text=answer: text)
        self.latency_s = latency_s
        self.api_key = api_key
        self.models = models
        self.response_model = response_model
        self.record = record
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.fault_plan = fault_plan
        self.echo_credentials = echo_credentials
        self.attempts: dict[str, int] = {}  # body hash -> completion requests seen
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def script(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, in order, then normally again."""
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ------------------------------------------------------------
    def _next_fault(self, request: Request) -> Fault | None:
        with self._lock:
            if self.faults:
                return self.faults.popleft()
            if self.fault_plan is None:
                return None
            key = body_key(request.body)
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
        return self.fault_plan(request, attempt)

    def _log(self, request: Request) -> None:
        if self.record:
            with self._lock:
                self.requests.append(request)

    def _authorised(self, headers: dict[str, str], azure: bool) -> bool:
        if self.api_key is None:
            return True
        keys = (self.api_key,) if isinstance(self.api_key, str) else self.api_key
        if headers.get("authorization") in {f"Bearer {key}" for key in keys}:
            return True
        return azure and headers.get("api-key") in keys

    def _completion(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        text = self.answer(body)
        prompt_tokens, completion_tokens = _tokens(_prompt_text(body)), _tokens(text)
        n = int(body.get("n") or 1)
        if chat:
            choices: list[dict[str, Any]] = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                for i in range(n)
            ]
        else:
            choices = [
                {"index": i, "text": text, "finish_reason": "stop", "logprobs": None}
                for i in range(n)
            ]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.response_model or str(body.get("model") or "fake"),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens * n,
                "total_tokens": prompt_tokens + completion_tokens * n,
            },
        }


def _handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
        disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (40 ms)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _request(self) -> tuple[Request, Any]:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            port = int(self.client_address[1])
            request = Request(self.command, parts.path, query, headers, body, port)
            server._log(request)
            return request, body

        def do_GET(self) -> None:
            request, _ = self._request()
            if request.path.rstrip("/") != "/v1/models":
                self._send(404, {"error": {"message": "not found"}})
                return
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in server.models]
            self._send(200, {"object": "list", "data": data})

        def do_POST(self) -> None:
            request, body = self._request()
            azure = AZURE_PATH.match(request.path)
            if not (azure or request.path in ("/v1/chat/completions", "/v1/completions")):
                self._send(404, {"error": {"message": f"no route {request.path}"}})
                return
            if not server._authorised(request.headers, bool(azure)):
                message = "invalid credentials"
                if server.echo_credentials:
                    sent = request.headers.get("authorization") or request.headers.get("api-key")
                    message = f"Incorrect API key provided: {sent}"
                self._send(401, {"error": {"message": message, "code": 401}})
                return
            if azure and "api-version" not in request.query:
                self._send(404, {"error": {"code": "404", "message": "Resource not found"}})
                return
            if not isinstance(body, dict):
                self._send(400, {"error": {"message": "body is not a JSON object"}})
                return
            fault = server._next_fault(request)
            if fault is not None:
                if fault.kind == "hang":
                    server._release.wait(timeout=60)
                    self.close_connection = True
                    return
                self._send(fault.status, fault.body.encode(), fault.headers)
                return
            if server.latency_s:
                time.sleep(server.latency_s)  # simulated model latency (benchmarks)
            if azure and not body.get("model"):
                body["model"] = azure.group(1)
            chat = azure is not None or request.path.endswith("/chat/completions")
            self._send(200, server._completion(body, chat))

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server (loopback).")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--answer", default="safe", help="the text every completion returns")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(args.answer, latency_s=args.latency, record=False).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
