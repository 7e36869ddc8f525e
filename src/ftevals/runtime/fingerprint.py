"""One fingerprint of a loaded model: what its answers depend on, as a short hash.

A model's fingerprint hashes, for each adapter, its weights (``adapter_model.safetensors`` or
``.bin``), its ``adapter_config.json`` (rank, alpha, targets: an edited config changes the
model), the loading facts of ``ftevals.json`` (kind, base, labels, ``base_layers``) and, unless
left out, its calibration; and the base model reference. The sample cache
(:mod:`ftevals.harness.cache`) keys answers by it, so a retrained, reconfigured or
recalibrated adapter misses; the ONNX cache (:mod:`ftevals.runtime.onnx`) keys exported graphs
by the same hash without the calibration, which changes no graph.

Reads files only (hashlib, json): no torch, importable from the harness.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftevals.jsonl import file_sha256

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
ADAPTER_CONFIG = "adapter_config.json"
META_FILE = "ftevals.json"  # ftevals.runtime.meta.META_FILE (read here leniently, no pydantic)
#: ``ftevals.json`` keys that shape the loaded graph.
GRAPH_KEYS = ("kind", "base", "labels")


def adapter_parts(adapter_dir: str | Path, calibration: bool = True) -> dict[str, Any]:
    """What one adapter directory contributes to a fingerprint (hashes and small facts)."""
    directory = Path(adapter_dir)
    weights = next((directory / n for n in ADAPTER_WEIGHTS if (directory / n).is_file()), None)
    config = directory / ADAPTER_CONFIG
    parts: dict[str, Any] = {
        "weights": file_sha256(weights) if weights else f"missing:{directory.resolve()}",
        "adapter_config": file_sha256(config) if config.is_file() else None,
    }
    meta = _read_json(directory / META_FILE)
    parts.update({key: meta.get(key) for key in GRAPH_KEYS})
    stored_config = meta.get("config")
    parts["base_layers"] = (
        stored_config.get("base_layers") if isinstance(stored_config, dict) else None
    )
    if calibration:
        parts["calibration"] = meta.get("calibration")
    return parts


def fingerprint(
    adapter_dirs: Sequence[str | Path],
    base: str | None = None,
    calibration: bool = True,
    extra: Any = None,
) -> str:
    """Hash of a model made of ``base`` and ``adapter_dirs`` (see the module docstring);
    ``extra``: anything else the result depends on (options, library versions)."""
    body = {
        "base": None if base is None else str(base),
        "adapters": [adapter_parts(d, calibration) for d in adapter_dirs],
        "extra": extra,
    }
    encoded = json.dumps(body, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def of_completion_fn(fn: object) -> list[str]:
    """The fingerprint of a completion function's local model, as a list ([] for a function
    without one): its ``fingerprint`` attribute (a runtime model), else a fingerprint of its
    ``adapter_dir`` / ``adapter_dirs`` attributes."""
    own = getattr(fn, "fingerprint", None)
    if isinstance(own, str):
        return [own]
    dirs: list[Any] = []
    single = getattr(fn, "adapter_dir", None)
    if single:
        dirs.append(single)
    many = getattr(fn, "adapter_dirs", None)
    if isinstance(many, list | tuple):
        dirs.extend(many)
    return [fingerprint(dirs)] if dirs else []


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
