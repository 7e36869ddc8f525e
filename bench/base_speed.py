"""Forward-pass speed of candidate guard bases as sequence classifiers (issue 16 item 4).

Loads each base with a fresh two-label head (the speed does not depend on the head's weights)
and scores the registry's prompt-safety test prompts (short requests) in length-sorted batches
of 32 with PyTorch, float32 and dynamic int8, in the same process, so the ratio between bases
holds even when other jobs load the machine. ONNX Runtime int8 (what `ftevals/minilm-safety`
runs) exists for BERT-type encoders only; its figure comes from bench/classifier_throughput.py.

    .venv/bin/python bench/base_speed.py [--bases minilm,smollm2-135m] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from ftevals.completion_fns.base import text_to_classify
from ftevals.jsonl import read_jsonl
from ftevals.paths import project_registry
from ftevals.runtime.loading import load_base_classifier as load_base_model
from ftevals.runtime.loading import load_tokenizer, quantize_int8
from ftevals.runtime.models import resolve_model


def rate(model: object, tokenizer: object, texts: list[str]) -> float:
    import torch

    order = sorted(texts, key=len)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), 32):
            enc = tokenizer(  # type: ignore[operator]
                order[start : start + 32],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            model(**enc)  # type: ignore[operator]
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bases", default="minilm,smollm2-135m")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    samples = read_jsonl(project_registry() / "data/prompt-safety/test.v1.jsonl")
    texts = [text_to_classify(s["input"]) for s in samples] * args.repeat
    results = []
    for base in args.bases.split(","):
        path = resolve_model(base)
        tokenizer = load_tokenizer(path)
        model = load_base_model(path, ["safe", "unsafe"], tokenizer.pad_token_id).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        rate(model, tokenizer, texts[:32])  # warm-up
        fp32 = rate(model, tokenizer, texts)
        int8 = rate(quantize_int8(model), tokenizer, texts)
        results.append({"base": base, "params_m": round(params, 1), "fp32": fp32, "int8": int8})
        print(f"{base}: {params:.0f}M params, float32 {fp32:.1f}/s, int8 {int8:.1f}/s", flush=True)
    print(json.dumps({"benchmark": "base_speed", "prompts": len(texts), "results": results}))


if __name__ == "__main__":
    main()
