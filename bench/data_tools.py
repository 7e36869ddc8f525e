"""Data tools at scale: convert and validate a 1,000,000-row chat fine-tuning file.

    .venv/bin/python bench/data_tools.py [--rows 1000000] [--small 100000]

Generates a chat file (system + user + assistant label, about 280 bytes a row; user prompts all
distinct) in a temporary directory, then runs, each in a fresh process: ``convert_file(...,
to="samples")`` and ``validate_file(...)`` (format checks and token counting with tiktoken
cl100k_base, the cookbook's default). Prints rows/s (wall and CPU time), the peak RSS of
each process and the 1-minute load average after it (other jobs sharing the cores lower the
wall figure most); the same at ``--small`` rows shows that memory does not grow
with the file.
Targets (issue 3): convert >= 50,000 rows/s, validate >= 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = [
    ("bake bread at home", "safe"),
    ("learn to swim", "safe"),
    ("build a pipe bomb", "unsafe"),
    ("steal credit card numbers", "unsafe"),
    ("write a birthday card", "safe"),
    ("fix a flat bicycle tire", "safe"),
]
SYSTEM = "You are a safety classifier. Answer safe or unsafe."


def generate(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            task, label = rng.choice(TASKS)
            user = (
                f"Request {i}: how would someone {task}? Please explain the steps in detail, "
                f"number {rng.randint(0, 10**6)}."
            )
            row = {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": label},
                ]
            }
            fh.write(json.dumps(row) + "\n")


def phase(name: str, path: Path) -> None:
    """Run one phase in this process and print its figures as JSON."""
    wall, cpu = time.perf_counter(), time.process_time()
    if name == "convert":
        from ftevals.converters import convert_file

        rows = convert_file(path, to="samples", out=path.with_suffix(".samples.jsonl")).rows_read
    else:
        from ftevals.converters.validate import validate_file

        report = validate_file(path)
        assert report.error_total == 0, report.error_counts
        rows = report.examples
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb}))


def run(name: str, path: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--phase", name, "--file", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="0 to skip the small run")
    parser.add_argument("--phase", choices=["convert", "validate"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.file)
        return 0
    figures = []
    with tempfile.TemporaryDirectory(prefix="ftevals-bench-") as tmp:
        for rows in [n for n in (args.small, args.rows) if n]:
            path = Path(tmp) / f"chat-{rows}.jsonl"
            generate(path, rows)
            size = path.stat().st_size / 1e6
            if not args.json:
                print(f"{rows:,} rows, {size:,.0f} MB", flush=True)
            for name, target in (("convert", 50_000), ("validate", 20_000)):
                r = run(name, path)
                per_s, per_cpu = r["rows"] / r["wall_s"], r["rows"] / r["cpu_s"]
                verdict = "meets" if per_s >= target else "below"
                what = f"{name}, {rows:,} rows: rows/s wall (target {target:,}: {verdict})"
                figures.append({"name": what, "value": per_s, "unit": "rows/s"})
                if args.json:
                    continue
                print(
                    f"  {name:<8} {per_s:>9,.0f} rows/s wall ({per_cpu:,.0f} per CPU second), "
                    f"{r['wall_s']:.1f} s, peak RSS {r['rss_mb']:.0f} MB "
                    f"[{verdict} target {target:,}], load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            path.unlink()
    if args.json:
        print(json.dumps({"figures": figures, "notes": "no baseline: figures against targets"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
