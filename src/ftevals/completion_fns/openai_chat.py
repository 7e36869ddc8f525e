"""OpenAI chat completions for any model name (``openai/<model>``), and the shared core.

evals' own routing sends gpt-4o, gpt-4.1 and the o-series to the legacy completions
endpoint (or nowhere); here every model goes to ``/v1/chat/completions``. Reasoning models
(o1, o3, o4, gpt-5 families) get ``max_completion_tokens`` instead of ``max_tokens`` and no
temperature/top_p/penalties. :class:`ChatAPICompletionFn` is the core that the Azure,
OpenAI-compatible, OctoAI and OpenPipe functions share: one pooled client per instance
(thread-safe, SDK retries off), the one retry policy, and a ``sampling`` event per call with
usage, latency and cost.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from ftevals.completion_fns._credentials import Secret, redact, require, setting
from ftevals.completion_fns._retry import (
    CompletionFailed,
    RetryPolicy,
    check_on_failure,
    fail,
    float_arg,
    int_arg,
    policy_from_args,
)
from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call, to_messages
from ftevals.errors import FtevalsError
from ftevals.pricing import cost_usd

# evals passes these to completion functions (see openai-evals-notes); others are ignored.
FORWARDED = (
    "temperature",
    "max_tokens",
    "top_p",
    "n",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
)
REASONING_DROPS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_REASONING = re.compile(r"^(o\d+|gpt-5)([-.].*)?$")
DEFAULT_TIMEOUT_S = 60.0
HTTP_LOGGERS = ("httpx", "httpx2")
logger = logging.getLogger(__name__)


def is_reasoning_model(model: str) -> bool:
    """o1, o3-mini, o4-mini, gpt-5... (also as ``ft:o4-mini:...``)."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    return bool(_REASONING.match(name.rsplit("/", 1)[-1]))


def quiet_http_logs() -> None:
    """Drop the HTTP client's per-request INFO line ("HTTP Request: POST ... 200 OK").

    evals logs at INFO, so a 900-sample run printed 900 such lines, and formatting and
    writing them under the logging lock cost about a tenth of a remote run's throughput
    (bench/remote_throughput.py). Loggers the user configured (level set) are left alone;
    failures and retries are still logged by the retry policy.
    """
    for name in HTTP_LOGGERS:
        http_logger = logging.getLogger(name)
        if http_logger.level == logging.NOTSET:
            http_logger.setLevel(logging.WARNING)


def as_bool(value: bool | str | None, name: str) -> bool | None:
    """A boolean completion arg (``true``/``false``/``1``/``0``/``yes``/``no``)."""
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise FtevalsError(f"{name} must be true or false, got {value!r}")


