"""Shared helpers of the ``ftevals`` subcommands."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ftevals.errors import FtevalsError


def split_csv(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def label_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["A=b", ...]`` -> ``{"A": "b"}``."""
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise FtevalsError(f"--map expects FROM=TO, got {pair!r}")
        src, dst = pair.split("=", 1)
        mapping[src] = dst
    return mapping


QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub's and transformers' bars
    "TQDM_DISABLE": "1",  # any other tqdm bar (read when tqdm is first imported)
    "TRANSFORMERS_VERBOSITY": "error",
    "PYTHONWARNINGS": "ignore",  # child processes (accelerate launch)
}
"""Environment of a ``--quiet`` command (restored afterwards)."""


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """``--quiet``: no progress bar of any library (ours, transformers' ``Loading weights``,
    tqdm's), no Python warning (``FutureWarning``s of dependencies) and no log line below
    ERROR. The command's report and its errors are still printed."""
    saved_env = {key: os.environ.get(key) for key in QUIET_ENV}
    os.environ.update(QUIET_ENV)
    root = logging.getLogger()
    saved_level = root.level
    root.setLevel(logging.ERROR)
    hf_logging = _transformers_logging()
    bars_were_on = hf_logging is not None and hf_logging.is_progress_bar_enabled()
    if hf_logging is not None:  # imported already: the environment is read at import only
        hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        root.setLevel(saved_level)
        if bars_were_on and hf_logging is not None:
            hf_logging.enable_progress_bar()


def _transformers_logging() -> Any:
    """``transformers.utils.logging`` if transformers is imported already, else None."""
    if "transformers" not in sys.modules:
        return None
    from transformers.utils import logging as hf_logging

    return hf_logging


def stdout_closed() -> bool:
    """Whether the reader of stdout has gone (``ftevals runs --json | head`` after ``head``
    exits): the pipe's write end then polls as an error."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what is still
    buffered for a closed pipe raises nothing (Python's documented recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
