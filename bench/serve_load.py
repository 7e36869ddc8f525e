"""Load test of `ftevals serve` on loopback: p50/p95 latency and throughput.

Starts `ftevals serve` as a separate process (so clients and server do not share a GIL),
then sends the prompt-safety prompts as chat completions:
  baseline    one client, one request at a time
  concurrent  --clients threads, each with its own pooled httpx client (bounded concurrency)
Every request must answer 200; any other status is counted and reported.

    .venv/bin/python bench/serve_load.py [--model smollm2-135m] [--clients 8] [--requests 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ftevals.jsonl import read_jsonl
from ftevals.paths import project_registry

KEY_ENV = "SERVE_LOAD_KEY"


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, KEY_ENV: "bench-key", "HF_HUB_OFFLINE": "1"}
    code = "import sys; from ftevals.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--model", args.model, "--port", "0"]
    cmd += ["--max-tokens", str(args.max_tokens), "--batch-size", str(args.clients)]
    cmd += ["--api-key-env", KEY_ENV, "--max-queue", str(4 * args.clients)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "serving ID at URL/v1" once loaded and bound
    if not line.startswith("serving "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    model, url = line.removeprefix("serving ").strip().split(" at ")
    return proc, url, model


def run(url: str, model: str, prompts: list[Any], clients: int) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tokens = 0

    def worker(part: list[Any]) -> None:
        nonlocal tokens
        headers = {"Authorization": "Bearer bench-key"}
        with httpx.Client(base_url=url, headers=headers, timeout=300) as http:
            for prompt in part:
                started = time.perf_counter()
                resp = http.post("/chat/completions", json={"model": model, "messages": prompt})
                latencies.append(time.perf_counter() - started)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code == 200:
                    tokens += resp.json()["usage"]["completion_tokens"]

    parts = [prompts[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, parts))
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=20)
    return {
        "requests": len(latencies),
        "ok": statuses.get(200, 0),
        "p50_s": statistics.median(latencies),
        "p95_s": cuts[18],
        "req_per_s": len(latencies) / wall,
        "tok_per_s": tokens / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=32, help="requests in the concurrent run")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    samples = read_jsonl(project_registry() / "data/prompt-safety/test.v1.jsonl")
    prompts = [s["input"] for s in samples]
    prompts = (prompts * (args.requests // len(prompts) + 1))[: args.requests]
    proc, url, model = start_server(args)
    try:
        run(url, model, prompts[:2], 1)  # warm-up
        base = run(url, model, prompts[: max(8, args.requests // 4)], 1)
        conc = run(url, model, prompts, args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    if args.json:
        one = f"1 client ({base['requests']:.0f} requests)"
        many = f"{args.clients} clients ({conc['requests']:.0f} requests)"
        figures = [
            {"name": f"{many}: throughput", "value": conc["req_per_s"], "unit": "req/s"},
            {"name": f"{many}: p50 latency", "value": conc["p50_s"], "unit": "s"},
            {"name": f"{many}: p95 latency", "value": conc["p95_s"], "unit": "s"},
        ]
        for figure, key in zip(figures, ("req_per_s", "p50_s", "p95_s"), strict=True):
            figure.update(baseline_name=one, baseline=base[key])
        failed = conc["requests"] - conc["ok"] + base["requests"] - base["ok"]
        notes = f"model {model}, max_tokens {args.max_tokens}, {failed:.0f} non-200 answers"
        print(json.dumps({"figures": figures, "notes": notes}))
        return
    print(f"model {model}, max_tokens {args.max_tokens}, loopback, 2 cores")
    for name, r in (("baseline (1 client)", base), (f"concurrent ({args.clients} clients)", conc)):
        print(
            f"{name:24s} {r['ok']:.0f}/{r['requests']:.0f} ok  p50 {r['p50_s']:.3f}s  "
            f"p95 {r['p95_s']:.3f}s  {r['req_per_s']:.2f} req/s  {r['tok_per_s']:.1f} tok/s"
        )
    print(f"throughput ratio concurrent/baseline: {conc['req_per_s'] / base['req_per_s']:.2f}x")


if __name__ == "__main__":
    main()
