"""Loading the samples of ftevals' eval classes: confined to a registry, checked on load.

evals' ``Eval.get_samples`` opens ``samples_jsonl`` wherever it points (an existing file in
the working directory, ``../../etc/passwd``, a URL) and leaves a sample without ``ideal`` to
crash the run later with ``KeyError: 'ideal'``. ftevals' classes load through
:func:`load_samples` instead:

* the path resolves inside the ``data/`` folder of the eval's registry (or, under
  ``ftevals run``, of any registry of the run: ``confine_instance`` records those roots);
* every row is read with the project's JSONL reader (``FILE:LINE`` on a bad line) and checked
  by the class's own rule (``FILE:LINE: field 'ideal': ...``) before the first model call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ftevals.errors import InputError

ROOTS_ATTR = "_ftevals_data_roots"
"""Attribute ``ftevals run`` sets on an eval instance: the data folders of the run."""

RowCheck = Callable[[dict[str, Any]], tuple[str, str] | None]
"""A row -> ``(field, problem)`` or None when the row is fine."""


def samples_path(instance: Any, value: str) -> Path:
    """Where ``value`` (a data arg) points, refused when outside the allowed data folders."""
    from ftevals.harness.registry_check import confined

    registry = Path(instance.eval_registry_path)
    roots: Sequence[Path] = getattr(instance, ROOTS_ATTR, None) or [(registry / "data").resolve()]
    try:
        path = confined(str(value), registry, roots)
    except ValueError as exc:
        raise InputError(registry / "data", f"samples_jsonl: {exc}") from None
    if not path.exists():
        msg = (
            f"{value} not found (data files are read from the registries' data/ folders, "
            "never from the working directory)"
        )
        raise InputError(registry / "data", msg)
    return path


def load_samples(instance: Any, check: RowCheck | None = None) -> list[dict[str, Any]]:
    """The rows of ``instance.samples_jsonl`` (a file or a folder of ``*.jsonl``), checked."""
    from ftevals.jsonl import iter_jsonl

    path = samples_path(instance, instance.samples_jsonl)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    rows: list[dict[str, Any]] = []
    for file in files:
        for line, row in iter_jsonl(file):
            if not isinstance(row, dict):
                raise InputError(file, "expected a JSON object", line)
            problem = _common(row) or (check(row) if check is not None else None)
            if problem is not None:
                field, message = problem
                raise InputError(file, message, line, field)
            rows.append(row)
    if not rows:
        raise InputError(path, "no samples (empty)")
    return rows


def _common(row: dict[str, Any]) -> tuple[str, str] | None:
    if "input" not in row:
        return "input", "missing (the prompt: a string or a list of chat messages)"
    if not isinstance(row["input"], str | list):
        return "input", f"must be a string or a list of messages, got {type(row['input']).__name__}"
    return None


def label_check(labels: Sequence[str] | None) -> RowCheck:
    """``ideal`` present, a label or a one-label list, and one of ``labels`` when given."""

    def check(row: dict[str, Any]) -> tuple[str, str] | None:
        if "ideal" not in row:
            return "ideal", "missing (the expected label)"
        ideal = row["ideal"]
        value = ideal[0] if isinstance(ideal, list) and len(ideal) == 1 else ideal
        if not isinstance(value, str):
            return "ideal", f"must be a label (a string), got {str(ideal)[:60]!r}"
        if labels and value not in labels:
            return "ideal", f"{value!r} is not one of the eval's labels {list(labels)}"
        return None

    return check
