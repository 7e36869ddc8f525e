"""Contamination check at scale: 100,000 training prompts against 10,000 eval samples.

    .venv/bin/python bench/leakage.py [--train 100000] [--evals 10000] [--no-paraphrase] [--json]

Builds a realistic workload in a temporary directory from public prompts: the safety-classifier
recipe's sources (Do-Not-Answer, HarmBench, StrongREJECT, AdvBench, dolly, MT-Bench; built with
``ftevals data build``), falling back to ../shared/data alone. The base prompts are split 80/20;
training prompts are variations of the 80% (wrappers such as "Please ...", "As a teacher, ...",
two prompts joined, one or two words replaced), written as a chat fine-tuning file; the eval
samples are fresh variations of the other 20% plus planted copies of training prompts (3%
exact, 3% case/punctuation changed, 4% with one word replaced), written as evals samples. Then
:func:`ftevals.converters.leakage.find_leaks` runs twice, with an empty embedding cache and
again with it filled, and the seconds of each stage are printed (reading the files, exact and
normalised, near duplicates, embedding the training and eval prompts, cosine search), with the
planted copies found, the process's CPU time (all threads; it does not grow when other jobs
share the 2 cores, the wall time does) and the 1-minute load average.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WRAPPERS = [
    "{p}",
    "Please {l}",
    "{p} Answer in detail.",
    "I need help with this: {l}",
    "{p} Keep it short.",
    "As a {role}, {l}",
    "Quick question. {p}",
    "{p} Give examples.",
    "Can you help? {p}",
    "{p} Explain it step by step.",
    "My {role} asked me this: {l}",
    "{p} Write the answer as a list.",
]
ROLES = [
    "teacher", "nurse", "student", "journalist", "lawyer", "chemist", "parent", "novelist",
    "security researcher", "police officer", "manager", "programmer", "farmer", "pharmacist",
]  # fmt: skip


def base_prompts(tmp: Path) -> list[str]:
    """Distinct public prompts: the safety-classifier recipe's, else the shared data's."""
    leakage = importlib.import_module("ftevals.converters.leakage")
    texts: list[str] = []
    try:
        from ftevals.recipes import build

        build("safety-classifier", tmp / "registry")
        data = tmp / "registry" / "data" / "safety-classifier"
        for name in ("train.chat.jsonl", "heldout.v1.jsonl"):
            texts += [p.text for p in leakage.read_prompts(data / name)]
    except Exception as exc:  # the packaged sets are optional here
        print(f"(recipe not built: {exc}; using ../shared/data only)", file=sys.stderr)
        texts += [
            p.text
            for p in leakage.read_prompts(
                SHARED / "advbench_harmful_behaviors.csv", text_field="1", header=False
            )
        ]
        texts += [
            p.text
            for p in leakage.read_prompts(
                SHARED / "dolly_safety_only.jsonl", text_field="instruction"
            )
        ]
    return sorted({t.strip() for t in texts if 3 <= len(t.split()) <= 60})


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def vary(rng: random.Random, prompts: list[str], vocab: list[str]) -> str:
    """A wrapped prompt (sometimes two joined), sometimes with a word or two replaced."""
    p = rng.choice(prompts)
    if rng.random() < 0.3:
        p = f"{p} Also, {lower_first(rng.choice(prompts))}"
    words = p.split()
    for _ in range(rng.choice((0, 0, 1, 2))):
        words[rng.randrange(len(words))] = rng.choice(vocab)
    p = " ".join(words)
    return rng.choice(WRAPPERS).format(p=p, l=lower_first(p), role=rng.choice(ROLES))


def renormalise(rng: random.Random, text: str) -> str:
    """The same prompt after case, whitespace and punctuation changes."""
    out = text.upper() if rng.random() < 0.5 else text.lower()
    out = out.replace(",", "").replace("?", " ?!").replace(".", "")
    return "  ".join(out.split(" ")) if rng.random() < 0.5 else out


def workload(tmp: Path, n_train: int, n_evals: int) -> tuple[Path, Path, dict[int, str]]:
    """The training file, the eval samples file and the planted copies (eval line -> kind)."""
    rng = random.Random(0)
    prompts = base_prompts(tmp)
    rng.shuffle(prompts)
    cut = int(len(prompts) * 0.8)
    seen_prompts, unseen_prompts = prompts[:cut], prompts[cut:]
    vocab = sorted({w for p in prompts for w in p.split() if w.isalpha()})
    train: dict[str, None] = {}
    while len(train) < n_train:
        train.setdefault(vary(rng, seen_prompts, vocab), None)
    train_list = list(train)
    evals: list[str] = []
    planted: dict[int, str] = {}
    for kind, share in (("exact", 0.03), ("normalised", 0.03), ("near", 0.04)):
        for _ in range(int(n_evals * share)):
            source = rng.choice(train_list)
            if kind == "normalised":
                source = renormalise(rng, source)
            elif kind == "near":
                words = source.split()
                words[rng.randrange(len(words))] = rng.choice(vocab)
                source = " ".join(words)
            planted[len(evals)] = kind
            evals.append(source)
    while len(evals) < n_evals:
        evals.append(vary(rng, unseen_prompts, vocab))
    order = list(range(len(evals)))
    rng.shuffle(order)
    evals = [evals[k] for k in order]
    planted = {order.index(k): kind for k, kind in planted.items()}
    train_file, eval_file = tmp / "train.chat.jsonl", tmp / "evals.samples.jsonl"
    system = {"role": "system", "content": "You are a safety classifier. Answer safe or unsafe."}
    with train_file.open("w", encoding="utf-8") as fh:
        for text in train_list:
            user, answer = {"role": "user", "content": text}, {"role": "assistant", "content": "x"}
            fh.write(json.dumps({"messages": [system, user, answer]}) + "\n")
    with eval_file.open("w", encoding="utf-8") as fh:
        for text in evals:
            fh.write(json.dumps({"input": [system, {"role": "user", "content": text}]}) + "\n")
    return train_file, eval_file, planted


def run(train_file: Path, eval_file: Path, paraphrase: bool) -> dict[str, object]:
    leakage = importlib.import_module("ftevals.converters.leakage")
    start, cpu = time.perf_counter(), time.process_time()
    train = [p.text for p in leakage.read_prompts(train_file)]
    evals = [p.text for p in leakage.read_prompts(eval_file)]
    timings: dict[str, float] = {"read": round(time.perf_counter() - start, 3)}
    matches = leakage.find_leaks(train, evals, paraphrase=paraphrase, timings=timings)
    timings["total"] = round(time.perf_counter() - start, 3)
    timings["cpu"] = round(time.process_time() - cpu, 3)  # all threads: load-independent
    return {"timings": timings, "matches": matches, "load": os.getloadavg()[0]}


def embed_sample(train_file: Path, eval_file: Path, n: int, quiet: bool) -> list[dict[str, object]]:
    """MiniLM's rate on ``n`` training prompts, extrapolated to every prompt the full check
    embeds, and the full-size cosine search on random unit vectors."""
    import numpy as np

    leakage = importlib.import_module("ftevals.converters.leakage")
    train = [p.text for p in leakage.read_prompts(train_file)]
    evals = [p.text for p in leakage.read_prompts(eval_file)]
    unmatched = len(evals) - len(leakage.find_leaks(train, evals, paraphrase=False))
    sample = random.Random(1).sample(train, min(n, len(train)))
    leakage.embed(sample[:8], cache=False)  # load the model first
    wall, cpu = time.perf_counter(), time.process_time()
    leakage.embed(sample, cache=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    total = len(set(train)) + unmatched
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(train) + unmatched, leakage.EMBED_DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    c_wall, c_cpu = time.perf_counter(), time.process_time()
    for _ in leakage._cosine_pairs(vectors[len(train) :], vectors[: len(train)], 0.8, True):
        pass
    c_wall, c_cpu = time.perf_counter() - c_wall, time.process_time() - c_cpu
    if not quiet:
        print(
            f"  MiniLM float32 on {len(sample):,} training prompts: {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU: {len(sample) / wall:.1f} prompts/s wall, "
            f"{len(sample) / cpu:.1f} per CPU second (load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"  extrapolated to the {total:,} prompts the full check embeds ({len(train):,} "
            f"training, {unmatched:,} unmatched eval): {total * cpu / len(sample):,.0f} s CPU, "
            f"{total * wall / len(sample):,.0f} s wall at this load"
        )
        print(
            f"  cosine search {unmatched:,} x {len(train):,} (random unit vectors): "
            f"{c_wall:.1f} s wall, {c_cpu:.1f} s CPU",
            flush=True,
        )
    return [
        {"name": "MiniLM float32 embedding, prompts per CPU second", "value": len(sample) / cpu,
         "unit": "prompts/s"},
        {"name": f"cosine search {unmatched:,} x {len(train):,}: CPU time", "value": c_cpu,
         "unit": "s"},
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--evals", type=int, default=10_000)
    parser.add_argument("--no-paraphrase", action="store_true", help="skip the embeddings")
    parser.add_argument(
        "--embed-sample",
        type=int,
        metavar="N",
        help="instead of embedding every prompt: the lexical stages at full size, MiniLM on N "
        "training prompts (rate, and the time of all of them extrapolated) and the cosine "
        "search at full size on random unit vectors",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (run_all.py)")
    args = parser.parse_args()
    figures: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="ftevals-bench-") as tmp:
        os.environ["FTEVALS_HOME"] = str(Path(tmp) / "home")  # an empty embedding cache
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        train_file, eval_file, planted = workload(Path(tmp), args.train, args.evals)
        size = f"{args.train:,} training prompts x {args.evals:,} eval samples"
        if not args.json:
            print(size, flush=True)
        runs = ["cold cache", "warm cache"]
        if args.no_paraphrase or args.embed_sample:
            runs = ["no paraphrase"]
        for name in runs:
            result = run(train_file, eval_file, paraphrase=name != "no paraphrase")
            timings = result["timings"]
            assert isinstance(timings, dict)
            matches = result["matches"]
            assert isinstance(matches, list)
            found = {m.eval_index: m.kind for m in matches}
            counts = {
                k: sum(1 for v in found.values() if v == k)
                for k in ("exact", "normalised", "near", "paraphrase")
            }
            strength = {"exact": 0, "normalised": 1, "near": 2, "paraphrase": 3}
            recall = {
                kind: sum(
                    1
                    for e, k in planted.items()
                    if k == kind and e in found and strength[found[e]] <= strength[kind]
                )
                for kind in ("exact", "normalised", "near")
            }
            planted_n = {kind: sum(1 for k in planted.values() if k == kind) for kind in recall}
            figures.append(
                {"name": f"{size}, {name}: total", "value": timings["total"], "unit": "s"}
            )
            figures.append(
                {"name": f"{size}, {name}: CPU time", "value": timings["cpu"], "unit": "s"}
            )
            if args.json:
                continue
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "cpu")
            stages += f"; CPU time {timings['cpu']:.1f} s (both cores)"
            print(f"  {name}: {stages} (load average {result['load']:.1f})")
            print(f"    matches {counts}; planted found {recall} of {planted_n}", flush=True)
        if args.embed_sample:
            figures += embed_sample(train_file, eval_file, args.embed_sample, quiet=args.json)
    if args.json:
        print(json.dumps({"figures": figures, "notes": "no baseline: seconds per check"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
