"""The default safety classifier (issue 10): train, then evaluate on held-out sources only.

Every step is an `ftevals` command a user could run by hand:

  1. `ftevals data build safety-classifier`: train on the project's prompts, Do-Not-Answer
     (malicious uses), HarmBench and dolly; test on StrongREJECT, AdvBench, MT-Bench and the
     project's held-out harmful and look-alike prompts (split by source);
  2. `ftevals train --kind classifier --val-fraction 0.15` per variant (the validation split
     is the only data used for selection: early stopping, temperature, threshold);
  3. `ftevals run` (real evals engine, EVALS_THREADS=32) on the held-out evals and the
     registry's prompt-safety test split, then `ftevals compare --json`.

Prints F1(unsafe), precision, recall and AUPRC on the held-out sources, the false-positive
rate on the 200 benign look-alikes, accuracy on prompt-safety, and samples/s as `compare`
measures them (first to last sample, model loading excluded).

    .venv/bin/python bench/safety_classifier.py [--out bench-out/safety]
        [--variants minilm,minilm-l3] [--inference torch:none,onnx:int8] [--skip-train]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FT = [sys.executable, "-m", "ftevals.cli"]
HELDOUT = "safety-classifier-prompt-safety.heldout.v1"
LOOKALIKES = "safety-classifier-prompt-safety.lookalikes.v1"
EVALS = [HELDOUT, LOOKALIKES, "prompt-safety"]

# variant -> extra `ftevals train` flags (all: MiniLM LoRA classifiers)
VARIANTS: dict[str, list[str]] = {
    "minilm": ["--base", "minilm", "--epochs", "3", "--lr", "2e-3", "--max-fpr", "0.05"],
    "minilm-l3": ["--base", "minilm", "--base-layers", "3", "--epochs", "6", "--lr", "2e-3"]
    + ["--max-fpr", "0.05"],
}
PUBLISHED = [
    ("Llama Guard 2 (8B), Meta internal test set", "0.915", "0.974", "0.040"),
    ("OpenAI moderation API, same test set", "0.347", "0.669", "0.030"),
    ("Llama Guard 2 on the OpenAI moderation set", "0.807", "-", "0.060"),
    ("OpenAI moderation API on its own set", "0.788", "-", "0.156"),
]


def sh(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("$", " ".join(cmd[2:] if cmd[:2] == FT[:2] else cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, **(env or {})})


def figures(report: dict[str, Any], variant: str) -> dict[str, Any]:
    rows = {row["eval_name"]: row for row in report["rows"]}
    held = rows[f"{HELDOUT}"]
    look = rows[f"{LOOKALIKES}"]
    plain = next(r for name, r in rows.items() if name.startswith("prompt-safety."))
    unsafe = held["per_class"]["unsafe"]
    look_safe = look["confusion"]["safe"]
    flagged = look_safe.get("unsafe", 0) + look_safe.get("__invalid__", 0)
    return {
        "variant": variant,
        "heldout_n": held["n"],
        "f1_unsafe": unsafe["f1"],
        "precision_unsafe": unsafe["precision"],
        "recall_unsafe": unsafe["recall"],
        "auprc": held["auprc"],
        "lookalike_fpr": flagged / max(1, look["n"]),
        "lookalikes_n": look["n"],
        "prompt_safety_accuracy": plain["accuracy"],
        "samples_per_s": held["samples_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-out/safety")
    parser.add_argument("--variants", default="minilm,minilm-l3")
    parser.add_argument(
        "--inference",
        default="torch:none,onnx:int8",
        help="backend:quantize pairs to evaluate each variant with",
    )
    parser.add_argument("--skip-train", action="store_true", help="reuse OUT/adapters/*")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    out = (ROOT / args.out).resolve()
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "EVALS_THREADS": "32"}
    registry = out / "registry"
    sh([*FT, "data", "build", "safety-classifier", "--out", str(registry)], env)
    train_file = registry / "data/safety-classifier/train.chat.jsonl"
    results = []
    for variant in args.variants.split(","):
        adapter = out / "adapters" / variant
        if not args.skip_train:
            started = time.perf_counter()
            sh(
                [*FT, "train", "--kind", "classifier", "--data", str(train_file)]
                + [*VARIANTS[variant], "--val-fraction", "0.15", "--out", str(adapter), "--quiet"],
                env,
            )
            print(f"trained {variant} in {time.perf_counter() - started:.0f} s", flush=True)
        for pair in args.inference.split(","):
            backend, quantize = pair.split(":")
            run = out / "runs" / f"{variant}-{backend}-{quantize}"
            sh(
                [*FT, "run", "--registry", str(registry), "--models", "hf-classifier"]
                + ["--completion-args", f"adapter={adapter},backend={backend},quantize={quantize}"]
                + ["--evals", ",".join(EVALS), "--out", str(run), "--no-progress"],
                env,
            )
            sh([*FT, "compare", str(run), "--json", str(run / "report.json")], env)
            report = json.loads((run / "report.json").read_text(encoding="utf-8"))
            results.append(figures(report, f"{variant} ({backend}, {quantize})"))
    print()
    print(
        "| classifier | F1(unsafe) | precision | recall | AUPRC | FPR look-alikes "
        "| prompt-safety acc | samples/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['variant']} | {r['f1_unsafe']:.3f} | {r['precision_unsafe']:.3f} "
            f"| {r['recall_unsafe']:.3f} | {r['auprc']:.3f} | {r['lookalike_fpr']:.3f} "
            f"| {r['prompt_safety_accuracy']:.3f} | {r['samples_per_s']:.0f} |"
        )
    for name, f1, auprc, fpr in PUBLISHED:
        print(f"| {name} (published) | {f1} | - | - | {auprc} | {fpr} | - | - |")
    if args.json:
        print(json.dumps({"benchmark": "safety_classifier", "results": results}))


if __name__ == "__main__":
    main()
