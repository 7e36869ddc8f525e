"""RetryPolicy: what is retried, how long it waits (a fake clock, no sleeps), when it stops."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from ftevals.completion_fns._retry import (
    CompletionFailed,
    FailedCompletionResult,
    RetryPolicy,
    classify,
    failure_of,
    retry_after,
)
from ftevals.completion_fns.base import TextCompletionResult
from ftevals.errors import FtevalsError


class FakeClock:
    """``sleep`` advances ``now``; nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class _Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class HTTPFailure(Exception):
    """Shaped like the openai/httpx status errors: ``status_code`` and ``response.headers``."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"server said {status}")
        self.status_code = status
        self.response = _Response(status, headers or {})


def policy(clock: FakeClock, **kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("jitter", 0.0)
    return RetryPolicy(sleep=clock.sleep, clock=clock, **kwargs)


def failing(errors: list[BaseException], value: str = "ok") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return value

    return fn, calls


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (HTTPFailure(429), True),
        (HTTPFailure(500), True),
        (HTTPFailure(503), True),
        (HTTPFailure(408), True),
        (HTTPFailure(400), False),
        (HTTPFailure(401), False),
        (HTTPFailure(404), False),
        (TimeoutError("read timed out"), True),
        (ConnectionResetError("reset"), True),
        (ValueError("bad"), False),
    ],
)
def test_what_is_retried(error: BaseException, retry: bool) -> None:
    assert classify(error).retry is retry


def test_server_errors_back_off_exponentially_then_succeed() -> None:
    clock = FakeClock()
    fn, calls = failing([HTTPFailure(500), HTTPFailure(502), HTTPFailure(503)])
    assert policy(clock, base_delay=0.5).call(fn) == "ok"
    assert len(calls) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_backoff_is_capped_and_jittered_downwards() -> None:
    clock = FakeClock()
    p = policy(clock, base_delay=1.0, max_delay=4.0, jitter=0.5)
    p.rng = random.Random(7)
    delays = [p.backoff(attempt) for attempt in range(1, 8)]
    caps = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) == len(delays)  # jitter spreads them


def test_retry_after_seconds_is_honoured() -> None:
    clock = FakeClock()
    fn, calls = failing([HTTPFailure(429, {"retry-after": "7"})])
    assert policy(clock).call(fn) == "ok"
    assert clock.sleeps == [7.0]
    assert len(calls) == 2


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = retry_after({"retry-after": when})
    assert waited is not None and 20 < waited <= 31
    assert retry_after({"retry-after": "not a date"}) is None
    assert retry_after({}) is None


def test_other_errors_fail_at_once_with_reason() -> None:
    clock = FakeClock()
    fn, calls = failing([HTTPFailure(400)])
    with pytest.raises(CompletionFailed) as info:
        policy(clock).call(fn)
    assert len(calls) == 1
    assert clock.sleeps == []
    assert info.value.attempts == 1
    assert "HTTP 400" in info.value.reason and "server said 400" in info.value.reason


def test_attempts_are_capped() -> None:
    clock = FakeClock()
    fn, calls = failing([HTTPFailure(500)] * 10)
    with pytest.raises(CompletionFailed) as info:
        policy(clock, max_attempts=3).call(fn)
    assert len(calls) == 3
    assert len(clock.sleeps) == 2
    assert "gave up after 3 attempts" in str(info.value)
    assert info.value.attempts == 3


def test_total_time_is_capped_before_waiting() -> None:
    clock = FakeClock()
    fn, calls = failing([HTTPFailure(429, {"retry-after": "100"})])
    with pytest.raises(CompletionFailed) as info:
        policy(clock, max_total_s=60).call(fn)
    assert len(calls) == 1
    assert clock.sleeps == []  # a wait past the limit is not even started
    assert "60s limit" in info.value.reason


def test_total_time_counts_time_spent_in_calls() -> None:
    clock = FakeClock()

    def slow_failure() -> str:
        clock.now += 25  # each attempt takes 25 s (e.g. a timeout)
        raise TimeoutError("timed out")

    with pytest.raises(CompletionFailed) as info:
        policy(clock, max_total_s=60, base_delay=1).call(slow_failure)
    # attempts end at 25 s, 51 s (after a 1 s wait) and 78 s (after 2 s): no fourth try
    assert info.value.attempts == 3
    assert clock.sleeps == [1.0, 2.0]
    assert "timeout" in info.value.reason


def test_reasons_are_redacted() -> None:
    clock = FakeClock()

    def leaky() -> str:
        raise ValueError("bad key sk-LEAK-123")

    with pytest.raises(CompletionFailed) as info:
        policy(clock).call(leaky, redact=lambda text: text.replace("sk-LEAK-123", "***"))
    assert "sk-LEAK-123" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_policy_validates_its_settings() -> None:
    with pytest.raises(FtevalsError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(FtevalsError):
        RetryPolicy(jitter=2)


def test_failed_result_carries_the_reason() -> None:
    failed = FailedCompletionResult("HTTP 500; gave up")
    assert failed.get_completions() == [""]
    assert failure_of(failed) == "HTTP 500; gave up"
    assert failure_of(TextCompletionResult(["safe"])) is None
