"""Samples/s before and after the runtime refactor (issue 18), side by side in one run.

The refactor is commit b09915a ("runtime: one local-model runtime ..."); "before" is its parent
(``--before``, default ``b09915a^``), "after" the current code (``--after``, default ``HEAD``;
``.`` takes this checkout as it is, uncommitted edits included). Each is a detached
``git worktree`` in a temporary directory, removed at the end. Every measurement is a
subprocess of this venv's interpreter with ``PYTHONPATH=<that tree>/src`` (checked: each side
prints its ``ftevals.__file__``, which must lie in its own tree) and that tree's registry.

Two workloads, alternated before/after (A B A B ...) ``--repeat`` times, since other jobs on the
machine change the speed during the run:

  classifier  ``python -m ftevals.cli run --models ftevals/minilm-safety`` (the demo's MiniLM
              LoRA adapter, ``backend=onnx quantize=int8``) on the prompt-safety samples
              repeated to ``--classifier-samples`` (the eval of bench/remote_throughput.py's
              ``make_registry``: LabelMatch, safe/unsafe, as ``prompt-safety``; its 126 samples
              alone take under a second), evals' default threads; a fresh run directory, so
              no sample cache, every time.
  remote      plain ``oaieval openai-compatible`` against the loopback server
              (tests/fakes/openai_server.py, ``--latency`` 0.1 s), ``EVALS_THREADS=32``, the
              same ``--remote-samples`` samples, as bench/remote_throughput.py.

Samples/s is counted as ``ftevals compare`` does: samples / (last event time - run start in
the log), so process start-up and model loading are left out. Each side has its own
``FTEVALS_HOME`` (a copy of the adapter, the converted models linked, no ONNX cache): the
ONNX export is made once per side by an untimed warm-up run before any timed one, and the
script checks that no timed run exported again. Writes ``bench-out/refactor_ab.json``.

    .venv/bin/python bench/refactor_ab.py [--repeat 3] [--before b09915a^] [--after HEAD]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remote_throughput import OAIEVAL, make_registry, start_server

from ftevals import paths

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-out" / "refactor_ab.json"
CLASSIFIER = "ftevals/minilm-safety"
ADAPTER = "minilm-safety"
EVAL = "bench-remote"  # the eval make_registry writes
WORKLOADS = ("classifier", "remote")


@dataclass
class Side:
    """One version of the code: its worktree, its ftevals home and what it imports."""

    name: str  # before | after
    rev: str
    commit: str
    tree: Path
    home: Path
    imported: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("EVALS_THREADS", "FTEVALS_REGISTRY")
        }
        env.update(PYTHONPATH=str(self.tree / "src"), FTEVALS_HOME=str(self.home))
        env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)
        return env

    def exports(self) -> list[str]:
        onnx = self.home / "onnx"
        return sorted(p.name for p in onnx.iterdir()) if onnx.is_dir() else []


def git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def make_side(name: str, rev: str, tmp: Path, adapter: Path) -> Side:
    """A detached worktree of ``rev`` (``.``: this checkout) and a fresh ftevals home."""
    if rev == ".":
        tree, commit = ROOT, git("rev-parse", "HEAD") + " + working tree"
    else:
        commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
        tree = tmp / name
        git("worktree", "add", "--detach", str(tree), commit)
    home = tmp / f"home-{name}"
    shutil.copytree(adapter, home / "adapters" / ADAPTER)
    for sub in ("models", "tiktoken"):  # converted bases and tokenizer files: no model output
        if (paths.home() / sub).is_dir():
            (home / sub).symlink_to(paths.home() / sub)
    side = Side(name, rev, commit, tree, home)
    probe = "import ftevals, evals; print(ftevals.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=side.env(), capture_output=True, text=True, cwd=tmp
    )
    side.imported = proc.stdout.strip()
    print(f"{name:<6} {rev} = {commit[:12]}: ftevals from {side.imported}", flush=True)
    if not Path(side.imported).resolve().is_relative_to((tree / "src").resolve()):
        raise SystemExit(f"{name}: imports ftevals from {side.imported!r}, not {tree / 'src'}")
    return side


def remove_worktree(side: Side) -> None:
    if side.tree != ROOT:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(side.tree)])


def _epoch(text: str) -> float:
    """Epoch seconds of an evals timestamp; the spec's has no offset but is UTC (as compare)."""
    parsed = dt.datetime.fromisoformat(text.strip())
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def rate_of(log: Path) -> dict[str, Any]:
    """Samples, seconds and samples/s of an evals log, counted as ``ftevals compare`` does."""
    rows = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x.strip()]
    spec = next(r["spec"] for r in rows if "spec" in r)
    events = [r for r in rows if "type" in r]
    samples = sum(r["type"] == "match" for r in events)
    seconds = max(_epoch(r["created_at"]) for r in events) - _epoch(spec["created_at"])
    report = next((r["final_report"] for r in rows if "final_report" in r), {})
    return {
        "samples": samples,
        "seconds": round(seconds, 3),
        "rate": samples / seconds,
        "accuracy": report.get("accuracy"),
    }


