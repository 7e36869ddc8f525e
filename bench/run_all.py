"""Run every benchmark in bench/ with one command and record its figures in BENCHMARKS.md.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--no-write]

Each benchmark runs in its own process with ``--json`` and prints one JSON object as its last
line: ``{"figures": [{"name", "value", "unit", "baseline_name", "baseline"}, ...], "notes"}``,
the baseline (optional) being measured in the same run of the script. ``--quick`` runs them with
smaller sizes. The rows then go to the generated section of BENCHMARKS.md (between
:data:`START` and :data:`END`; appended at the end if missing, the rest of the file untouched):
one row per figure with the benchmark, the command, the machine (CPU model, cores, torch,
Python), the figure, the baseline figure and their ratio. A run replaces the earlier rows of the
benchmarks it ran in the same mode (full or quick) and keeps all other rows; a benchmark that
fails keeps its earlier rows and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START = "<!-- bench:run_all start -->"
END = "<!-- bench:run_all end -->"
DATA = "<!-- bench:run_all rows "  # the rows as JSON, so that a later run can merge into them
TITLE = "## All benchmarks, one command (issue 9 item 6)"


@dataclass(frozen=True)
class Bench:
    """A benchmark script, its arguments, and its smaller arguments for ``--quick``."""

    script: str
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()


BENCHES = [
    Bench("classifier_throughput.py", (), ("--repeat", "1")),
    Bench("data_tools.py", (), ("--rows", "20000", "--small", "0")),
    Bench("leakage.py", (), ("--train", "2000", "--evals", "500")),
    Bench("remote_throughput.py", (), ("--samples", "300")),
    Bench(
        "serve_load.py",
        ("--requests", "16"),
        ("--requests", "8", "--clients", "4", "--max-tokens", "4"),
    ),
]
NOT_RUN = {
    "run_all.py": "this script",
    "fusion_experiment.py": "an experiment (trains and scores adapter fusions for hours), "
    "not a speed benchmark: run it on its own",
    "safety_classifier.py": "trains and evaluates the default safety classifier (issue 10): "
    "quality figures from a long training run, not a speed benchmark; run it on its own",
    "guard_eval.py": "trains the default guard over folds and seeds (issue 16): quality figures "
    "with intervals from long training runs, not a speed benchmark; run it on its own",
    "base_speed.py": "forward speed of candidate guard bases, a one-off measurement for choosing "
    "the base (issue 16); run it on its own",
    "refactor_ab.py": "before/after the runtime refactor (issue 18): two git worktrees, each "
    "side's ONNX export and alternating runs take about 4 minutes; run it on its own",
}


@dataclass
class Row:
    """One figure of one benchmark run."""

    benchmark: str
    mode: str  # full | quick
    command: str
    machine: str
    figure: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline: float | None = None
    date: str = ""
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class Outcome:
    bench: Bench
    command: str
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


def machine() -> str:
    """CPU model, cores, torch version (without importing torch) and Python version."""
    from importlib.metadata import PackageNotFoundError, version

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return f"{model}, {os.cpu_count()} cores, torch {torch}, Python {platform.python_version()}"


def command_of(bench: Bench, quick: bool) -> list[str]:
    return [sys.executable, str(HERE / bench.script), *(bench.quick if quick else bench.args)]


def shown(cmd: Sequence[str]) -> str:
    """The command as a user types it from the repository root."""
    words = [".venv/bin/python" if cmd[0] == sys.executable else cmd[0]]
    for word in cmd[1:]:
        path = Path(word)
        words.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else word)
    return shlex.join(words)


def rows_of(result: dict[str, Any], bench: Bench, mode: str, command: str, where: str) -> list[Row]:
    """Rows from a benchmark's JSON object (see the module docstring)."""
    figures = result.get("figures")
    if not isinstance(figures, list) or not figures:
        raise ValueError("no 'figures' list in the JSON output")
    date = dt.datetime.now(dt.UTC).date().isoformat()
    rows = []
    for figure in figures:
        baseline = figure.get("baseline")
        rows.append(
            Row(
                benchmark=Path(bench.script).stem,
                mode=mode,
                command=command,
                machine=where,
                figure=str(figure["name"]),
                value=float(figure["value"]),
                unit=str(figure.get("unit", "")),
                baseline_name=figure.get("baseline_name"),
                baseline=None if baseline is None else float(baseline),
                date=date,
                notes=str(result.get("notes") or ""),
            )
        )
    return rows


