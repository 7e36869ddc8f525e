"""The one retry policy of remote completion functions, and what a failed call becomes.

``RetryPolicy.call(fn)`` retries on rate limits (429), server errors (5xx, 408), connection
errors and timeouts, with exponential backoff and jitter, honouring ``Retry-After`` /
``retry-after-ms``, capped by attempts and by total time. Any other error (400, 401, 404,
a malformed response, ...) fails at once. A call that still fails raises
:class:`CompletionFailed` with the reason.

A completion function then does not return an answer. By default it records a
``sampling`` event with ``failed: true`` and ``error`` and returns a
:class:`FailedCompletionResult` (empty completion, ``failed`` set), so evals' run goes
on: evals' ``eval_all_samples`` aborts the whole run on any exception. Our ``LabelMatch``
records such a sample as failed (``failed: true``, ``label: null``) and leaves it out of
accuracy. With ``on_failure: raise`` the function raises :class:`CompletionFailed` instead.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call
from ftevals.errors import FtevalsError

T = TypeVar("T")
RETRY_STATUS = frozenset({408, 409, 429})
ON_FAILURE = ("record", "raise")


class CompletionFailed(FtevalsError):
    """A call that failed for good: ``reason`` says why, ``attempts`` how often it was tried."""

    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@dataclass(frozen=True)
class Verdict:
    """How one error is handled: retried or not, why, and the server's Retry-After."""

    retry: bool
    reason: str
    retry_after: float | None = None


def _headers(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) or {}


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException) -> Verdict:
    """Whether an error from an API call is worth retrying (duck-typed across clients)."""
    if isinstance(exc, CompletionFailed):
        return Verdict(False, exc.reason)
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    name = type(exc).__name__
    if isinstance(status, int):
        reason = f"HTTP {status} ({name}): {_short(exc)}"
        if status in RETRY_STATUS or status >= 500:
            return Verdict(True, reason, retry_after(_headers(exc)))
        return Verdict(False, reason)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, TimeoutError) or names & {"APITimeoutError", "TimeoutException"}:
        return Verdict(True, f"timeout ({name})")
    if isinstance(exc, ConnectionError) or names & {"APIConnectionError", "TransportError"}:
        return Verdict(True, f"connection error ({name})")
    if "APIResponseValidationError" in names or "JSONDecodeError" in names:
        return Verdict(False, f"malformed response ({name})")
    return Verdict(False, f"{name}: {_short(exc)}")


@dataclass
class RetryPolicy:
    """Capped exponential backoff with jitter. ``sleep``/``clock``/``rng`` are injectable."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_s: float = 120.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise FtevalsError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise FtevalsError(f"jitter must be between 0 and 1, got {self.jitter}")

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number ``attempt`` (1-based), before jitter is taken off."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return delay * (1 - self.jitter * self.rng.random())

    def call(self, fn: Callable[[], T], redact: Callable[[str], str] = str) -> T:
        """``fn()``, retried as the policy says; :class:`CompletionFailed` when it gives up."""
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # classified; re-raised below as a reason
                verdict = classify(exc)
                reason = redact(verdict.reason)
                if not verdict.retry:
                    raise CompletionFailed(reason, attempt) from None
                if attempt >= self.max_attempts:
                    raise CompletionFailed(
                        f"{reason}; gave up after {attempt} attempts", attempt
                    ) from None
                delay = self.backoff(attempt)
                if verdict.retry_after is not None:
                    delay = verdict.retry_after
                elapsed = self.clock() - started
                if elapsed + delay > self.max_total_s:
                    raise CompletionFailed(
                        f"{reason}; gave up after {attempt} attempts: waiting {delay:.1f}s more "
                        f"would pass the {self.max_total_s:g}s limit",
                        attempt,
                    ) from None
                self.sleep(delay)


def int_arg(value: int | str, name: str) -> int:
    """An integer completion arg (a string on the command line); errors name the arg."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FtevalsError(f"{name} must be an integer, got {value!r}") from None


def float_arg(value: float | str, name: str) -> float:
    """A number completion arg (a string on the command line); errors name the arg."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FtevalsError(f"{name} must be a number, got {value!r}") from None


def policy_from_args(
    max_attempts: int | str | None = None,
    max_total_s: float | str | None = None,
    base_delay: float | str | None = None,
) -> RetryPolicy:
    """A policy from completion args (strings on the command line); unset fields keep defaults."""
    policy = RetryPolicy()
    if max_attempts is not None:
        policy.max_attempts = int_arg(max_attempts, "max_attempts")
    if max_total_s is not None:
        policy.max_total_s = float_arg(max_total_s, "max_total_s")
    if base_delay is not None:
        policy.base_delay = float_arg(base_delay, "base_delay")
    policy.__post_init__()
    return policy


class FailedCompletionResult(TextCompletionResult):
    """The result of a call that failed for good: no answer (one empty completion)."""

    failed = True

    def __init__(self, reason: str) -> None:
        super().__init__([""], raw={"failed": True, "error": reason})
        self.error = reason


def failure_of(result: Any) -> str | None:
    """The failure reason of a completion result, or ``None`` for a real answer."""
    if getattr(result, "failed", False) is True:
        return str(getattr(result, "error", None) or "completion failed")
    return None


def check_on_failure(value: str) -> str:
    if value not in ON_FAILURE:
        raise FtevalsError(f"on_failure must be one of {', '.join(ON_FAILURE)}, got {value!r}")
    return value


def fail(
    prompt: Prompt,
    error: CompletionFailed,
    *,
    model: str,
    latency_s: float,
    on_failure: str,
    **extra: Any,
) -> FailedCompletionResult:
    """Record a failed call (sampling event with ``failed: true``), then return or raise."""
    record_call(
        prompt,
        [],
        model=model,
        latency_s=latency_s,
        failed=True,
        error=error.reason,
        attempts=error.attempts,
        cost_usd=None,
        **extra,
    )
    if on_failure == "raise":
        raise error
    return FailedCompletionResult(error.reason)
