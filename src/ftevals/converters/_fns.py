"""Completion functions for the data tools (teachers, judges): built through evals' registry,
called with their recorded events captured, and run concurrently in bounded batches.

A remote completion function that fails for good returns a result marked ``failed`` (an empty
completion, see ``ftevals.completion_fns._retry``) so that evals' runs go on. The data tools
read answers, not runs: :func:`answers_only` turns such a result into a raised
:class:`CompletionFailed`, so an unreachable teacher or judge is reported with its reason
(``connection error (APIConnectionError); gave up after 2 attempts``), never read as an empty
answer or an unparseable verdict.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ftevals.completion_fns._retry import CompletionFailed, failure_of
from ftevals.errors import FtevalsError

T = TypeVar("T")
R = TypeVar("R")
_END: Any = object()


def parse_args(text: str | None) -> dict[str, str]:
    """``"k=v,k2=v2"`` -> ``{"k": "v", "k2": "v2"}`` (oaieval's ``--completion_args`` syntax)."""
    args: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        if "=" not in pair:
            raise FtevalsError(f"completion arguments are k=v pairs, got {pair!r}")
        key, value = pair.split("=", 1)
        args[key.strip()] = value.strip()
    return args


def registry(paths: Sequence[str | Path] = ()) -> Any:
    """evals' registry (ftevals' routing fix) with ``paths`` and the project registry."""
    from ftevals.evals_compat import registry_class
    from ftevals.paths import project_registry

    reg = registry_class()()
    reg.add_registry_paths([*paths, project_registry()])
    return reg


def make_fn(name: str, args: dict[str, Any] | None = None, reg: Any = None) -> Any:
    """A completion function by registry name (or OpenAI model), built as oaieval builds it."""
    reg = reg if reg is not None else registry()
    try:
        return reg.make_completion_fn(name, **(args or {}))
    except ValueError as exc:
        raise FtevalsError(f"completion function {name!r}: {exc}") from None


class AnswersOnly:
    """A completion function whose failed results (``failure_of``) raise
    :class:`CompletionFailed` instead of returning an empty answer."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, prompt: Any, **kwargs: Any) -> Any:
        result = self.fn(prompt, **kwargs)
        reason = failure_of(result)
        if reason is not None:
            raise CompletionFailed(reason)
        return result

    def __repr__(self) -> str:
        return f"AnswersOnly({self.fn!r})"


def answers_only(fn: Callable[..., Any]) -> AnswersOnly:
    """``fn``, raising on a failed call (see the module docstring)."""
    return fn if isinstance(fn, AnswersOnly) else AnswersOnly(fn)


def error_text(exc: BaseException) -> str:
    """What a failed call is reported as: a failed completion's reason as it is (the words
    ``ftevals run`` uses), any other error as ``Type: message``."""
    if isinstance(exc, CompletionFailed):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Captured:
    """What one call of a completion function recorded."""

    usage: dict[str, int] = field(default_factory=dict)
    """Token usage summed over its ``sampling`` events (what evals' usage summary reads)."""
    events: int = 0


def _capture_recorder() -> Any:
    from evals.record import RecorderBase

    class CaptureRecorder(RecorderBase):  # type: ignore[misc]
        """Keeps the sampling usage of each sample id; writes nothing."""

        def __init__(self) -> None:
            super().__init__(run_spec=None)
            self._lock = threading.Lock()
            self.captured: dict[str, Captured] = {}

        def record_event(self, type: str, data: Any = None, sample_id: str | None = None) -> None:
            sample_id = sample_id or self.current_sample_id()
            if type != "sampling" or sample_id is None or not isinstance(data, dict):
                return
            with self._lock:
                got = self.captured.setdefault(sample_id, Captured())
                got.events += 1
                for key, value in (data.get("usage") or {}).items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        got.usage[key] = got.usage.get(key, 0) + value

    return CaptureRecorder()


class Caller:
    """Calls completion functions the way evals' engine does (inside a default recorder, which
    local functions record to) and returns what each call recorded."""

    def __init__(self) -> None:
        self._recorder = _capture_recorder()
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Captured]:
        """``fn(*args, **kwargs)`` and the usage it recorded."""
        with self._lock:
            self._count += 1
            sample_id = f"call.{self._count}"
        with self._recorder.as_default_recorder(sample_id):
            result = fn(*args, **kwargs)
        with self._lock:
            captured = self._recorder.captured.pop(sample_id, Captured())
        return result, captured


def bounded_map(
    fn: Callable[[T], R], items: Iterable[T], concurrency: int
) -> Iterator[tuple[T, R | None, BaseException | None]]:
    """``(item, result, error)`` for each item, in completion order, with at most
    ``2 * concurrency`` items read ahead; an item's exception is returned, not raised.
    A KeyboardInterrupt cancels what has not started and re-raises."""
    if concurrency < 1:
        raise FtevalsError(f"concurrency must be at least 1, got {concurrency}")
    source = iter(items)
    with cf.ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: dict[cf.Future[R], T] = {}
        try:
            while True:
                while len(pending) < 2 * concurrency:
                    item = next(source, _END)
                    if item is _END:
                        break
                    pending[pool.submit(fn, item)] = item
                if not pending:
                    return
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    error = future.exception()
                    yield item, (None if error else future.result()), error
        except BaseException:
            for future in pending:
                future.cancel()
            raise
