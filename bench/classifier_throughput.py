"""Samples/s of the MiniLM LoRA classifier: one call at a time vs dynamic batching.

Both run in the same process on the same prompts (the prompt-safety samples):
  baseline  sequential calls, each a batch of one (what a naive completion function does)
  batched   32 threads calling at once, as evals' worker pool does, gathered by DynamicBatcher
  int8      the same, with the linear layers quantized to int8 (quantize=int8)
Needs the demo's adapter (`make demo`) or --adapter DIR.

    .venv/bin/python bench/classifier_throughput.py [--adapter minilm-safety] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn
from ftevals.jsonl import read_jsonl
from ftevals.paths import project_registry


def run(fn: HFClassifierCompletionFn, prompts: list[object], threads: int) -> float:
    from evals.record import DummyRecorder  # after ftevals, which lets evals import keyless

    recorder = DummyRecorder(None, log=False)

    def call(prompt: object) -> None:
        with recorder.as_default_recorder("bench"):
            fn(prompt)

    started = time.perf_counter()
    if threads == 1:
        for prompt in prompts:
            call(prompt)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(call, prompts))
    return len(prompts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapter", default="minilm-safety")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32, help="callers, as EVALS_THREADS")
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    samples = read_jsonl(project_registry() / "data/prompt-safety/test.v1.jsonl")
    prompts = [s["input"] for s in samples] * args.repeat
    fn = HFClassifierCompletionFn(args.adapter)
    run(fn, prompts[:16], 1)  # warm-up
    baseline = run(fn, prompts, 1)
    batched = run(fn, prompts, args.threads)
    sizes = fn.batcher.batch_sizes[-20:]
    fast = HFClassifierCompletionFn(args.adapter, quantize="int8")
    run(fast, prompts[:16], 1)
    quantized = run(fast, prompts, args.threads)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        figure = {
            "name": f"{args.threads} threads, dynamic batching",
            "value": batched,
            "unit": "samples/s",
        }
        figure.update(baseline_name="sequential calls, batch 1", baseline=baseline)
        int8 = {"name": "same, int8 linear layers", "value": quantized, "unit": "samples/s"}
        int8.update(baseline_name="float32, batched", baseline=batched)
        notes = f"{len(prompts)} prompts, mean batch {sum(sizes) / len(sizes):.1f}, peak RSS "
        print(json.dumps({"figures": [figure, int8], "notes": f"{notes}{peak_mb:.0f} MB"}))
        return
    print(f"prompts: {len(prompts)}  threads: torch={__import__('torch').get_num_threads()}")
    print(f"baseline (sequential, batch 1):   {baseline:8.1f} samples/s")
    print(f"batched ({args.threads} threads, dynamic):   {batched:8.1f} samples/s")
    print(f"batched, int8 linear layers:      {quantized:8.1f} samples/s")
    print(f"ratio batched/baseline:           {batched / baseline:8.2f}x")
    print(f"ratio int8/float32 (batched):     {quantized / batched:8.2f}x")
    print(f"mean batch size (last 20):        {sum(sizes) / len(sizes):8.1f}")
    print(f"peak RSS:                         {peak_mb:8.0f} MB")


if __name__ == "__main__":
    main()
