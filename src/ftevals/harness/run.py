"""``ftevals run``: every model x eval pair through evals' engine, resumable, with a manifest."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

import ftevals
from ftevals.errors import FtevalsError
from ftevals.harness.engine import ERROR_PREFIX
from ftevals.harness.names import check_names
from ftevals.harness.registry_check import check_run
from ftevals.jsonl import write_atomic
from ftevals.paths import project_registry


class PairRecord(BaseModel):
    """One model x eval pair of a run."""

    model: str = Field(description="Completion function name as given to oaieval.")
    eval: str = Field(description="Eval name or alias as given to oaieval.")
    log: str = Field(description="evals log file, relative to the run directory.")
    status: str = Field(
        default="pending",
        description="pending, running, done, skipped (already done), failed or interrupted.",
    )
    seconds: float | None = Field(default=None, description="Wall time of the oaieval process.")
    samples: int | None = Field(default=None, description="Samples the eval ran (if known).")
    cache_hits: int | None = Field(
        default=None, description="Calls answered from the sample cache (resumed work)."
    )
    cache_stored: int | None = Field(default=None, description="New answers stored (model calls).")
    final_report: dict[str, Any] | None = Field(default=None, description="evals' final report.")
    error: str | None = Field(default=None, description="Last lines of stderr when failed.")
    scored: int | None = Field(default=None, description="Samples scored (failed ones excluded).")
    invalid: int | None = Field(default=None, description="Scored answers that match no label.")
    failed_samples: int | None = Field(default=None, description="Samples whose call failed.")
    warning: str | None = Field(
        default=None, description="Set when the invalid or failed share passes WARN_SHARE."
    )

    @property
    def useless(self) -> bool:
        """Finished, but every sample was invalid or failed (exit code 3)."""
        bad = (self.invalid or 0) + (self.failed_samples or 0)
        total = (self.scored or 0) + (self.failed_samples or 0)
        return self.status in FINISHED and total > 0 and bad == total

    @property
    def stem(self) -> str:
        return Path(self.log).stem


class RunManifest(BaseModel):
    """``manifest.json`` of a run directory."""

    ftevals_version: str = ftevals.__version__
    evals_version: str | None = None
    git_commit: str | None = None
    models: list[str]
    evals: list[str]
    registries: list[str]
    max_samples: int | None = None
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Engine options of the run: completion args, judge, judge args, label.",
    )
    started_at: str = Field(description="Start of the first attempt in this directory.")
    finished_at: str | None = Field(default=None, description="End of the latest attempt.")
    attempts: int = Field(default=1, description="Times `ftevals run` ran in this directory.")
    pairs: list[PairRecord]


def read_manifest(out_dir: Path) -> RunManifest | None:
    """The manifest of a run directory, or None if it has none (or an unreadable one)."""
    try:
        text = (out_dir / "manifest.json").read_text(encoding="utf-8")
        return RunManifest.model_validate_json(text)
    except (OSError, ValueError):
        return None


FINISHED = ("done", "skipped")
WARN_SHARE = 0.2
"""A finished pair whose invalid + failed share of samples is above this gets a warning."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def _git_commit() -> str | None:
    root = project_registry().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def _evals_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evals")
    except PackageNotFoundError:
        return None


def final_report(log: Path) -> dict[str, Any] | None:
    """The final report of an evals log, or None if the run did not finish."""
    if not log.is_file():
        return None
    with log.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('{"final_report"'):
                report: dict[str, Any] = json.loads(line)["final_report"]
                return report
    return None


def expand_eval_sets(eval_sets: Sequence[str], registries: Sequence[str]) -> list[str]:
    """Eval names of registry eval sets (patterns with ``*`` resolved as evals does)."""
    if not eval_sets:
        return []
    from ftevals import evals_compat

    check_run([], [*registries, project_registry()])  # evals' loader would give a traceback
    registry = evals_compat.registry_class()()
    registry.add_registry_paths([*registries, str(project_registry())])
    names: list[str] = []
    for set_name in eval_sets:
        spec = registry.get_eval_set(set_name)
        if spec is None:
            raise FtevalsError(
                f"eval set {set_name!r} not found in {list(registries) or 'registry/'}"
            )
        names.extend(e for e in spec.evals if e not in names)
    return names


