"""The review web app: a small JSON API over a :class:`Workspace` and one static page.

Only 127.0.0.1 is served. Requests must name the host ``127.0.0.1`` or ``localhost`` (no DNS
rebinding), and every change must carry the page's session token in ``X-Review-Token``
(another site's page cannot read it, so it cannot post edits).
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from ftevals.errors import FtevalsError
from ftevals.review.store import Edit, SaveConflict
from ftevals.review.workspace import Workspace

STATIC = Path(__file__).parent / "static"
HOSTS = ("127.0.0.1", "localhost")
TOKEN_HEADER = "X-Review-Token"


class EditIn(BaseModel):
    id: int
    rev: int
    messages: list[Any] | None = Field(None, description="The new messages; null deletes.")


class SaveIn(BaseModel):
    edits: list[EditIn] = Field(default_factory=list)
    adds: list[list[Any]] = Field(default_factory=list, description="Messages of new rows.")


def create_app(workspace: Workspace, token: str | None = None) -> FastAPI:
    """The app; ``token`` defaults to a fresh random one (put into the page)."""
    token = token or secrets.token_urlsafe(24)
    app = FastAPI(title="ftevals review", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in HOSTS:
            return JSONResponse({"error": f"host {host!r} not allowed"}, status_code=403)
        if request.method != "GET" and request.headers.get(TOKEN_HEADER) != token:
            return JSONResponse({"error": "missing or wrong session token"}, status_code=403)
        return await call_next(request)

    @app.exception_handler(FtevalsError)
    async def user_error(request: Request, exc: FtevalsError) -> JSONResponse:
        if isinstance(exc, SaveConflict):
            return JSONResponse({"error": str(exc), "conflicts": exc.conflicts}, status_code=409)
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return html.replace("{{TOKEN}}", token)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        types = {"review.js": "text/javascript", "review.css": "text/css"}
        if name not in types:
            return JSONResponse({"error": "not found"}, status_code=404)
        body = (STATIC / name).read_text(encoding="utf-8")
        return Response(body, media_type=types[name], headers={"Cache-Control": "no-store"})

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return workspace.info()

    @app.get("/api/docs/{key}/rows")
    def rows(
        key: str,
        search: str = "",
        label: str | None = None,
        problems: bool = False,
        log: str | None = None,
        outcome: str = "failures",
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        try:
            return workspace.rows(key, search, label, problems, log, outcome, offset, limit)
        except ValueError as exc:
            raise FtevalsError(str(exc)) from None

    @app.get("/api/docs/{key}/rows/{item_id}")
    def row(key: str, item_id: int, log: str | None = None) -> dict[str, Any]:
        return workspace.row(key, item_id, log)

    @app.post("/api/docs/{key}/save")
    def save(key: str, body: SaveIn) -> dict[str, Any]:
        edits = [Edit(e.id, e.rev, e.messages) for e in body.edits]
        result = workspace.doc(key).save(edits, body.adds)
        return {**result, "info": workspace.doc(key).info()}

    @app.post("/api/docs/{key}/reload")
    def reload(key: str) -> dict[str, Any]:
        doc = workspace.doc(key)
        doc.reload()
        return doc.info()

    return app


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: any free port). Connections made before
    the server starts wait in the backlog, so nobody needs to wait for start-up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise FtevalsError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve until interrupted."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


@contextmanager
def running(app: FastAPI, port: int = 0) -> Iterator[str]:
    """Serve ``app`` in a background thread for the ``with`` block; yields its URL."""
    import uvicorn

    sock = bind(port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
