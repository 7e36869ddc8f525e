"""``ftevals runs``: the run directories (``manifest.json``) under one or more folders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from ftevals.errors import InputError
from ftevals.harness.logs import display_name
from ftevals.harness.run import RunManifest

DEFAULT_ROOT = Path("runs")


class RunSummary(BaseModel):
    """One run directory as ``ftevals runs`` lists it."""

    path: str = Field(description="The run directory.")
    started_at: str | None = None
    finished_at: str | None = Field(
        default=None, description="None while running or if interrupted."
    )
    models: list[str] = Field(default_factory=list)
    evals: list[str] = Field(default_factory=list)
    status: dict[str, int] = Field(default_factory=dict, description="Pairs per status.")
    logs: int = Field(default=0, description="Finished evals logs present in the directory.")
    problem: str | None = Field(default=None, description="Why the manifest could not be read.")


def _summary(manifest_path: Path) -> RunSummary:
    directory = manifest_path.parent
    try:
        manifest = RunManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0][:120]
        return RunSummary(path=str(directory), problem=f"unreadable manifest.json: {reason}")
    logs = sum((directory / pair.log).is_file() for pair in manifest.pairs)
    return RunSummary(
        path=str(directory),
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        models=[display_name(m.split(","), manifest.options) for m in manifest.models],
        evals=manifest.evals,
        status=dict(sorted(Counter(pair.status for pair in manifest.pairs).items())),
        logs=logs,
    )


def list_runs(roots: Sequence[str | Path] = ()) -> list[RunSummary]:
    """Runs under ``roots`` (default ``./runs``), newest first; a root may be a run itself."""
    summaries: list[RunSummary] = []
    seen: set[Path] = set()
    for root in [Path(r) for r in roots] or [DEFAULT_ROOT]:
        if not root.is_dir():
            raise InputError(root, "no such directory")
        for manifest in sorted(root.rglob("manifest.json")):
            if manifest.resolve() not in seen:
                seen.add(manifest.resolve())
                summaries.append(_summary(manifest))
    return sorted(summaries, key=lambda run: run.started_at or "", reverse=True)


def render_runs(runs: Sequence[RunSummary]) -> str:
    """One block of lines per run."""
    if not runs:
        return "no runs found (run directories contain a manifest.json)\n"
    lines: list[str] = []
    for run in runs:
        if run.problem:
            lines += [f"{run.path}", f"  {run.problem}", ""]
            continue
        state = "finished " + str(run.finished_at) if run.finished_at else "unfinished"
        status = ", ".join(f"{name} {count}" for name, count in run.status.items())
        lines += [
            f"{run.path}",
            f"  started {run.started_at}, {state}",
            f"  models: {', '.join(run.models)}",
            f"  evals:  {', '.join(run.evals)}",
            f"  pairs:  {status}; {run.logs} finished logs",
            "",
        ]
    return "\n".join(lines)
