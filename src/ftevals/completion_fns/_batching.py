"""Dynamic batching: concurrent single calls gathered into batches for a local model.

evals calls a completion function from many worker threads at once. A local model is far
faster on a batch than on items one by one, so each call is queued and a single worker
thread runs whatever has arrived (up to ``max_batch``, waiting at most ``max_wait_s``
for stragglers) as one batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class DynamicBatcher(Generic[T, R]):
    """Run ``fn`` over batches of items submitted concurrently by many threads."""

    def __init__(
        self,
        fn: Callable[[Sequence[T]], Sequence[R]],
        max_batch: int = 32,
        max_wait_s: float = 0.01,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self._fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[T, Future[R]]] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.batch_sizes: list[int] = []

    def submit(self, item: T) -> R:
        """Queue one item and block until its result (or exception) is ready."""
        future: Future[R] = Future()
        self._ensure_worker()
        self._queue.put((item, future))
        return future.result()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, daemon=True, name="batcher")
                self._worker.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            # one deadline for the whole batch: the first caller waits at most max_wait_s
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._run(batch)

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            results = self._fn([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(
                    f"batch function returned {len(results)} results for {len(batch)}"
                )
        except BaseException as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