class ChatAPICompletionFn:
    """Chat completions over the OpenAI wire protocol (subclasses make the client).

    Args (all also as ``--completion_args k=v``):
        model: model (or Azure deployment) name sent in each request.
        max_tokens / temperature: override what the eval passes.
        reasoning: force reasoning-model parameters on or off (default: by model name).
        price_model: model name to price calls with (default: the response's, then ``model``).
        timeout: seconds per HTTP request (default 60).
        max_attempts / max_total_s / base_delay: the retry policy (see ``_retry``).
        on_failure: ``record`` (default: failed sample, the run goes on) or ``raise``.
        retry_policy: a ready :class:`RetryPolicy` (from Python; tests inject a fake sleep).
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: Secret | None,
        max_tokens: int | str | None = None,
        temperature: float | str | None = None,
        reasoning: bool | str | None = None,
        price_model: str | None = None,
        timeout: float | str | None = None,
        max_attempts: int | str | None = None,
        max_total_s: float | str | None = None,
        base_delay: float | str | None = None,
        on_failure: str = "record",
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.secret = api_key
        self.timeout = DEFAULT_TIMEOUT_S if timeout is None else float_arg(timeout, "timeout")
        self.overrides: dict[str, Any] = {}
        if max_tokens is not None:
            self.overrides["max_tokens"] = int_arg(max_tokens, "max_tokens")
        if temperature is not None:
            self.overrides["temperature"] = float_arg(temperature, "temperature")
        flag = as_bool(reasoning, "reasoning")
        self.reasoning = is_reasoning_model(model) if flag is None else flag
        self.price_model = price_model
        self.on_failure = check_on_failure(on_failure)
        self.retry = retry_policy or policy_from_args(max_attempts, max_total_s, base_delay)
        quiet_http_logs()
        self.client = self.make_client()

    def make_client(self) -> Any:
        raise NotImplementedError

    def extra_params(self) -> dict[str, Any]:
        """Provider-specific request fields (OpenPipe's metadata, ...)."""
        return {}

    def redact(self, text: str) -> str:
        return redact(text, self.secret)

    def request_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = {k: kwargs[k] for k in FORWARDED if kwargs.get(k) is not None}
        params.update(self.overrides)
        if self.reasoning:
            for key in REASONING_DROPS:
                params.pop(key, None)
            if "max_tokens" in params:
                params["max_completion_tokens"] = params.pop("max_tokens")
        params.update(self.extra_params())
        return params

    def _create(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        # The client's documented raw request (``client.post``, JSON back as a dict): the
        # same auth, URL (Azure deployments too), timeouts and status errors as
        # ``chat.completions.create``, without its per-call parameter transform and model
        # building, which cost more CPU than the rest of a call (see bench/remote_throughput).
        body = {"model": self.model, "messages": messages, **params}
        data = self.client.post("/chat/completions", body=body, cast_to=object)
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise CompletionFailed("malformed response: no choices")
        try:
            texts = [str(c["message"].get("content") or "") for c in choices]
        except (KeyError, TypeError, AttributeError):
            raise CompletionFailed("malformed response: a choice has no message") from None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        counts = None
        if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
            counts = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        first = choices[0] if isinstance(choices[0], dict) else {}
        return {
            "texts": texts,
            "usage": counts,
            "model": str(data.get("model") or self.model),
            "finish_reason": first.get("finish_reason"),
        }

    def cost(self, response_model: str, usage: dict[str, int] | None) -> float | None:
        if usage is None:
            return None
        p, c = usage["prompt_tokens"], usage["completion_tokens"]
        if self.price_model:
            return cost_usd(self.price_model, p, c)
        found = cost_usd(response_model, p, c)
        return found if found is not None else cost_usd(self.model, p, c)

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        messages = to_messages(prompt)
        params = self.request_params(kwargs)
        attempts = 0

        def once() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            return self._create(messages, params)

        started = time.perf_counter()
        try:
            out = self.retry.call(once, redact=self.redact)
        except CompletionFailed as err:
            latency = time.perf_counter() - started
            return fail(
                prompt,
                err,
                model=self.model,
                latency_s=latency,
                on_failure=self.on_failure,
                provider=self.provider,
            )
        latency = time.perf_counter() - started
        record_call(
            prompt,
            out["texts"],
            model=out["model"],
            latency_s=latency,
            usage=out["usage"],
            cost_usd=self.cost(out["model"], out["usage"]),
            attempts=attempts,
            finish_reason=out["finish_reason"],
            provider=self.provider,
        )
        return TextCompletionResult(out["texts"], raw=out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, provider={self.provider!r})"


class OpenAIChatCompletionFn(ChatAPICompletionFn):
    """``openai/<model>``: OpenAI's chat completions for any model name.

    The key comes from ``OPENAI_API_KEY`` (environment or ``./.env``); ftevals' placeholder
    key is refused. ``base_url`` (or ``OPENAI_BASE_URL``) points it at a proxy.
    """

    provider = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        if not model:
            raise FtevalsError("`openai` needs a model: --completion_args model=gpt-4o-mini")
        self.base_url = base_url or setting("OPENAI_BASE_URL")
        key = require("OPENAI_API_KEY", f"openai/{model}")
        super().__init__(model, api_key=key, **_own(kwargs, f"openai/{model}"))

    def make_client(self) -> Any:
        import openai

        assert self.secret is not None
        return openai.OpenAI(
            api_key=self.secret.reveal(),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
        )


_OWN = (
    "max_tokens temperature reasoning price_model timeout max_attempts max_total_s base_delay "
    "on_failure retry_policy"
).split()


def _own(kwargs: dict[str, Any], name: str = "") -> dict[str, Any]:
    """The core's keyword args. Others are ignored with a warning (``--completion_args`` go
    to every function of a comma-separated list, so one may carry args for another)."""
    ignored = sorted(k for k in kwargs if k not in _OWN)
    if ignored:
        logger.warning("%s: ignoring completion args it does not use: %s", name, ", ".join(ignored))
    return {k: v for k, v in kwargs.items() if k in _OWN}
