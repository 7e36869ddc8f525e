"""The OpenAI-compatible HTTP app: routes, auth, request-size and queue limits.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (``stream: true`` as SSE),
``POST /v1/completions``, Azure's ``POST /openai/deployments/{name}/chat/completions``
(and ``.../completions``) with any ``api-version``, and ``GET /health``.

Limits: bodies over ``max_body_bytes`` get 413 (read in pieces, never whole first); at
most ``max_queue`` generation requests are in flight (queued in the batcher or running),
more get 503 with ``Retry-After``; with an ``api_key``, every route but ``/health`` needs
``Authorization: Bearer KEY`` or Azure's ``api-key: KEY`` (401 otherwise). Errors use
OpenAI's ``{"error": {"message", "type", "param", "code"}}`` body.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ftevals.errors import FtevalsError
from ftevals.serve import protocol
from ftevals.serve.backend import Backend, Generation
from ftevals.serve.protocol import BadRequest, ChatRequest, TextRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Server limits and auth."""

    api_key: str | None = None  # None: no auth
    max_queue: int = 64  # generation requests in flight before 503
    max_body_bytes: int = 1_000_000  # larger bodies get 413
    retry_after_s: int = 1  # Retry-After sent with 503


class _Refused(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None, **kw: Any) -> None:
        super().__init__(message)
        self.response = JSONResponse(
            protocol.error_body(message, kind, code, kw.get("param")),
            status_code=status,
            headers=kw.get("headers"),
        )


def _authorised(request: Request, key: str) -> bool:
    expected = key.encode()
    bearer = request.headers.get("authorization", "")
    if bearer[:7].lower() == "bearer " and hmac.compare_digest(bearer[7:].encode(), expected):
        return True
    azure = request.headers.get("api-key")
    return azure is not None and hmac.compare_digest(azure.encode(), expected)


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = _Refused(
        413, f"request body larger than {limit} bytes", "invalid_request_error", "too_large"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
    return b"".join(parts)


def create_app(backend: Backend, limits: Limits | None = None) -> FastAPI:
    """A FastAPI app serving ``backend``'s models."""
    import anyio

    limits = limits or Limits()
    if limits.max_queue < 1 or limits.max_body_bytes < 1:
        raise FtevalsError("max_queue and max_body_bytes must be at least 1")
    app = FastAPI(title="ftevals serve", docs_url=None, redoc_url=None, openapi_url=None)
    state = {"in_flight": 0}  # touched only on the event loop thread
    threads = anyio.CapacityLimiter(limits.max_queue)

    def check_auth(request: Request) -> None:
        if limits.api_key is not None and not _authorised(request, limits.api_key):
            raise _Refused(
                401, "missing or wrong API key", "invalid_request_error", "invalid_api_key"
            )

    def check_model(model: str) -> None:
        if model not in backend.models():
            raise _Refused(
                404,
                f"The model `{model}` does not exist; served: {', '.join(backend.models())}",
                "invalid_request_error",
                "model_not_found",
                param="model",
            )

    async def run(model: str, turns: list[tuple[str, str]], req: Any, budget: Any) -> Generation:
        if state["in_flight"] >= limits.max_queue:
            raise _Refused(
                503,
                f"server busy: {limits.max_queue} requests in flight; retry later",
                "server_error",
                "overloaded",
                headers={"Retry-After": str(limits.retry_after_s)},
            )
        sampling = req.sampling(budget)
        state["in_flight"] += 1
        try:
            return await anyio.to_thread.run_sync(
                backend.generate, model, turns, sampling, limiter=threads
            )
        except Exception as exc:
            log.exception("generation failed")
            raise _Refused(
                500, f"generation failed: {type(exc).__name__}", "server_error", None
            ) from None
        finally:
            state["in_flight"] -= 1

    async def answer(request: Request, chat: bool, deployment: str | None = None) -> Response:
        try:
            check_auth(request)
            body = await _read_body(request, limits.max_body_bytes)
            req = protocol.parse(ChatRequest if chat else TextRequest, body)
            model = deployment or req.model
            check_model(model)
            turns = req.turns()
            budget = req.max_completion_tokens if chat else None
            gen = await run(model, turns, req, budget)
        except _Refused as refused:
            return refused.response
        except BadRequest as bad:
            err = protocol.error_body(bad.message, "invalid_request_error", None, bad.param)
            return JSONResponse(err, status_code=400)
        if req.stream:
            chunks = (protocol.chat_chunks if chat else protocol.text_chunks)(
                model, gen, req.include_usage
            )
            return StreamingResponse(
                iter(chunks), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )
        return JSONResponse(
            (protocol.chat_response if chat else protocol.text_response)(model, gen)
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "in_flight": state["in_flight"]}

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            check_auth(request)
        except _Refused as refused:
            return refused.response
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "ftevals"}
            for m in backend.models()
        ]
        return JSONResponse({"object": "list", "data": data})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await answer(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await answer(request, chat=False)

    @app.post("/openai/deployments/{name}/chat/completions")
    async def azure_chat(name: str, request: Request) -> Response:
        return await answer(request, chat=True, deployment=name)

    @app.post("/openai/deployments/{name}/completions")
    async def azure_completions(name: str, request: Request) -> Response:
        return await answer(request, chat=False, deployment=name)

    return app


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (``port`` 0: any free port). Connections made before the server
    starts wait in the backlog, so clients need no readiness wait."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FtevalsError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _server(app: FastAPI, log_level: str) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_keep_alive=30)
    return uvicorn.Server(config)


def serve(app: FastAPI, sock: socket.socket, log_level: str = "info") -> None:
    """Serve until interrupted."""
    _server(app, log_level).run(sockets=[sock])


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` in a background thread for the ``with`` block; yields the base URL."""
    sock = bind(host, port)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