def run_bench(bench: Bench, quick: bool, where: str) -> Outcome:
    cmd = command_of(bench, quick)
    outcome = Outcome(bench, shown(cmd))
    print(f"$ {outcome.command} --json", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    proc = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        outcome.error = f"exit {proc.returncode}: {tail}"
        return outcome
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        mode = "quick" if quick else "full"
        outcome.rows = rows_of(result, bench, mode, outcome.command, where)
        if load is not None:  # other jobs on the machine change the figures
            for row in outcome.rows:
                row.notes = "; ".join(
                    n for n in (f"load average {load:.1f} at start", row.notes) if n
                )
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        outcome.error = f"unreadable output ({type(exc).__name__}: {exc})"
    return outcome


def _number(value: float) -> str:
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"


def render(rows: list[Row]) -> str:
    """The generated section (without the markers): title, table, and the rows as JSON."""
    lines = [
        TITLE,
        "",
        "Generated by `.venv/bin/python bench/run_all.py` (`--quick`: smaller sizes); the baseline",
        "is measured in the same run as the figure, ratio = figure / baseline.",
        "",
        "| benchmark | command | machine | figure | baseline (same run) | ratio | date |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        figure = f"{row.figure}: {_number(row.value)} {row.unit}".strip()
        if row.baseline is not None:
            base = f"{row.baseline_name}: {_number(row.baseline)} {row.unit}".strip()
        else:
            base = "none"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        name = f"{row.benchmark} ({row.mode})"
        cells = [name, f"`{row.command}`", row.machine, figure, base, ratio, row.date]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = {f"{row.benchmark} ({row.mode})": row.notes for row in rows if row.notes}
    if notes:
        lines += ["", "Notes:", ""] + [f"- {name}: {text}" for name, text in notes.items()]
    data = json.dumps([asdict(row) for row in rows], indent=None).replace("--", "\\u002d-")
    lines += ["", f"{DATA}{data} -->"]
    return "\n".join(lines)


def _stored(section: str) -> list[Row]:
    start = section.find(DATA)
    if start < 0:
        return []
    text = section[start + len(DATA) :]
    text = text[: text.rfind("-->")]
    return [Row(**item) for item in json.loads(text)]


def update(text: str, new: list[Row], order: Sequence[str] = ()) -> str:
    """BENCHMARKS.md with the generated section holding ``new`` merged into its rows, sorted
    by ``order`` (benchmark names; others after them by name), then full before quick."""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        section, tail = rest.split(END, 1)
        old = _stored(section)
    else:
        head, tail, old = text.rstrip("\n") + "\n\n", "\n", []
    replaced = {(row.benchmark, row.mode) for row in new}
    kept = [row for row in old if (row.benchmark, row.mode) not in replaced]
    rank = {name: i for i, name in enumerate(order)}
    rows = sorted(kept + new, key=lambda r: (rank.get(r.benchmark, len(rank)), r.benchmark, r.mode))
    return f"{head}{START}\n{render(rows)}\n{END}{tail}"


def main(argv: list[str] | None = None, benches: Sequence[Bench] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", action="append", help="benchmark to run (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print rows, leave the file")
    args = parser.parse_args(argv)
    chosen = list(BENCHES if benches is None else benches)
    order = [Path(b.script).stem for b in chosen]
    if args.only:
        names = {Path(name).stem for name in args.only}
        unknown = names - {Path(b.script).stem for b in chosen}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = [b for b in chosen if Path(b.script).stem in names]
    where = machine()
    print(f"machine: {where}", flush=True)
    outcomes = [run_bench(bench, args.quick, where) for bench in chosen]
    rows = [row for outcome in outcomes for row in outcome.rows]
    for outcome in outcomes:
        if outcome.error:
            print(f"FAILED {Path(outcome.bench.script).name}: {outcome.error}", flush=True)
        for row in outcome.rows:
            ratio = f" ({row.ratio:.2f}x baseline)" if row.ratio is not None else ""
            print(f"  {row.benchmark}: {row.figure}: {_number(row.value)} {row.unit}{ratio}")
    if rows and not args.no_write:
        text = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n"
        args.out.write_text(update(text, rows, order), encoding="utf-8")
        print(f"updated {args.out}")
    return 1 if any(outcome.error for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
