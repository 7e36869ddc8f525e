"""``ftevals sweep``: fuse adapters over a grid, score every candidate on safety and utility.

The grid is combination types x weight vectors x densities (density only for the methods that
use it). Baselines are the base model (causal adapters) and each source adapter alone. Every
candidate is fused and checked (:func:`ftevals.training.fuse.fuse`; a candidate that fails a
check is reported as ``rejected`` and not evaluated), registered as a completion function in
``<out>/registry`` and evaluated on one safety eval and one utility eval of the registry through
the harness (:func:`ftevals.harness.run.run_matrix`, resumable). The metric and its direction
default to the eval's registry entry (``metrics``, ``higher_is_better``). Outputs:
``sweep.csv``, ``sweep.json`` and ``sweep.png`` (safety against utility, Pareto front drawn).

A candidate that answers with empty strings or repetition loops refuses nothing, so a keyword
or attack-success metric scores it as safe: every scored candidate's answers on both evals are
classified (:func:`ftevals.harness.degenerate.answer_kinds`), and a candidate whose share of
empty and degenerate answers passes ``broken_share`` (default
:data:`~ftevals.harness.degenerate.THRESHOLD`, 10%) is marked ``broken`` and kept off the
Pareto front (drawn apart in the plot, listed under ``broken`` in ``sweep.json``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftevals.errors import FtevalsError
from ftevals.experiments.sweep_plot import pareto, plot
from ftevals.harness.degenerate import THRESHOLD
from ftevals.paths import project_registry
from ftevals.training import combine
from ftevals.training.fuse import FuseCheckError, fuse, fused_meta

HF_CAUSAL = "ftevals.completion_fns.hf_causal:HFCausalCompletionFn"
HF_CLASSIFIER = "ftevals.completion_fns.hf_classifier:HFClassifierCompletionFn"


@dataclass
class Axis:
    """An eval scored by one metric of its final report."""

    eval: str
    metric: str
    higher_is_better: bool = True

    @property
    def label(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.eval}: {self.metric} ({better} is better)"


@dataclass
class Candidate:
    """One row of the sweep table."""

    name: str
    role: str = field(metadata={"help": "base, source or fused"})
    method: str | None = None
    weights: list[float] = field(default_factory=list)
    density: float | None = None
    adapter: str | None = None
    status: str = "pending"
    error: str | None = None
    safety: float | None = None
    utility: float | None = None
    approximation: float | None = field(
        default=None, metadata={"help": "max logit distance of the fuse to the exact sum"}
    )
    answers: int | None = field(
        default=None, metadata={"help": "answers read on both evals (failed samples excluded)"}
    )
    empty: int | None = None
    degenerate: int | None = None
    degenerate_share: float | None = field(
        default=None,
        metadata={"help": "(empty + degenerate) / answers; above the threshold: broken"},
    )


@dataclass
class SweepResult:
    candidates: list[Candidate]
    csv: Path
    json: Path
    plot: Path


def eval_axis(
    name: str, metric: str | None, higher: bool | None, registries: Sequence[str] = ()
) -> Axis:
    """Metric and direction: given, else from the eval's registry entry, else accuracy/higher."""
    spec: dict[str, Any] = {}
    for root in [*registries, str(project_registry())]:
        for path in sorted((Path(root) / "evals").glob("*.yaml")):
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(loaded, dict) and isinstance(loaded.get(name), dict):
                spec = loaded[name]
                break
        if spec:
            break
    metrics = spec.get("metrics") or ["accuracy"]
    direction = bool(spec.get("higher_is_better", True)) if higher is None else higher
    return Axis(name, metric or str(metrics[0]), direction)


def _fmt(value: float) -> str:
    return f"{value:g}"


