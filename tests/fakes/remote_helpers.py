"""Helpers for provider tests: a retry policy that never waits, and what a recorder wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftevals.completion_fns._retry import RetryPolicy


class Waits:
    """A fake clock for RetryPolicy: ``sleep`` only advances it and notes the delay."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def instant_retry(max_attempts: int = 3, max_total_s: float = 120.0) -> tuple[RetryPolicy, Waits]:
    waits = Waits()
    policy = RetryPolicy(
        max_attempts=max_attempts,
        max_total_s=max_total_s,
        base_delay=0.5,
        jitter=0.0,
        sleep=waits.sleep,
        clock=waits.clock,
    )
    return policy, waits


def events(recorder: Any, kind: str = "sampling") -> list[dict[str, Any]]:
    return [e.data for e in recorder.get_events(kind)]


def log_text(recorder: Any) -> str:
    """Everything the recorder has written to its log file (flushed now)."""
    recorder.flush_events()
    return Path(recorder.event_file_path).read_text(encoding="utf-8")