KEYED_OPTIONS = (
    "--completion_args",
    "--ftevals_judge",
    "--ftevals_judge_args",
    "--ftevals_label",
)
"""Engine options a finished pair is keyed on: a pair made with other values runs again."""


def engine_options(
    completion_args: str | None,
    judge: str | None = None,
    judge_args: str | None = None,
    label: str | None = None,
) -> dict[str, str]:
    """The :data:`KEYED_OPTIONS` of a run that are set."""
    values = (completion_args, judge, judge_args if judge else None, label)
    return {k: v for k, v in zip(KEYED_OPTIONS, values, strict=True) if v}


def _spec_settings(log: Path) -> tuple[object, object]:
    """``(max_samples, options)`` a log was made with (``"?"`` if unreadable).

    evals records the child's whole command line in ``run_config.command``.
    """
    from ftevals.harness.logs import command_options

    with log.open(encoding="utf-8") as fh:
        try:
            spec = json.loads(fh.readline()).get("spec", {})
        except (json.JSONDecodeError, AttributeError):
            return "?", "?"
    config = spec.get("run_config") if isinstance(spec, dict) else None
    if not isinstance(config, dict):
        return "?", "?"
    found = command_options(spec)
    options = {option: found[option] for option in KEYED_OPTIONS if found.get(option)}
    return config.get("max_samples"), options


