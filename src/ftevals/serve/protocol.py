"""OpenAI's wire format: request bodies in, responses, stream chunks and errors out."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftevals.serve.backend import Generation, Sampling


class BadRequest(Exception):
    """A request the server refuses with 400 (message for the client, OpenAI ``param``)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class _Common(BaseModel):
    """Fields shared by chat and text completions (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="served model id (see GET /v1/models)")
    max_tokens: int | None = Field(None, ge=1, description="generation budget")
    temperature: float | None = Field(None, ge=0, le=2, description="0 or absent: greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = Field(None, description="stop sequences")
    n: int = Field(1, description="number of choices; only 1 is supported")
    stream: bool = False
    stream_options: dict[str, Any] | None = None

    def sampling(self, max_completion_tokens: int | None = None) -> Sampling:
        if self.n != 1:
            raise BadRequest("only n=1 is supported", "n")
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return Sampling(
            max_tokens=max_completion_tokens or self.max_tokens,
            temperature=self.temperature or 0.0,
            top_p=self.top_p or 1.0,
            stop=tuple(s for s in stop if s),
        )

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class ChatRequest(_Common):
    messages: list[dict[str, Any]] = Field(min_length=1, description="the chat so far")
    max_completion_tokens: int | None = Field(None, ge=1, description="wins over max_tokens")

    def turns(self) -> list[tuple[str, str]]:
        """(role, text) pairs; content parts of type ``text`` are joined."""
        out = []
        for i, message in enumerate(self.messages):
            role, content = message.get("role"), message.get("content")
            if not isinstance(role, str):
                raise BadRequest(f"messages[{i}].role must be a string", f"messages.{i}.role")
            if isinstance(content, list):
                parts = [p.get("text", "") for p in content if isinstance(p, dict)]
                content = "".join(str(p) for p in parts)
            if content is not None and not isinstance(content, str):
                raise BadRequest(
                    f"messages[{i}].content must be a string or a list of text parts",
                    f"messages.{i}.content",
                )
            out.append((role, content or ""))
        return out


class TextRequest(_Common):
    prompt: str | list[str] = Field(description="one prompt (answered as one user turn)")

    def turns(self) -> list[tuple[str, str]]:
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        if len(prompts) != 1:
            raise BadRequest("only one prompt per request is supported", "prompt")
        return [("user", prompts[0])]


def parse(kind: type[ChatRequest] | type[TextRequest], body: bytes) -> Any:
    """The validated request, or :class:`BadRequest` naming the first bad field."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"{where}: {first['msg']}", where or None) from None


def error_body(message: str, kind: str, code: str | None, param: str | None = None) -> Any:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def usage(gen: Generation) -> dict[str, int]:
    return {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "total_tokens": gen.prompt_tokens + gen.completion_tokens,
    }


def _ids(prefix: str) -> tuple[str, int]:
    return f"{prefix}-{uuid.uuid4().hex[:24]}", int(time.time())


def chat_response(model: str, gen: Generation) -> dict[str, Any]:
    rid, created = _ids("chatcmpl")
    body: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": gen.text},
                "logprobs": None,
                "finish_reason": gen.finish_reason,
            }
        ],
        "usage": usage(gen),
    }
    if gen.extra:
        body["ftevals"] = gen.extra
    return body


def text_response(model: str, gen: Generation) -> dict[str, Any]:
    rid, created = _ids("cmpl")
    body: dict[str, Any] = {
        "id": rid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "text": gen.text, "logprobs": None, "finish_reason": gen.finish_reason}
        ],
        "usage": usage(gen),
    }
    if gen.extra:
        body["ftevals"] = gen.extra
    return body


def _sse(data: Any) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def chat_chunks(model: str, gen: Generation, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed chat answer, ending with ``data: [DONE]``.

    The answer is generated whole (in a batch) and then sent as a role chunk, a content
    chunk and a finish chunk, plus a usage chunk when ``stream_options.include_usage``.
    """
    rid, created = _ids("chatcmpl")
    head = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "choices": [choice]}

    events = [
        chunk({"role": "assistant", "content": ""}, None),
        chunk({"content": gen.text}, None),
        chunk({}, gen.finish_reason),
    ]
    if include_usage:
        events.append({**head, "choices": [], "usage": usage(gen)})
    return [_sse(e) for e in events] + [b"data: [DONE]\n\n"]


def text_chunks(model: str, gen: Generation, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed text completion, ending with ``data: [DONE]``."""
    rid, created = _ids("cmpl")
    head = {"id": rid, "object": "text_completion", "created": created, "model": model}
    events = [
        {**head, "choices": [{"index": 0, "text": gen.text, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "text": "", "finish_reason": gen.finish_reason}]},
    ]
    if include_usage:
        events.append({**head, "choices": [], "usage": usage(gen)})
    return [_sse(e) for e in events] + [b"data: [DONE]\n\n"]
