"""Dynamic batching: concurrent single calls gathered into batches for a local model.

evals calls a completion function from many worker threads at once. A local model is far
faster on a batch than on items one by one, so each call is queued and a single worker
thread runs whatever has arrived (up to ``max_batch``, waiting at most ``max_wait_s``
for stragglers) as one batch. With ``workers`` > 1, that many threads each take the next
batch, for a backend that runs batches in parallel (ONNX Runtime, one thread per batch).
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
        workers: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self._fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[T, Future[R]]] = queue.Queue()
        self._lock = threading.Lock()
        self._take = threading.Lock()  # one worker gathers a batch at a time
        self.workers = workers
        self._threads: list[threading.Thread] = []
        self.batch_sizes: list[int] = []

    def submit(self, item: T) -> R:
        """Queue one item and block until its result (or exception) is ready."""
        future: Future[R] = Future()
        self._ensure_worker()
        self._queue.put((item, future))
        return future.result()

    def _ensure_worker(self) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.workers:
                thread = threading.Thread(target=self._loop, daemon=True, name="batcher")
                thread.start()
                self._threads.append(thread)

    def _loop(self) -> None:
        while True:
            with self._take:
                batch = [self._queue.get()]
                # one deadline for the whole batch: the first caller waits at most max_wait_s
                deadline = time.monotonic() + self.max_wait_s
                while len(batch) < self.max_batch:
                    try:
                        timeout = max(0.0, deadline - time.monotonic())
                        batch.append(self._queue.get(timeout=timeout))
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