def finished_report(
    log: Path, max_samples: int | None, options: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The final report of a finished log made with the same ``--max-samples`` and
    :data:`KEYED_OPTIONS` (completion args, judge), else None (the pair runs again)."""
    report = final_report(log)
    if report is None or _spec_settings(log) != (max_samples, options or {}):
        return None
    return report


def run_matrix(
    models: Sequence[str],
    evals: Sequence[str],
    out_dir: Path,
    registries: Sequence[str] = (),
    concurrency: int = 1,
    max_samples: int | None = None,
    completion_args: str | None = None,
    on_pair: Callable[[PairRecord], None] | None = None,
    progress: bool = False,
    judge: str | None = None,
    judge_args: str | None = None,
    label: str | None = None,
) -> RunManifest:
    """Run every pair with ``python -m ftevals.harness.engine``.

    Resumable: a pair whose log is finished (same ``max_samples``) is skipped; an interrupted
    pair runs again with its sample cache (``<out_dir>/cache/<pair>.cache``), so the samples
    it answered before are not sent to the model again. At most ``concurrency`` pairs run at
    once. ``progress`` shows a bar over the samples of all pairs (on a terminal). ``judge``
    and ``judge_args`` (``k=v,...``) replace the judge of every model-graded eval. ``label``
    names the (one) model in reports instead of its registry name and selecting args.
    """
    from ftevals.harness.progress import RunProgress

    if not models or not evals:
        raise FtevalsError("give at least one model and one eval")
    if concurrency < 1:
        raise FtevalsError("concurrency must be >= 1")
    if label and len(models) != 1:
        raise FtevalsError(f"--label names one model; got {len(models)} (run each apart)")
    check_run(evals, [*registries, project_registry()])  # bad registry input: one clear error
    check_names(models, evals, registries)  # unknown names: one line each, before any pair
    options = engine_options(completion_args, judge, judge_args, label)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "cache", ".progress"):
        (out_dir / sub).mkdir(exist_ok=True)
    registries = [str(Path(r).resolve()) for r in registries]
    manifest = RunManifest(
        evals_version=_evals_version(),
        git_commit=_git_commit(),
        models=list(models),
        evals=list(evals),
        registries=registries,
        max_samples=max_samples,
        options=options,
        started_at=_now(),
        pairs=[
            PairRecord(model=m, eval=e, log=f"{_safe(m)}__{_safe(e)}.jsonl")
            for m in models
            for e in evals
        ],
    )
    previous = read_manifest(out_dir)
    earlier: dict[tuple[str, str], PairRecord] = {}
    if previous is not None:
        manifest.started_at, manifest.attempts = previous.started_at, previous.attempts + 1
        earlier = {(p.model, p.eval): p for p in previous.pairs if p.status in FINISHED}
    logs = [pair.log for pair in manifest.pairs]
    clashes = sorted({log for log in logs if logs.count(log) > 1})
    if clashes:
        raise FtevalsError(f"model/eval names map to the same log file: {', '.join(clashes)}")
    lock = threading.Lock()

    def save() -> None:
        with lock:
            write_atomic(out_dir / "manifest.json", manifest.model_dump_json(indent=2) + "\n")

    with RunProgress(len(manifest.pairs), enabled=progress) as bar:

        def run_pair(pair: PairRecord) -> None:
            report = finished_report(out_dir / pair.log, max_samples, options)
            if report is not None:
                pair.status, pair.final_report = "skipped", report
                if (before := earlier.get((pair.model, pair.eval))) is not None:
                    pair.seconds, pair.samples = before.seconds, before.samples
                    pair.cache_hits, pair.cache_stored = before.cache_hits, before.cache_stored
                assess(pair, out_dir)
                bar.finish_pair(pair.stem)
            else:
                pair.status = "running"
                save()
                progress_file = out_dir / ".progress" / f"{pair.stem}.progress"
                progress_file.unlink(missing_ok=True)
                bar.start_pair(pair.stem, progress_file)
                _run_one(pair, out_dir, registries, max_samples, options, progress_file)
                seen = bar.finish_pair(pair.stem)
                if seen is not None:
                    pair.samples = seen.total
                    pair.cache_hits, pair.cache_stored = seen.cache_hits, seen.cache_stored
            save()
            if on_pair is not None:
                with bar.external_write():
                    on_pair(pair)

        save()
        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(run_pair, manifest.pairs))
        except KeyboardInterrupt:
            for pair in manifest.pairs:
                if pair.status in ("pending", "running"):
                    pair.status = "interrupted"
            save()
            raise
    manifest.finished_at = _now()
    save()
    return manifest


def _run_one(
    pair: PairRecord,
    out_dir: Path,
    registries: Sequence[str],
    max_samples: int | None,
    options: dict[str, str],
    progress_file: Path,
) -> None:
    partial = out_dir / f".{pair.log}.partial"
    partial.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "ftevals.harness.engine", pair.model, pair.eval]
    cmd += ["--record_path", str(partial)]
    cmd += ["--ftevals_cache", str(out_dir / "cache" / f"{pair.stem}.cache")]
    cmd += ["--ftevals_progress", str(progress_file)]
    for registry in registries:
        cmd += ["--registry_path", registry]
    if max_samples is not None:
        cmd += ["--max_samples", str(max_samples)]
    for option, value in options.items():
        cmd += [option, value]
    stderr_path = out_dir / "logs" / f"{pair.stem}.txt"
    started = time.perf_counter()
    with stderr_path.open("w", encoding="utf-8") as err:
        rc = subprocess.run(cmd, stdout=err, stderr=subprocess.STDOUT, check=False).returncode
    pair.seconds = round(time.perf_counter() - started, 3)
    report = final_report(partial) if rc == 0 else None
    if report is None:
        pair.status = "failed"
        lines = stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        own = [line for line in lines if line.startswith(ERROR_PREFIX)]  # the engine's own
        detail = own[-1] if own else " | ".join(lines[-5:])
        pair.error = f"exit {rc}; see {stderr_path}: {detail}"
        return
    os.replace(partial, out_dir / pair.log)
    pair.status, pair.final_report, pair.error = "done", report, None
    assess(pair, out_dir)


def assess(pair: PairRecord, out_dir: Path) -> None:
    """Count the pair's scored, invalid and failed samples; warn above :data:`WARN_SHARE`."""
    from ftevals.harness.compare import report_log
    from ftevals.harness.logs import read_log

    try:
        row = report_log(read_log(out_dir / pair.log))
    except FtevalsError:
        return  # a log compare cannot score (e.g. no match or graded events): nothing to say
    pair.scored, pair.invalid, pair.failed_samples = row.n, row.invalid, row.failed
    total = row.n + row.failed
    if total and (row.invalid + row.failed) / total > WARN_SHARE:
        pair.warning = (
            f"{row.invalid} invalid and {row.failed} failed of {total} samples "
            f"({(row.invalid + row.failed) / total:.0%}): check the model's answers, the judge "
            f"or the endpoint (see {out_dir / 'logs' / (pair.stem + '.txt')})"
        )
