"""Per-sample completion cache: an interrupted pair resumes without calling the model again.

Every completion function the engine builds is wrapped in :class:`CachingCompletionFn`. A call
is looked up by

* the function's spec: registry name, class, registry ``args`` and ``--completion_args``;
* the model's fingerprint, where the function runs a local model (its ``fingerprint``, or its
  ``adapter_dir`` / ``adapter_dirs``: adapter weights, adapter config, calibration and base,
  :mod:`ftevals.runtime.fingerprint`), so a retrained, reconfigured or recalibrated adapter
  misses;
* the prompt and the call parameters (``temperature``, ``max_tokens``, ...);
* the sample id and the call's ordinal within the sample, so that repeated identical calls
  (several completions sampled at temperature > 0) each keep their own answer.

Answers are appended to a JSONL file, one line per call, flushed at once: a ``kill -9`` loses at
most the line being written, and a truncated last line is dropped when the file is reopened.
On a hit the function is not called; its ``sampling`` events are recorded again from the cache
(marked ``"cached": true``), so the log of a resumed run is as complete as an uninterrupted one.
Failed calls (an exception, or a sampling event with ``"failed": true``) are never cached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.api import CompletionResult

from ftevals.errors import InputError
from ftevals.runtime.fingerprint import of_completion_fn

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


def _jsonable(value: Any) -> Any:
    """Fallback for json.dumps: pydantic models, dataclasses and paths; repr otherwise."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return value.as_posix()
    return repr(value)


def canonical(value: Any) -> str:
    """Deterministic JSON text of a value (sorted keys), the input of every hash here."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_jsonable)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def adapter_hashes(fn: object) -> list[str]:
    """The fingerprint of a completion function's local model ([] when it has none): adapter
    weights, adapter config, calibration and base (:mod:`ftevals.runtime.fingerprint`)."""
    return of_completion_fn(fn)


class CachedCompletionResult(CompletionResult):  # type: ignore[misc]
    """The completions of a call answered from the cache."""

    def __init__(self, completions: list[str], raw: dict[str, Any] | None = None) -> None:
        self.completions = completions
        self.raw = raw or {}

    def get_completions(self) -> list[str]:
        return list(self.completions)


class SampleCache:
    """Append-only JSONL store of answered calls (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.stored = 0
        self.dropped_tail = self._load()
        self._fh = self.path.open("a", encoding="utf-8")

    def _load(self) -> bool:
        """Read existing entries; drop a truncated last line (a kill during a write)."""
        if not self.path.is_file():
            return False
        data = self.path.read_bytes()
        dropped = False
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            logger.warning("%s: dropping a truncated last line (interrupted write)", self.path)
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
            data, dropped = data[:keep], True
        for lineno, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as exc:
                msg = f"invalid JSON in sample cache: {exc.msg}"
                raise InputError(self.path, msg, lineno) from None
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise InputError(self.path, "sample cache entry without an 'id'", lineno, "id")
            if entry.get("format") != CACHE_FORMAT:
                raise InputError(self.path, f"unknown cache format {entry.get('format')!r}", lineno)
            self._entries[entry["id"]] = entry
        return dropped

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, entry_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(entry_id)
            if entry is not None:
                self.hits += 1
            return entry

    def put(self, entry: dict[str, Any]) -> None:
        """Append one entry and flush it to the OS at once."""
        line = json.dumps({"format": CACHE_FORMAT, **entry}, ensure_ascii=False, default=_jsonable)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            self._entries[entry["id"]] = json.loads(line)
            self.stored += 1

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


class _CapturingRecorder:
    """Forwards everything to evals' recorder and keeps the data of ``sampling`` events."""

    def __init__(self, real: Any, sink: list[dict[str, Any]]) -> None:
        self._real = real
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def record_sampling(
        self, prompt: Any, sampled: Any, sample_id: Any = None, **extra: Any
    ) -> Any:
        self._sink.append({"prompt": prompt, "sampled": sampled, **extra})
        return self._real.record_sampling(prompt, sampled, sample_id=sample_id, **extra)

    def record_event(self, type: str, data: Any = None, sample_id: Any = None) -> Any:
        if type == "sampling" and isinstance(data, dict):
            self._sink.append(dict(data))
        return self._real.record_event(type, data, sample_id)


@contextlib.contextmanager
def _capture_sampling(recorder: Any, sink: list[dict[str, Any]]) -> Iterator[None]:
    """Make a capturing proxy evals' default recorder for the current context."""
    if recorder is None:
        yield
        return
    import evals.record

    # evals' module-level record_* helpers read this context variable (evals/record.py).
    token = evals.record._default_recorder.set(_CapturingRecorder(recorder, sink))
    try:
        yield
    finally:
        evals.record._default_recorder.reset(token)


def _call_failed(result: object, sampling: list[dict[str, Any]]) -> bool:
    return getattr(result, "failed", False) is True or any(
        event.get("failed") is True for event in sampling
    )


class CachingCompletionFn:
    """A completion function answered from a :class:`SampleCache` where it can be.

    Attributes of the wrapped function stay reachable (``wrapper.labels``); ``inner`` is the
    wrapped function itself.
    """

    def __init__(self, inner: Any, fn_spec: dict[str, Any], cache: SampleCache) -> None:
        self.inner = inner
        self.fn_spec = {**fn_spec, "adapters": adapter_hashes(inner)}
        self.spec_hash = sha256_text(canonical(self.fn_spec))
        self.cache = cache
        self._ordinals: dict[tuple[str | None, str], int] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not yet set (copy/pickle): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def call_key(self, prompt: Any, kwargs: dict[str, Any]) -> str:
        """Hash of the function spec, prompt and call parameters."""
        return sha256_text(canonical([self.spec_hash, prompt, kwargs]))

    def __call__(self, prompt: Any, **kwargs: Any) -> Any:
        import evals.record

        recorder = evals.record.default_recorder()
        sample_id = recorder.current_sample_id() if recorder is not None else None
        key = self.call_key(prompt, kwargs)
        with self._lock:
            ordinal = self._ordinals.get((sample_id, key), 0)
            self._ordinals[(sample_id, key)] = ordinal + 1
        entry_id = sha256_text(canonical([key, sample_id, ordinal]))
        hit = self.cache.get(entry_id)
        if hit is not None:
            if recorder is not None:
                for data in hit["sampling"]:
                    recorder.record_event("sampling", {**data, "cached": True})
            return CachedCompletionResult(list(hit["completions"]), hit.get("raw"))
        sampling: list[dict[str, Any]] = []
        with _capture_sampling(recorder, sampling):
            result = self.inner(prompt, **kwargs)
        completions = result.get_completions()
        if _call_failed(result, sampling):
            return result
        raw = getattr(result, "raw", None)
        self.cache.put(
            {
                "id": entry_id,
                "key": key,
                "sample_id": sample_id,
                "ordinal": ordinal,
                "fn": self.fn_spec.get("name"),
                "completions": list(completions),
                "raw": raw if isinstance(raw, dict) else None,
                "sampling": sampling,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        return result
