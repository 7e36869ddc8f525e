"""Contamination warnings: evaluated samples that match the evaluated adapter's training prompts.

``ftevals train`` records its training files in the adapter's ``ftevals.json`` (``training_data``:
the path as given and absolute, sha256, format and text field; older adapters have only
``config.data`` and ``data_sha256``, which are read the same way). For each log whose completion
function is a local adapter (the ``adapter`` or ``adapters`` argument of its registry entry, or of
the run's ``--completion_args``, resolved as the completion functions resolve them),
:func:`contamination_warnings` reads the recorded files (when they are still there with the same
hash), reads the eval's samples file and runs :func:`ftevals.converters.leakage.find_leaks`: one
line per model and eval with a match, and a note when the training data cannot be checked.

:func:`eval_samples_file` resolves a registry eval name to its samples file (for
``ftevals leakage --eval NAME``).
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.harness.logs import EvalLog
from ftevals.paths import project_registry

logger = logging.getLogger(__name__)

META_FILE = "ftevals.json"  # ftevals.runtime.meta.META_FILE, read here as plain JSON


def eval_samples_file(name: str, registries: Sequence[str | Path] = ()) -> Path:
    """The samples file of a registry eval (``samples_jsonl`` of the spec an alias leads to),
    looked up in ``registries`` and the project registry; kept inside their ``data/`` folders."""
    from ftevals.harness import registry_check as check

    paths = list(dict.fromkeys(Path(r).resolve() for r in [*registries, project_registry()]))
    loaded = check.load_registries(paths)
    entry = check.resolve_eval(loaded["evals"], name)
    if entry is None:
        where = ", ".join(str(p) for p in paths)
        raise FtevalsError(f"{name!r} is neither a file nor an eval of the registries ({where})")
    value = (entry.spec.get("args") or {}).get("samples_jsonl")
    if not isinstance(value, str):
        raise entry.error("the eval names no samples_jsonl file", "args")
    try:
        path = check.confined(value, entry.registry, check.data_roots(paths))
    except ValueError as exc:
        raise entry.error(f"samples_jsonl: {exc}", "args.samples_jsonl") from None
    if not path.is_file():
        msg = f"samples_jsonl: {value!r} not found in {entry.registry / 'data'}"
        raise entry.error(msg, "args.samples_jsonl")
    return path


@dataclass(frozen=True)
class TrainingFile:
    """One recorded training file of an adapter."""

    given: str
    absolute: str | None
    sha256: str | None
    fmt: str | None = None
    text_field: str | None = None


def training_files(meta: dict[str, Any]) -> list[TrainingFile]:
    """The training files an adapter's ``ftevals.json`` records (``training_data``, else the
    ``config.data`` and ``data_sha256`` of adapters trained before it existed)."""
    recorded = meta.get("training_data")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    assert isinstance(config, dict)
    if isinstance(recorded, list):
        return [
            TrainingFile(
                given=str(item.get("path")),
                absolute=item.get("absolute_path"),
                sha256=item.get("sha256"),
                fmt=item.get("format"),
                text_field=item.get("text_field"),
            )
            for item in recorded
            if isinstance(item, dict) and item.get("path")
        ]
    if isinstance(config.get("data"), str):
        return [
            TrainingFile(
                given=config["data"],
                absolute=None,
                sha256=meta.get("data_sha256"),
                fmt=config.get("format"),
                text_field=config.get("text_field"),
            )
        ]
    return []


@dataclass
class _Adapter:
    """An adapter's training prompts, or why they cannot be read."""

    name: str
    files: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    problem: str | None = None