def classifier_run(side: Side, registry: Path, work: Path, max_samples: int | None) -> Path:
    """``ftevals run`` of the classifier on the bench eval in a new run directory; its log."""
    out = Path(tempfile.mkdtemp(prefix=f"run-{side.name}-", dir=work))
    cmd = [sys.executable, "-m", "ftevals.cli", "run", "--models", CLASSIFIER, "--evals", EVAL]
    cmd += ["--registry", str(registry), "--out", str(out), "--no-progress"]
    if max_samples is not None:
        cmd += ["--max-samples", str(max_samples)]
    proc = subprocess.run(cmd, env=side.env(), capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        raise SystemExit(f"{side.name}: ftevals run failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return out / manifest["pairs"][0]["log"]


def remote_run(side: Side, registry: Path, work: Path, base_url: str, threads: int) -> Path:
    """Plain ``oaieval openai-compatible`` on the bench eval, as remote_throughput.py; its log."""
    log = Path(tempfile.mkstemp(prefix=f"remote-{side.name}-", suffix=".jsonl", dir=work)[1])
    cmd = [str(OAIEVAL), "openai-compatible", EVAL, "--registry_path", str(side.tree / "registry")]
    cmd += ["--registry_path", str(registry), "--record_path", str(log)]
    cmd += ["--completion_args", f"base_url={base_url},model=m"]
    env = side.env(
        EVALS_THREADS=str(threads),
        OPENAI_API_KEY="sk-bench-not-a-real-key",
        OPENAI_BASE_URL=base_url,
    )
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        raise SystemExit(f"{side.name}: oaieval failed:\n{proc.stderr[-3000:]}")
    return log


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per workload: the median of each side, after / before, and every run's samples/s."""
    rows = []
    for workload in WORKLOADS:
        rates = {
            side: [r["rate"] for r in runs if r["workload"] == workload and r["side"] == side]
            for side in ("before", "after")
        }
        if not rates["before"] or not rates["after"]:
            continue
        before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
        rows.append(
            {
                "workload": workload,
                "before_median": before,
                "after_median": after,
                "ratio": after / before,
                "before_runs": rates["before"],
                "after_runs": rates["after"],
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def runs(values: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    lines = [
        "| workload | before median (samples/s) | after median | after / before "
        "| before runs | after runs |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['before_median']:.1f} | {r['after_median']:.1f} "
            f"| {r['ratio']:.2f} | {runs(r['before_runs'])} | {runs(r['after_runs'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="before/after pairs per workload")
    parser.add_argument("--before", default="b09915a^")
    parser.add_argument("--after", default="HEAD", help="a revision, or . for this checkout")
    parser.add_argument("--adapter", type=Path, default=paths.adapters_dir() / ADAPTER)
    parser.add_argument("--classifier-samples", type=int, default=2016, help="126 x 16")
    parser.add_argument("--remote-samples", type=int, default=900)
    parser.add_argument("--threads", type=int, default=32, help="EVALS_THREADS for remote")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    if not (args.adapter / "ftevals.json").is_file():
        raise SystemExit(f"no adapter at {args.adapter} (make demo, or --adapter DIR)")
    started, load_start = time.perf_counter(), uptime()
    print(f"load at start: {load_start}", flush=True)
    runs: list[dict[str, Any]] = []
    sides: list[Side] = []
    tmp = Path(tempfile.mkdtemp(prefix="ftevals-ab-"))
    server, base_url = start_server(args.latency)
    try:
        sides = [
            make_side("before", args.before, tmp, args.adapter),
            make_side("after", args.after, tmp, args.adapter),
        ]
        registries = {"classifier": tmp / "reg-classifier", "remote": tmp / "reg-remote"}
        make_registry(registries["classifier"], args.classifier_samples)
        make_registry(registries["remote"], args.remote_samples)
        warmup: dict[str, Any] = {}
        for side in sides:  # untimed: the ONNX export (once per side), disk caches
            t0 = time.perf_counter()
            classifier_run(side, registries["classifier"], tmp, 64)
            exported = time.perf_counter() - t0
            remote_run(side, registries["remote"], tmp, base_url, args.threads)
            warmup[side.name] = {"classifier_wall_s": round(exported, 1), "onnx": side.exports()}
            print(
                f"{side.name:<6} warm-up: export + 64 samples {exported:.1f} s, "
                f"onnx cache {side.exports()}",
                flush=True,
            )
        for i in range(args.repeat):
            for workload in WORKLOADS:
                for side in sides:
                    t0 = time.perf_counter()
                    if workload == "classifier":
                        log = classifier_run(side, registries["classifier"], tmp, None)
                    else:
                        log = remote_run(side, registries["remote"], tmp, base_url, args.threads)
                    run = {"round": i + 1, "workload": workload, "side": side.name}
                    run |= rate_of(log) | {"wall_s": round(time.perf_counter() - t0, 1)}
                    run["load1"] = round(os.getloadavg()[0], 2)
                    runs.append(run)
                    print(
                        f"round {i + 1} {workload:<10} {side.name:<6} {run['rate']:7.1f} "
                        f"samples/s ({run['samples']} in {run['seconds']:.2f} s, process "
                        f"{run['wall_s']:.1f} s, accuracy {run['accuracy']}, load {run['load1']})",
                        flush=True,
                    )
        for side in sides:
            if side.exports() != warmup[side.name]["onnx"]:
                raise SystemExit(f"{side.name}: a timed run exported ONNX again: {side.exports()}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        for side in sides:
            remove_worktree(side)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"])
    rows = summary(runs)
    load_end = uptime()
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "sides": [
            {"name": s.name, "rev": s.rev, "commit": s.commit, "ftevals": s.imported} for s in sides
        ],
        "classifier": f"ftevals run {CLASSIFIER} (onnx int8), {args.classifier_samples} samples",
        "remote": f"oaieval openai-compatible, {args.remote_samples} samples, "
        f"EVALS_THREADS={args.threads}, latency {args.latency}s",
        "load_start": load_start,
        "load_end": load_end,
        "warmup": warmup,
        "summary": rows,
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        figures = [
            {"name": f"{r['workload']}, after the refactor", "value": r["after_median"]}
            | {"unit": "samples/s", "baseline_name": "before", "baseline": r["before_median"]}
            for r in rows
        ]
        notes = f"medians of {args.repeat} alternating runs; {load_start}"
        print(json.dumps({"figures": figures, "notes": notes}))
        return 0
    print(table(rows))
    print(f"load at end: {load_end}")
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
