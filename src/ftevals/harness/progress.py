"""Progress of ``ftevals run``: one bar over the samples of every running pair.

Each engine process writes a progress file (``ftevals.harness.registry.ProgressFile``): the
sample count when the eval starts, then one line per finished sample, then the cache figures.
A monitor thread reads the new lines of the running pairs' files twice a second and moves a
single tqdm bar; pairs run concurrently add their sample counts to its total. The bar is off
when stderr is not a terminal (tqdm's ``disable=None``) or when ``enabled`` is False.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class PairProgress:
    """What a pair's progress file says so far."""

    total: int | None = None
    done: int = 0
    cache_hits: int | None = None
    cache_stored: int | None = None
    offset: int = 0

    def feed(self, path: Path) -> None:
        """Read the complete lines appended since the last call."""
        try:
            with path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for raw in chunk[:end].splitlines():
            try:
                record: Any = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if isinstance(record.get("total"), int):
                self.total = (self.total or 0) + record["total"]
            elif "done" in record:
                self.done += 1
            elif isinstance(record.get("cache"), dict):
                self.cache_hits = record["cache"].get("hits")
                self.cache_stored = record["cache"].get("stored")


def read_progress(path: Path) -> PairProgress:
    progress = PairProgress()
    progress.feed(path)
    return progress


class RunProgress:
    """The bar and its monitor thread; use as a context manager."""

    def __init__(self, n_pairs: int, enabled: bool = True, interval_s: float = 0.5) -> None:
        from tqdm import tqdm

        self.n_pairs = n_pairs
        self.finished = 0
        self.interval_s = interval_s
        self._running: dict[str, tuple[Path, PairProgress]] = {}
        self._closed_total = 0
        self._closed_done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.bar = tqdm(
            total=0,
            unit="sample",
            desc=f"pairs 0/{n_pairs}",
            disable=None if enabled else True,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        self._thread = threading.Thread(target=self._monitor, name="ftevals-progress", daemon=True)

    def __enter__(self) -> RunProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._refresh()
        self.bar.close()

    def start_pair(self, key: str, path: Path) -> None:
        with self._lock:
            self._running[key] = (path, PairProgress())

    def finish_pair(self, key: str, counted: bool = True) -> PairProgress | None:
        """Stop following a pair; return its final progress (None if it never started)."""
        with self._lock:
            entry = self._running.pop(key, None)
            if counted:
                self.finished += 1
            if entry is None:
                return None
            path, progress = entry
            progress.feed(path)
            self._closed_total += progress.total or 0
            self._closed_done += progress.done
        self._refresh()
        return progress

    @contextlib.contextmanager
    def external_write(self) -> Iterator[None]:
        """Print outside the bar (it is cleared and redrawn)."""
        with self._lock, self.bar.external_write_mode():
            yield

    def _refresh(self) -> None:
        with self._lock:
            total, done = self._closed_total, self._closed_done
            for path, progress in self._running.values():
                progress.feed(path)
                total += progress.total or 0
                done += progress.done
            self.bar.total = total
            self.bar.n = done
            self.bar.set_description(f"pairs {self.finished}/{self.n_pairs}", refresh=False)
            self.bar.refresh()

    def _monitor(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._refresh()