def _read_training(ref: str, adapter_dir: Path) -> _Adapter:
    from ftevals.converters.leakage import read_prompts
    from ftevals.jsonl import file_sha256

    adapter = _Adapter(ref)
    try:
        meta = json.loads((adapter_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        adapter.problem = f"its {META_FILE} is unreadable ({type(exc).__name__})"
        return adapter
    files = training_files(meta) if isinstance(meta, dict) else []
    if not files:
        adapter.problem = "it records no training data"
        return adapter
    for item in files:
        candidates = [Path(p) for p in (item.absolute, item.given) if p]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            adapter.problem = f"its training data {item.given} is not found"
            return adapter
        if item.sha256 and file_sha256(path) != item.sha256:
            adapter.problem = f"its training data {path} changed since training (sha256 differs)"
            return adapter
        try:
            adapter.prompts += [p.text for p in read_prompts(path, item.fmt, item.text_field)]
        except FtevalsError as exc:
            adapter.problem = f"its training data cannot be read ({exc})"
            return adapter
        adapter.files.append(str(path))
    return adapter


def _command_words(log: EvalLog) -> list[str]:
    config = log.spec.get("run_config")
    command = config.get("command") if isinstance(config, dict) else None
    try:
        return shlex.split(command) if isinstance(command, str) else []
    except ValueError:
        return []


def _option_values(words: list[str], option: str) -> list[str]:
    return [words[k + 1] for k, w in enumerate(words[:-1]) if w == option]


def _registries(log: EvalLog) -> list[Path]:
    """The registries the run could have taken its completion functions from."""
    eval_spec = log.spec.get("run_config", {}).get("eval_spec", {})
    found = _option_values(_command_words(log), "--registry_path")
    if isinstance(eval_spec, dict) and eval_spec.get("registry_path"):
        found.append(str(eval_spec["registry_path"]))
    paths = [Path(p) for p in found if Path(p).is_dir()] + [project_registry()]
    return list(dict.fromkeys(p.resolve() for p in paths))


def adapter_refs(log: EvalLog, fn: str) -> list[str]:
    """The adapters a completion function of the log ran with (names or directories)."""
    from ftevals.converters._fns import parse_args
    from ftevals.harness import registry_check as check

    args: dict[str, Any] = {}
    try:
        entry = check.load_registries(_registries(log))["completion_fns"].get(fn)
    except FtevalsError as exc:
        logger.info("registries not read for %s: %s", fn, exc)
        entry = None
    if entry is not None:
        args.update(entry.spec.get("args") or {})
    for value in _option_values(_command_words(log), "--completion_args"):
        try:
            args.update(parse_args(value))
        except FtevalsError:
            pass
    refs: list[str] = []
    for key in ("adapter", "adapters"):
        arg = args.get(key)
        if isinstance(arg, str):
            refs += [v.strip() for v in arg.split("|") if v.strip()]
        elif isinstance(arg, list):
            refs += [str(v) for v in arg]
    return refs


def _samples_file(log: EvalLog) -> Path | None:
    from ftevals.harness.scoring import spec_args

    name = spec_args(log).get("samples_jsonl")
    if not isinstance(name, str) or not name:
        return None
    path = Path(name)
    eval_spec = log.spec.get("run_config", {}).get("eval_spec", {})
    root = eval_spec.get("registry_path") if isinstance(eval_spec, dict) else None
    if not path.is_absolute() and root:
        path = Path(str(root)) / "data" / name
    return path if path.is_file() else None


def contamination_warnings(logs: Iterable[EvalLog], *, paraphrase: bool = True) -> list[str]:
    """One line per (model, eval) of ``logs`` whose samples match the model's training prompts
    (``warning: ...``), or whose training data cannot be checked (``note: ...``); nothing for
    models that are not local adapters. Each training set is embedded once for all its evals
    (and cached on disk, see :func:`ftevals.converters.leakage.embed`)."""
    from ftevals.converters.leakage import (
        KINDS,
        NEAR_THRESHOLD,
        PARAPHRASE_THRESHOLD,
        find_leaks,
        read_prompts,
    )
    from ftevals.runtime.models import resolve_adapter

    adapters: dict[Path, _Adapter] = {}
    jobs: dict[tuple[str, str], tuple[list[Path], Path | None]] = {}
    for log in logs:
        for fn in log.completion_fns:
            refs = adapter_refs(log, fn)
            dirs: list[Path] = []
            for ref in refs:
                try:
                    adapter_dir = resolve_adapter(ref)
                except FtevalsError:
                    continue
                if adapter_dir not in adapters:
                    adapters[adapter_dir] = _read_training(ref, adapter_dir)
                dirs.append(adapter_dir)
            if dirs:
                jobs.setdefault((fn, log.base_eval), (dirs, _samples_file(log)))

    lines: list[str] = []
    results: dict[tuple[tuple[Path, ...], Path], tuple[int, dict[str, int]]] = {}
    for (fn, eval_name), (dirs, samples) in jobs.items():
        problems = [
            f"{adapters[d].name}: {adapters[d].problem}" for d in dirs if adapters[d].problem
        ]
        if problems or samples is None:
            why = problems[0] if problems else "its samples file is not found"
            lines.append(f"note: contamination of {eval_name} by {fn} not checked ({why})")
            continue
        key = (tuple(dirs), samples)
        if key not in results:
            train = [t for d in dirs for t in adapters[d].prompts]
            evals = [p.text for p in read_prompts(samples)]
            matches = find_leaks(train, evals, paraphrase=paraphrase)
            found: dict[str, int] = {k: sum(1 for m in matches if m.kind == k) for k in KINDS}
            results[key] = (len(evals), found)
        total, counts = results[key]
        leaked = sum(counts.values())
        if not leaked:
            continue
        detail = (
            f"exact {counts['exact']}, normalised {counts['normalised']}, "
            f"near {counts['near']} at jaccard>={NEAR_THRESHOLD:g}"
        )
        if paraphrase:
            detail += f", paraphrase {counts['paraphrase']} at cosine>={PARAPHRASE_THRESHOLD:g}"
        files = " ".join(shlex.quote(f) for d in dirs for f in adapters[d].files)
        lines.append(
            f"warning: {leaked} of {total} samples ({100 * leaked / total:.1f}%) of {eval_name} "
            f"match training prompts of {fn} ({detail}); run "
            f"`ftevals leakage --train {files} --eval {shlex.quote(str(samples))}` for details"
        )
    return lines