def plan(
    sources: list[combine.Source],
    methods: Sequence[str],
    weight_sets: Sequence[Sequence[float]],
    densities: Sequence[float],
    baselines: bool = True,
) -> list[Candidate]:
    """The candidates of a sweep, baselines first."""
    kind = sources[0].kind
    candidates: list[Candidate] = []
    if baselines:
        if kind == "causal":
            candidates.append(Candidate("base", "base"))
        for i, source in enumerate(sources):
            name = f"source{i}-{source.path.name}"
            candidates.append(Candidate(name, "source", None, [1.0], None, str(source.path)))
    for method in methods:
        if method not in combine.COMBINATIONS:
            raise FtevalsError(f"unknown method {method!r}: {', '.join(combine.COMBINATIONS)}")
        for weights in weight_sets:
            if len(weights) != len(sources):
                raise FtevalsError(f"weights {list(weights)} do not match {len(sources)} adapters")
            uses_density = method in combine.NEEDS_DENSITY
            for density in densities if uses_density else [None]:
                name = f"{method}_w{'_'.join(_fmt(w) for w in weights)}"
                name += f"_d{_fmt(density)}" if density is not None else ""
                candidates.append(Candidate(name, "fused", method, list(weights), density))
    return candidates


def write_registry(
    candidates: list[Candidate], kind: str, base_path: str, fn_args: dict[str, str], root: Path
) -> dict[str, str]:
    """Completion functions ``sweep/<name>`` in ``root/completion_fns/sweep.yaml``."""
    entries: dict[str, Any] = {}
    names: dict[str, str] = {}
    for cand in candidates:
        if cand.status in ("rejected", "error"):
            continue
        if kind == "classifier":
            args = {"adapter": cand.adapter, "base": base_path}
        else:
            args = {"model": base_path, **({"adapters": cand.adapter} if cand.adapter else {})}
        entries[f"sweep/{cand.name}"] = {
            "class": HF_CLASSIFIER if kind == "classifier" else HF_CAUSAL,
            "args": {**args, **fn_args},
        }
        names[cand.name] = f"sweep/{cand.name}"
    (root / "completion_fns").mkdir(parents=True, exist_ok=True)
    (root / "completion_fns" / "sweep.yaml").write_text(
        yaml.safe_dump(entries, sort_keys=False), encoding="utf-8"
    )
    return names


def _fuse_candidate(
    cand: Candidate, sources: list[combine.Source], out: Path, base: str, opts: dict[str, Any]
) -> None:
    target = out / "candidates" / cand.name
    weighted = [
        combine.Source(s.path, w, s.config, s.meta)
        for s, w in zip(sources, cand.weights, strict=True)
    ]
    try:
        if (target / "ftevals.json").is_file() and fused_meta(target).get("checks_passed"):
            meta = fused_meta(target)
        else:
            result = fuse(
                weighted,
                target,
                base=base,
                method=str(cand.method),
                density=cand.density,
                overwrite=True,
                **opts,
            )
            meta = result.meta
    except FuseCheckError as exc:
        cand.status, cand.error = "rejected", str(exc)
        return
    except FtevalsError as exc:
        cand.status, cand.error = "error", str(exc)
        return
    cand.adapter = str(target)
    for check in meta.get("checks", []):
        if check["name"] in ("exact", "approximation"):
            cand.approximation = check["figures"].get("max_logit_diff")


def sweep(
    adapters: Sequence[str],
    out: str | Path,
    *,
    safety: Axis,
    utility: Axis,
    base: str | None = None,
    methods: Sequence[str] = ("linear", "cat", "ties"),
    weight_sets: Sequence[Sequence[float]] = ((0.5, 0.5), (1.0, 1.0)),
    densities: Sequence[float] = (0.5,),
    baselines: bool = True,
    fn_args: dict[str, str] | None = None,
    registries: Sequence[str] = (),
    max_samples: int | None = None,
    concurrency: int = 1,
    fuse_options: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    broken_share: float = THRESHOLD,
) -> SweepResult:
    """Run the sweep; returns the table (also written as CSV, JSON and a PNG plot).
    Candidates with more than ``broken_share`` empty or degenerate answers are ``broken``."""
    from ftevals import extras
    from ftevals.harness.run import run_matrix

    extras.require("plots", "ftevals sweep")

    out = Path(out)
    sources = [combine.parse_source(a) for a in adapters]
    kind = combine.check_sources(sources, "linear", None)
    base_ref, base_path = combine.resolve_base(base, sources)
    candidates = plan(sources, methods, weight_sets, densities, baselines)
    for cand in candidates:
        if cand.role == "fused":
            log(f"fuse {cand.name}")
            _fuse_candidate(cand, sources, out, base_ref, dict(fuse_options or {}))
            if cand.error:
                log(f"  {cand.status}: {cand.error}")
    names = write_registry(candidates, kind, base_path, dict(fn_args or {}), out / "registry")
    if names:
        manifest = run_matrix(
            models=list(names.values()),
            evals=[safety.eval, utility.eval],
            out_dir=out / "run",
            registries=[str(out / "registry"), *registries],
            concurrency=concurrency,
            max_samples=max_samples,
            on_pair=lambda p: log(f"  {p.status:<8} {p.model} x {p.eval}"),
        )
        reports = {(p.model, p.eval): (p.final_report, p.error) for p in manifest.pairs}
        for cand in candidates:
            if cand.name in names:
                _score(cand, names[cand.name], reports, safety, utility)
                logs = [out / "run" / p.log for p in manifest.pairs if p.model == names[cand.name]]
                mark_broken(cand, logs, broken_share)
    return write_outputs(candidates, out, safety, utility, broken_share)


