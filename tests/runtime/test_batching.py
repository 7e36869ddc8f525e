"""DynamicBatcher: concurrent submits gathered into batches, results routed to their callers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ftevals.runtime.batching import DynamicBatcher

# Long enough that a batch always fills from threads released by one barrier; a batch that
# fills up never waits for it, so no test below actually sleeps this long.
PATIENT = 30.0


def run_threads(n: int, target: Callable[[int], Any]) -> tuple[dict[int, Any], dict[int, Any]]:
    """Call ``target(i)`` from ``n`` threads released together; (results, exceptions) by i."""
    barrier = threading.Barrier(n)
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:
            errors[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a caller never got its result"
    return results, errors


def test_concurrent_submits_run_as_one_batch_and_results_go_back_to_callers() -> None:
    calls: list[list[int]] = []

    def fn(items: Sequence[int]) -> list[str]:
        calls.append(list(items))
        return [f"r{item}" for item in items]

    batcher: DynamicBatcher[int, str] = DynamicBatcher(fn, max_batch=8, max_wait_s=PATIENT)
    results, errors = run_threads(8, batcher.submit)
    assert not errors
    assert results == {i: f"r{i}" for i in range(8)}
    assert batcher.batch_sizes == [8]
    assert sorted(calls[0]) == list(range(8))


def test_batches_never_exceed_max_batch() -> None:
    """While the worker is busy, 10 more items queue; they run in batches of at most 4."""
    entered = threading.Event()
    release = threading.Event()
    all_queued = threading.Event()
    calls: list[list[int]] = []

    def fn(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            entered.set()
            assert release.wait(60)
        return [item * 2 for item in items]

    batcher: DynamicBatcher[int, int] = DynamicBatcher(fn, max_batch=4, max_wait_s=0)
    put = batcher._queue.put
    queued = [0]
    lock = threading.Lock()

    def counting_put(entry: Any, *args: Any, **kwargs: Any) -> None:
        put(entry, *args, **kwargs)
        with lock:
            queued[0] += 1
            if queued[0] == 11:
                all_queued.set()

    batcher._queue.put = counting_put  # type: ignore[method-assign]

    results: dict[int, int] = {}

    def submit(i: int) -> None:
        value = batcher.submit(i)
        with lock:
            results[i] = value

    first = threading.Thread(target=submit, args=(-1,))
    first.start()
    assert entered.wait(60)  # the worker is now busy with the first item
    others: list[threading.Thread] = []
    for i in range(10):
        thread = threading.Thread(target=submit, args=(i,))
        thread.start()
        others.append(thread)
    assert all_queued.wait(60)
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=60)
        assert not thread.is_alive()

    assert results == {i: 2 * i for i in range(-1, 10)}
    assert batcher.batch_sizes == [1, 4, 4, 2]
    assert sorted(x for call in calls[1:] for x in call) == list(range(10))


def test_an_exception_in_the_batch_fn_reaches_every_caller() -> None:
    def fn(items: Sequence[int]) -> list[int]:
        raise ValueError(f"boom on {len(items)}")

    batcher: DynamicBatcher[int, int] = DynamicBatcher(fn, max_batch=5, max_wait_s=PATIENT)
    results, errors = run_threads(5, batcher.submit)
    assert not results
    assert sorted(errors) == list(range(5))
    assert all(isinstance(e, ValueError) and str(e) == "boom on 5" for e in errors.values())
    assert batcher.batch_sizes == [5]


def test_the_worker_survives_a_failed_batch() -> None:
    fail = [True]

    def fn(items: Sequence[str]) -> list[str]:
        if fail[0]:
            fail[0] = False
            raise KeyError("once")
        return [s.upper() for s in items]

    batcher: DynamicBatcher[str, str] = DynamicBatcher(fn, max_batch=2, max_wait_s=0)
    with pytest.raises(KeyError, match="once"):
        batcher.submit("a")
    assert batcher.submit("b") == "B"
    assert batcher.batch_sizes == [1, 1]


def test_wrong_result_count_raises_for_the_caller() -> None:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(lambda items: [], max_wait_s=0)
    with pytest.raises(RuntimeError, match="returned 0 results for 1"):
        batcher.submit(1)

    too_many: DynamicBatcher[int, int] = DynamicBatcher(
        lambda items: [*items, 0], max_batch=3, max_wait_s=PATIENT
    )
    results, errors = run_threads(3, too_many.submit)
    assert not results
    assert len(errors) == 3
    assert all(
        isinstance(e, RuntimeError) and "returned 4 results for 3" in str(e)
        for e in errors.values()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch": 0}, "max_batch"),
        ({"max_batch": -3}, "max_batch"),
        ({"max_wait_s": -0.001}, "max_wait_s"),
    ],
)
def test_invalid_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DynamicBatcher(lambda items: list(items), **kwargs)


def test_a_lone_submit_runs_alone() -> None:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(lambda xs: [x + 1 for x in xs], max_wait_s=0)
    assert [batcher.submit(i) for i in range(3)] == [1, 2, 3]
    assert batcher.batch_sizes == [1, 1, 1]


class _StopLoop(BaseException):
    pass


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class _TricklingQueue:
    """Items arriving every ``gap`` seconds of a fake clock; never really blocks."""

    def __init__(self, clock: _FakeClock, items: list[Any], gap: float) -> None:
        self.clock = clock
        self.pending = list(items)
        self.gap = gap
        self.timeouts: list[float] = []
        self.started = False

    def get(self, timeout: float | None = None) -> Any:
        if timeout is None:
            if self.started:
                raise _StopLoop  # the worker came back for the next batch: end the test
            self.started = True
            return self.pending.pop(0)
        self.timeouts.append(timeout)
        if self.pending and self.gap <= timeout:
            self.clock.now += self.gap
            return self.pending.pop(0)
        self.clock.now += timeout
        raise __import__("queue").Empty


def test_max_wait_bounds_the_whole_batch_not_each_straggler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stragglers 0.4 s apart with max_wait_s=1: only those within 1 s of the first join."""
    from concurrent.futures import Future
    from types import SimpleNamespace

    import ftevals.runtime.batching as batching

    clock = _FakeClock()
    monkeypatch.setattr(batching, "time", SimpleNamespace(monotonic=clock.monotonic))
    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        lambda xs: [x * 3 for x in xs], max_batch=10, max_wait_s=1.0
    )
    futures: list[Future[int]] = [Future() for _ in range(6)]
    fake = _TricklingQueue(clock, list(zip(range(6), futures, strict=True)), gap=0.4)
    batcher._queue = fake  # type: ignore[assignment]
    with pytest.raises(_StopLoop):
        batcher._loop()
    assert batcher.batch_sizes == [3]  # arrivals at +0.0, +0.4, +0.8; +1.2 is too late
    assert [f.result(timeout=0) for f in futures[:3]] == [0, 3, 6]
    assert not any(f.done() for f in futures[3:])
    assert fake.timeouts == pytest.approx([1.0, 0.6, 0.2])


def test_two_workers_run_two_batches_at_the_same_time() -> None:
    # each batch waits inside the model for the other one: only parallel workers get past it
    both_running = threading.Barrier(2, timeout=PATIENT)

    def model(items: Sequence[int]) -> list[int]:
        both_running.wait()
        return [x * 10 for x in items]

    batcher = DynamicBatcher(model, max_batch=2, max_wait_s=PATIENT, workers=2)
    results, errors = run_threads(4, lambda i: batcher.submit(i))
    assert not errors
    assert results == {i: i * 10 for i in range(4)}
    assert sorted(batcher.batch_sizes) == [2, 2]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        DynamicBatcher(model, workers=0)
