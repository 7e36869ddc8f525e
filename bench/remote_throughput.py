"""Samples/s of a remote model under the real ``oaieval``: ours against evals' built-in function.

One loopback server (tests/fakes/openai_server.py, in its own process) answers every chat
completion after ``--latency`` seconds (100 ms). The same 900-sample LabelMatch eval runs
under plain ``oaieval`` with ``EVALS_THREADS=32``, once per completion function:

  openai-compatible   ours: one pooled client per function, connections kept alive
  gpt-3.5-turbo       evals' built-in, pointed at the same server with OPENAI_BASE_URL:
                      a new client (and connection) for every call

The limit is threads / latency = 320 samples/s. Samples/s is counted as compare.py does:
samples / (last event time - run start in the log), so process start-up is left out.

    .venv/bin/python bench/remote_throughput.py [--samples 900] [--threads 32] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "fakes" / "openai_server.py"
SAMPLES = ROOT / "registry" / "data" / "prompt-safety" / "test.v1.jsonl"
OAIEVAL = Path(sys.executable).with_name("oaieval")


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, str(SERVER), "--latency", str(latency), "--answer", "safe"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def make_registry(root: Path, n: int) -> None:
    rows = [json.loads(x) for x in SAMPLES.read_text(encoding="utf-8").splitlines() if x.strip()]
    (root / "data").mkdir(parents=True)
    (root / "evals").mkdir()
    data = root / "data" / "samples.jsonl"
    data.write_text(
        "".join(json.dumps(rows[i % len(rows)]) + "\n" for i in range(n)), encoding="utf-8"
    )
    (root / "evals" / "bench.yaml").write_text(
        "bench-remote:\n  id: bench-remote.test.v0\n  metrics: [accuracy]\n"
        "bench-remote.test.v0:\n  class: ftevals.elsuite.classification:LabelMatch\n"
        f"  args: {{samples_jsonl: {data}, labels: [safe, unsafe], max_tokens: 8}}\n",
        encoding="utf-8",
    )


def _time(text: str) -> float:
    """Epoch seconds: events carry UTC offsets, the spec's local time has none."""
    return dt.datetime.fromisoformat(text).timestamp()


def measure(name: str, registry: Path, base_url: str, threads: int, out: Path) -> dict[str, Any]:
    log = out / f"{name.replace('/', '_')}.jsonl"
    cmd = [str(OAIEVAL), name, "bench-remote", "--registry_path", str(ROOT / "registry")]
    cmd += ["--registry_path", str(registry), "--record_path", str(log)]
    if name == "openai-compatible":
        cmd += ["--completion_args", f"base_url={base_url},model=m"]
    env = {
        **os.environ,
        "EVALS_THREADS": str(threads),
        "OPENAI_API_KEY": "sk-bench-not-a-real-key",
        "OPENAI_BASE_URL": base_url,
    }
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=out)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name}: oaieval failed:\n{proc.stderr[-3000:]}")
    rows = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    spec = next(r["spec"] for r in rows if "spec" in r)
    events = [r for r in rows if "type" in r]
    matches = [r for r in events if r["type"] == "match"]
    last = max(_time(r["created_at"]) for r in events)
    seconds = last - _time(spec["created_at"])
    report = next(r["final_report"] for r in rows if "final_report" in r)
    return {
        "name": name,
        "samples": len(matches),
        "seconds": seconds,
        "rate": len(matches) / seconds,
        "wall": wall,
        "accuracy": report.get("accuracy"),
        "failed": report.get("failed", 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=900)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    limit = args.threads / args.latency
    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="ftevals-bench-") as tmp:
            out = Path(tmp)
            make_registry(out / "registry", args.samples)
            results = [
                measure(name, out / "registry", base_url, args.threads, out)
                for name in ("openai-compatible", "gpt-3.5-turbo")
            ]
    finally:
        server.terminate()
        server.wait(timeout=10)
    ours, builtin = results
    if args.json:
        figure = {"name": "openai-compatible (ours)", "value": ours["rate"], "unit": "samples/s"}
        figure.update(baseline_name="evals' gpt-3.5-turbo", baseline=builtin["rate"])
        notes = f"{args.samples} samples, EVALS_THREADS={args.threads}, latency {args.latency}s"
        print(json.dumps({"figures": [figure], "notes": f"{notes}, limit {limit:.0f}/s"}))
        return 0
    print(
        f"{args.samples} samples, EVALS_THREADS={args.threads}, server latency "
        f"{args.latency * 1000:.0f} ms: limit {limit:.0f} samples/s"
    )
    for r in results:
        print(
            f"{r['name']:<18} {r['rate']:7.1f} samples/s  ({r['samples']} samples in "
            f"{r['seconds']:.2f} s, {r['rate'] / limit:4.0%} of limit; process {r['wall']:.1f} s; "
            f"accuracy {r['accuracy']:.3f}, failed {r['failed']})"
        )
    print(f"ratio openai-compatible / gpt-3.5-turbo: {ours['rate'] / builtin['rate']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