def mark_broken(cand: Candidate, logs: Sequence[Path], threshold: float = THRESHOLD) -> None:
    """Count the empty and degenerate answers of a candidate's logs; a scored candidate whose
    share of them passes ``threshold`` becomes ``broken``. Unreadable logs are skipped."""
    from collections import Counter

    from ftevals.harness.degenerate import answer_kinds
    from ftevals.harness.logs import read_log

    kinds: Counter[str] = Counter()
    for path in logs:
        try:
            kinds += answer_kinds(read_log(path))
        except (FtevalsError, OSError):
            continue
    total = sum(kinds.values())
    if not total:
        return
    cand.answers, cand.empty, cand.degenerate = total, kinds["empty"], kinds["degenerate"]
    cand.degenerate_share = (kinds["empty"] + kinds["degenerate"]) / total
    if cand.status == "done" and cand.degenerate_share > threshold:
        cand.status = "broken"


def broken_line(candidates: Sequence[Candidate], threshold: float = THRESHOLD) -> str | None:
    """The line saying which candidates are broken and kept off the front, or None."""
    broken = [c for c in candidates if c.status == "broken"]
    if not broken:
        return None
    names = ", ".join(f"{c.name} ({c.degenerate_share:.0%})" for c in broken)
    return (
        f"{len(broken)} broken (empty or degenerate answers above {threshold:.0%}), kept off the "
        f"safety/utility front: {names}"
    )


def _score(
    cand: Candidate,
    fn: str,
    reports: dict[tuple[str, str], tuple[dict[str, Any] | None, str | None]],
    safety: Axis,
    utility: Axis,
) -> None:
    errors = []
    for axis, attr in ((safety, "safety"), (utility, "utility")):
        report, error = reports[(fn, axis.eval)]
        if report is None:
            errors.append(f"{axis.eval} failed: {error}")
        elif not isinstance(report.get(axis.metric), int | float):
            errors.append(f"{axis.eval}: no metric {axis.metric!r} in {sorted(report)}")
        else:
            setattr(cand, attr, float(report[axis.metric]))
    cand.status, cand.error = ("failed", "; ".join(errors)) if errors else ("done", None)


def write_outputs(
    candidates: list[Candidate],
    out: Path,
    safety: Axis,
    utility: Axis,
    broken_share: float = THRESHOLD,
) -> SweepResult:
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(c) for c in candidates]
    for row in rows:
        row["weights"] = " ".join(_fmt(w) for w in row["weights"])
    csv_path, json_path, png_path = out / "sweep.csv", out / "sweep.json", out / "sweep.png"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["name"])
        writer.writeheader()
        writer.writerows(rows)
    front = pareto(candidates, safety, utility)
    payload = {
        "safety": asdict(safety),
        "utility": asdict(utility),
        "pareto": [c.name for c in front],
        "broken_share": broken_share,
        "broken": [c.name for c in candidates if c.status == "broken"],
        "candidates": rows,
    }
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    plot(candidates, front, safety, utility, png_path)
    return SweepResult(candidates, csv_path, json_path, png_path)
