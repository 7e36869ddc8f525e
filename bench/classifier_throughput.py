"""Samples/s of the MiniLM LoRA classifier: one call at a time vs dynamic batching.

All run in the same process on the same prompts (the prompt-safety samples):
  baseline      PyTorch float32, sequential calls, each a batch of one (a naive function)
  batched       PyTorch float32, 32 threads calling at once, as evals' worker pool does,
                gathered by DynamicBatcher
  torch int8    the same, linear layers quantized by PyTorch (quantize=int8)
  onnx int8     the same through ONNX Runtime (backend=onnx quantize=int8: fused layers,
                per-channel int8, one batch per core), as ftevals/minilm-safety runs
  onnx direct   predict_batch on the whole list (offline scoring, no callers)
Also prints how many answers ONNX int8 changes against PyTorch float32.
Needs the demo's adapter (`make demo`) or --adapter DIR.

    .venv/bin/python bench/classifier_throughput.py [--adapter minilm-safety] [--repeat 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from ftevals.completion_fns.base import text_to_classify
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
    parser.add_argument("--repeat", type=int, default=4)
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
    torch_int8 = HFClassifierCompletionFn(args.adapter, quantize="int8")
    run(torch_int8, prompts[:16], 1)
    quantized = run(torch_int8, prompts, args.threads)
    onnx = HFClassifierCompletionFn(args.adapter, backend="onnx", quantize="int8")
    run(onnx, prompts[:16], 1)
    onnx_batched = run(onnx, prompts, args.threads)
    sizes = onnx.batcher.batch_sizes[-40:]
    texts = [text_to_classify(p) for p in prompts]  # type: ignore[arg-type]
    started = time.perf_counter()
    onnx_answers = onnx.predict_batch(texts)
    onnx_direct = len(texts) / (time.perf_counter() - started)
    reference = fn.predict_batch(texts)
    changed = sum(a[0] != b[0] for a, b in zip(onnx_answers, reference, strict=True))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        unit = "samples/s"
        figures = [
            {"name": f"{args.threads} threads, dynamic batching", "value": batched, "unit": unit}
            | {"baseline_name": "sequential calls, batch 1", "baseline": baseline},
            {"name": "same, torch int8 linear layers", "value": quantized, "unit": unit}
            | {"baseline_name": "float32, batched", "baseline": batched},
            {"name": "same, ONNX Runtime int8 (registry default)", "value": onnx_batched}
            | {"unit": unit, "baseline_name": "sequential calls, batch 1", "baseline": baseline},
        ]
        notes = (
            f"{len(prompts)} prompts, ONNX mean batch {sum(sizes) / len(sizes):.1f}, "
            f"ONNX direct {onnx_direct:.0f}/s, {changed} answers differ from float32, "
            f"peak RSS {peak_mb:.0f} MB"
        )
        print(json.dumps({"figures": figures, "notes": notes}))
        return
    torch_threads = __import__("torch").get_num_threads()
    print(f"prompts: {len(prompts)}  torch threads: {torch_threads}  onnx workers: {onnx.workers}")
    print(f"baseline (torch, sequential, batch 1): {baseline:8.1f} samples/s")
    print(f"torch float32, {args.threads} threads, dynamic:   {batched:8.1f} samples/s")
    print(f"torch int8, same:                      {quantized:8.1f} samples/s")
    print(f"onnx int8, same (registry default):    {onnx_batched:8.1f} samples/s")
    print(f"onnx int8, direct predict_batch:       {onnx_direct:8.1f} samples/s")
    print(f"ratio onnx batched / baseline:         {onnx_batched / baseline:8.2f}x")
    print(f"ratio onnx / torch int8 (batched):     {onnx_batched / quantized:8.2f}x")
    print(f"onnx mean batch size (last 40):        {sum(sizes) / len(sizes):8.1f}")
    print(f"answers onnx int8 changes vs float32:  {changed:5d} of {len(texts)}")
    print(f"peak RSS:                              {peak_mb:8.0f} MB")


if __name__ == "__main__":
    main()
