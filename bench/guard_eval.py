"""Honest evaluation of the default guard (issue 16 item 3).

Reads the `guard` recipe (`ftevals data build guard`; built into OUT/registry when missing)
and reports, beside a majority-class baseline, a TF-IDF logistic regression (word 1-2 grams,
no tuning) and logistic regression on frozen MiniLM-L6 sentence embeddings, all trained on
the same training rows:

  * cross-validation on the training side only: leave-one-source-out (every training source)
    and leave-one-category-out (every policy category): the fast models on every fold, the
    fine-tuned guard on the folds named by --guard-folds (1 epoch, seed 0, PyTorch float32);
  * the test sets, unless --no-test: the frozen guard test sets (requests, content) and the
    held-out sources; overall, per category and per form: n, F1(unsafe), precision, recall,
    false-positive rate on safe items and AUPRC, each with a 95% interval (Wilson for
    proportions, a seeded bootstrap over samples for F1 and AUPRC). The guard is trained once
    per seed (--seeds) with the demo's flags and run with ONNX Runtime int8, as
    `ftevals/minilm-safety` runs; its row is the mean over seeds (seed range beside it; the
    interval is the mean of the per-seed intervals).

Metrics come from scikit-learn and SciPy. Writes OUT/guard_eval.json and OUT/guard_eval.md.

    .venv/bin/python bench/guard_eval.py --out bench-out/guard [--seeds 0,1,2]
        [--no-test] [--skip-train] [--guard-folds source:dolly,category:hate | all]
        [--train-args "--epochs 1 ..."] [--no-frozen]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FT = [sys.executable, "-m", "ftevals.cli"]
POSITIVE = "unsafe"
TEST_SETS = ("requests", "content", "heldout")
GUARD_ARGS = (
    "--base minilm --epochs 1 --lr 2e-3 --max-length 128 --val-fraction 0.15 --max-fpr 0.05"
)
"""`ftevals train` flags of the guard (as scripts/demo.sh trains ftevals/minilm-safety)."""
RESAMPLES = 1000
SEED = 20260
SMALL = 20
"""Groups with fewer items are marked as too small to read."""

Row = dict[str, Any]
Scores = list[float]
Model = Callable[[list[Row], list[Row]], Scores]
"""(train rows, rows to score) -> P(unsafe) of each row to score."""


# ---------------------------------------------------------------- data


def load_rows(registry: Path) -> tuple[list[Row], dict[str, list[Row]]]:
    """Training rows and test rows as {"text", "label", **metadata}."""
    from ftevals.jsonl import read_jsonl

    folder = registry / "data" / "guard"
    train = []
    for row in read_jsonl(folder / "train.chat.jsonl"):
        messages = row["messages"]
        text = next(m["content"] for m in messages if m["role"] == "user")
        train.append({**row["metadata"], "text": text, "label": messages[-1]["content"]})
    tests = {}
    for name in TEST_SETS:
        if not (folder / f"{name}.classify.v1.jsonl").is_file():
            continue
        tests[name] = [
            {**s["metadata"], "text": s["input"][-1]["content"], "label": s["ideal"]}
            for s in read_jsonl(folder / f"{name}.classify.v1.jsonl")
        ]
    return train, tests


def sh(cmd: list[str]) -> None:
    print("$", " ".join(cmd[2:] if cmd[:2] == FT[:2] else cmd), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


# ---------------------------------------------------------------- metrics


def wilson(k: int, n: int) -> dict[str, Any]:
    """A proportion with its 95% Wilson interval (None when n is 0)."""
    from scipy.stats import binomtest

    if n == 0:
        return {"value": None, "low": None, "high": None, "k": 0, "n": 0}
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"value": k / n, "low": float(ci.low), "high": float(ci.high), "k": k, "n": n}


def bootstrap(
    metric: Callable[[Any, Any], float], y: Any, s: Any, seed: int = SEED
) -> dict[str, Any]:
    """A metric with a seeded percentile bootstrap interval over samples (resamples that
    lack a positive or a negative are skipped)."""
    import numpy as np

    value = float(metric(y, s))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(RESAMPLES):
        idx = rng.integers(0, len(y), len(y))
        yy = y[idx]
        if yy.min() == yy.max():
            continue
        values.append(metric(yy, s[idx]))
    low, high = np.percentile(values, [2.5, 97.5]) if values else (None, None)
    return {"value": value, "low": _f(low), "high": _f(high), "n": len(y)}


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def score(
    labels: Sequence[str], p_unsafe: Sequence[float], threshold: float = 0.5, intervals: bool = True
) -> Row:
    """n, F1(unsafe), precision, recall, FPR on safe, accuracy and AUPRC with 95% intervals
    (``intervals=False``: F1 and AUPRC without their bootstrap, for cross-validation tables)."""
    import numpy as np
    from sklearn.metrics import average_precision_score, confusion_matrix, f1_score

    y = np.array([label == POSITIVE for label in labels], dtype=int)
    s = np.asarray(p_unsafe, dtype=float)
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    both = 0 < y.sum() < len(y)
    out: Row = {
        "n": len(y),
        "n_unsafe": int(y.sum()),
        "n_safe": int(len(y) - y.sum()),
        "small": len(y) < SMALL,
        "precision": wilson(tp, tp + fp),
        "recall": wilson(tp, tp + fn),
        "fpr": wilson(fp, fp + tn),
        "accuracy": wilson(tp + tn, len(y)),
    }

    def f1(yy: Any, ss: Any) -> float:
        return float(f1_score(yy, (ss >= threshold).astype(int), zero_division=0))

    def point(metric: Callable[[Any, Any], float], yy: Any, ss: Any) -> dict[str, Any]:
        return {"value": float(metric(yy, ss)), "low": None, "high": None, "n": len(yy)}

    interval = bootstrap if intervals else point
    out["f1"] = interval(f1, y, s) if y.sum() else None
    out["auprc"] = interval(average_precision_score, y, s) if both else None
    return out


def by_field(rows: list[Row], scores: Scores, field: str, threshold: float) -> dict[str, Row]:
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(str(row.get(field) or "-"), []).append(i)
    return {
        name: score([rows[i]["label"] for i in idx], [scores[i] for i in idx], threshold)
        for name, idx in sorted(groups.items())
    }


def report(rows: list[Row], scores: Scores, threshold: float = 0.5) -> Row:
    """Overall, per category and per form."""
    labels = [r["label"] for r in rows]
    return {
        "overall": score(labels, scores, threshold),
        "category": by_field(rows, scores, "category", threshold),
        "form": by_field(rows, scores, "form", threshold),
    }


# ---------------------------------------------------------------- models


def majority(train: list[Row], rows: list[Row]) -> Scores:
    """The majority training label for everyone; its score, the training positive rate, is
    constant, so its AUPRC is the positive rate of the scored rows (the floor)."""
    counts = Counter(r["label"] for r in train)
    p = counts[POSITIVE] / max(1, len(train))
    unsafe = counts[POSITIVE] > len(train) - counts[POSITIVE]
    # a constant score: >= 0.5 exactly when the majority is unsafe
    return [max(p, 0.5) if unsafe else min(p, 0.49)] * len(rows)


def tfidf_lr(train: list[Row], rows: list[Row]) -> Scores:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, scikit-learn defaults."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=2000),
    )
    model.fit([r["text"] for r in train], [r["label"] == POSITIVE for r in train])
    return [float(p) for p in model.predict_proba([r["text"] for r in rows])[:, 1]]


class FrozenMiniLM:
    """Logistic regression on frozen all-MiniLM-L6-v2 sentence embeddings (mean pooling,
    normalised), the capacity hint of issue 16; embeddings cached by text."""

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}

    def embed(self, texts: list[str]) -> Any:
        import numpy as np
        import torch
        from transformers import AutoModel, AutoTokenizer

        from ftevals.runtime.models import resolve_model

        todo = sorted({t for t in texts if t not in self.cache}, key=len)
        if todo:
            path = resolve_model("minilm")
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path).eval()
            with torch.inference_mode():
                for start in range(0, len(todo), 64):
                    part = todo[start : start + 64]
                    enc = tokenizer(
                        part, padding=True, truncation=True, max_length=128, return_tensors="pt"
                    )
                    hidden = model(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).float()
                    pooled = (hidden * mask).sum(1) / mask.sum(1)
                    pooled = torch.nn.functional.normalize(pooled, dim=-1)
                    for text, vec in zip(part, pooled.numpy(), strict=True):
                        self.cache[text] = vec
        return np.stack([self.cache[t] for t in texts])

    def __call__(self, train: list[Row], rows: list[Row]) -> Scores:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=2000)
        model.fit(self.embed([r["text"] for r in train]), [r["label"] == POSITIVE for r in train])
        return [float(p) for p in model.predict_proba(self.embed([r["text"] for r in rows]))[:, 1]]


def write_train(rows: list[Row], path: Path) -> Path:
    from ftevals.jsonl import write_jsonl
    from ftevals.recipes.evals import prompt_safety_system

    system = prompt_safety_system()
    write_jsonl(
        path,
        [
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": r["text"]},
                    {"role": "assistant", "content": r["label"]},
                ]
            }
            for r in rows
        ],
    )
    return path


def train_guard(train_file: Path, adapter: Path, seed: int, flags: str) -> float:
    """Train with `ftevals train`; returns seconds."""
    started = time.perf_counter()
    sh(
        [*FT, "train", "--kind", "classifier", "--data", str(train_file), "--out", str(adapter)]
        + [*shlex.split(flags), "--seed", str(seed), "--quiet"]
    )
    return time.perf_counter() - started


def guard_scores(adapter: Path, rows: list[Row], backend: str = "onnx") -> tuple[Scores, float]:
    """P(unsafe) (calibrated) of each row, and the adapter's decision threshold."""
    from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn

    fn = HFClassifierCompletionFn(
        str(adapter), backend=backend, quantize="int8" if backend == "onnx" else "none"
    )
    answers = fn.predict_batch([r["text"] for r in rows])
    threshold = fn.calibration.threshold if fn.calibration else None
    return [probs[POSITIVE] for _, probs, _ in answers], float(threshold or 0.5)


# ---------------------------------------------------------------- cross-validation


def folds(train: list[Row]) -> list[tuple[str, str, list[Row], list[Row]]]:
    """(kind, name, fold train, fold test): leave one source out, leave one category out."""
    from ftevals.recipes.guard import CATEGORIES

    out = []
    for source in sorted({r["source"] for r in train}):
        inside = [r for r in train if r["source"] != source]
        out.append(("source", source, inside, [r for r in train if r["source"] == source]))
    for category in CATEGORIES:
        held = [r for r in train if r["category"] == category]
        if held:
            rest = [r for r in train if r["category"] != category]
            out.append(("category", category, rest, held))
    return out


def cross_validate(
    train: list[Row], models: dict[str, Model], guard_folds: set[str], out: Path, flags: str
) -> list[Row]:
    results = []
    for kind, name, inside, held in folds(train):
        labels = [r["label"] for r in held]
        row: Row = {"kind": kind, "fold": name, "n": len(held), "models": {}}
        for model_name, model in models.items():
            row["models"][model_name] = score(labels, model(inside, held), intervals=False)
        if f"{kind}:{name}" in guard_folds or "all" in guard_folds:
            folder = out / "folds" / f"{kind}-{name}"
            timing = folder / "train_seconds.txt"
            if not timing.is_file():  # a fold trained by an earlier (interrupted) run is kept
                seconds = train_guard(
                    write_train(inside, folder / "train.chat.jsonl"),
                    folder / "adapter",
                    0,
                    _one_epoch(flags),
                )
                timing.write_text(f"{round(seconds)}\n", encoding="utf-8")
            scores, threshold = guard_scores(folder / "adapter", held, backend="torch")
            row["models"]["guard (1 epoch)"] = score(labels, scores, threshold)
            row["guard_train_s"] = int(timing.read_text(encoding="utf-8"))
        results.append(row)
        print(f"fold {kind}:{name} n={len(held)} done", flush=True)
    return results


def _one_epoch(flags: str) -> str:
    parts = shlex.split(flags)
    if "--epochs" in parts:
        parts[parts.index("--epochs") + 1] = "1"
    else:
        parts += ["--epochs", "1"]
    return shlex.join(parts)


# ---------------------------------------------------------------- validation (model choice)


def validation_split(adapter: Path) -> tuple[list[Row], list[Row]]:
    """(train side, validation side) of an adapter's own training file, split as the trainer
    split it (hash of the normalised text, seeded by the adapter's seed)."""
    from ftevals.converters.formats import normalise_text
    from ftevals.jsonl import read_jsonl
    from ftevals.runtime.meta import read_meta
    from ftevals.training.common import validation_side
    from ftevals.training.config import TrainConfig

    config = TrainConfig.from_dict(read_meta(adapter).config)
    rows = []
    for row in read_jsonl(config.data):
        messages = row["messages"]
        text = next(m["content"] for m in messages if m["role"] == "user")
        rows.append({**row.get("metadata", {}), "text": text, "label": messages[-1]["content"]})
    val = [r for r in rows if validation_side(normalise_text(r["text"]), config)]
    keys = {id(r) for r in val}
    return [r for r in rows if id(r) not in keys], val


def validate(adapters: list[Path], backend: str) -> tuple[Row, list[str]]:
    """Each adapter and a TF-IDF LR on the adapter's own validation split (training side
    only): overall, per category and per form."""
    results: Row = {}
    md = ["\n## Validation splits (training side; used to choose the model)"]
    for adapter in adapters:
        train, val = validation_split(adapter)
        scores, threshold = guard_scores(adapter, val, backend=backend)
        per = {adapter.name: {"validation": report(val, scores, threshold)}}
        per["TF-IDF LR"] = {"validation": report(val, tfidf_lr(train, val))}
        results[adapter.name] = per
        md += [f"\n### {adapter.name} ({len(val)} validation rows)"]
        lines = overall_table_for(per, "validation")
        md += lines
        for field in ("form", "category"):
            md += group_table(per, "validation", field, list(per))
    return results, md


# ---------------------------------------------------------------- tables


def cell(m: Row | None, digits: int = 3) -> str:
    if not m or m.get("value") is None:
        return "-"
    if m.get("low") is None:
        return f"{m['value']:.{digits}f}"
    return f"{m['value']:.{digits}f} [{m['low']:.2f}, {m['high']:.2f}]"


def mean_of(reports: list[Row]) -> Row:
    """Mean over seeds of each metric (value and interval bounds), with the seeds' range."""
    first = reports[0]
    out: Row = {k: first[k] for k in ("n", "n_unsafe", "n_safe", "small")}
    for key in ("f1", "precision", "recall", "fpr", "accuracy", "auprc"):
        parts = [r[key] for r in reports if r.get(key) and r[key].get("value") is not None]
        if not parts:
            out[key] = None
            continue
        merged: Row = {}
        for bound in ("value", "low", "high"):
            values = [p[bound] for p in parts if p.get(bound) is not None]
            merged[bound] = sum(values) / len(values) if values else None
        merged["seed_min"] = min(p["value"] for p in parts)
        merged["seed_max"] = max(p["value"] for p in parts)
        out[key] = merged
    return out


def seeds_cell(m: Row | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    spread = ""
    if "seed_min" in m and m["seed_max"] - m["seed_min"] > 0.0005:
        spread = f" ({m['seed_min']:.3f}-{m['seed_max']:.3f})"
    return cell(m) + spread


def overall_table(results: dict[str, Row]) -> list[str]:
    lines = []
    for test in TEST_SETS:
        if test in next(iter(results.values())):
            lines += overall_table_for(results, test)
    return lines


def overall_table_for(results: dict[str, Row], test: str) -> list[str]:
    lines = [
        f"\n### {test}\n",
        "| model | n (unsafe) | F1(unsafe) | precision | recall | FPR on safe | AUPRC |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, per_test in results.items():
        m = per_test[test]["overall"]
        lines.append(
            f"| {model} | {m['n']} ({m['n_unsafe']}) | {seeds_cell(m['f1'])} "
            f"| {seeds_cell(m['precision'])} | {seeds_cell(m['recall'])} "
            f"| {seeds_cell(m['fpr'])} | {seeds_cell(m['auprc'])} |"
        )
    return lines


def group_table(results: dict[str, Row], test: str, field: str, models: list[str]) -> list[str]:
    head = (
        "| "
        + field
        + " | n unsafe / safe | "
        + " | ".join(f"{m}: recall | {m}: FPR | {m}: F1 | {m}: AUPRC" for m in models)
    )
    lines = [
        f"\n### {test}, by {field}\n",
        head + " |",
        "|---|---|" + "---|" * (4 * len(models)),
    ]
    groups = results[models[0]][test][field]
    for name, first in groups.items():
        small = " (small)" if first["small"] else ""
        cells = []
        for model in models:
            m = results[model][test][field][name]
            cells += [cell(m["recall"]), cell(m["fpr"]), cell(m["f1"]), cell(m["auprc"])]
        lines.append(
            f"| {name}{small} | {first['n_unsafe']} / {first['n_safe']} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def cv_table(results: list[Row]) -> list[str]:
    models = list(dict.fromkeys(m for r in results for m in r["models"]))
    lines = [
        "\n### cross-validation on the training side (left-out fold: F1 / recall / FPR / AUPRC)\n",
        "| fold | n (unsafe) | " + " | ".join(models) + " |",
        "|---|---|" + "---|" * len(models),
    ]
    for r in results:
        first = next(iter(r["models"].values()))
        cells = []
        for model in models:
            m = r["models"].get(model)
            if m is None:
                cells.append("")
                continue
            f1 = f"{m['f1']['value']:.2f}" if m["f1"] else "-"
            rec = f"{m['recall']['value']:.2f}" if m["recall"]["value"] is not None else "-"
            fpr = f"{m['fpr']['value']:.2f}" if m["fpr"]["value"] is not None else "-"
            ap = f"{m['auprc']['value']:.2f}" if m["auprc"] else "-"
            cells.append(f"{f1} / {rec} / {fpr} / {ap}")
        lines.append(
            f"| {r['kind']}: {r['fold']} | {r['n']} ({first['n_unsafe']}) | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def cv_guard_table(results: list[Row]) -> list[str]:
    """The fine-tuned guard's folds with 95% intervals (Wilson for recall and FPR, bootstrap
    for F1 and AUPRC) beside the TF-IDF baseline's point figures."""
    name = "guard (1 epoch)"
    rows = [r for r in results if name in r["models"]]
    if not rows:
        return []

    def cell(figure: Row | None) -> str:
        if not figure or figure.get("value") is None:
            return "-"
        if figure.get("low") is None:
            return f"{figure['value']:.2f}"
        return f"{figure['value']:.2f} [{figure['low']:.2f}, {figure['high']:.2f}]"

    lines = [
        "\n### the fine-tuned guard on its left-out folds, with 95% intervals\n",
        "| fold | n (unsafe) | F1 | recall | FPR | AUPRC | TF-IDF LR F1 / FPR | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g, t = r["models"][name], r["models"].get("TF-IDF LR")
        base = "-"
        if t is not None:
            f1 = f"{t['f1']['value']:.2f}" if t["f1"] else "-"
            fpr = f"{t['fpr']['value']:.2f}" if t["fpr"]["value"] is not None else "-"
            base = f"{f1} / {fpr}"
        lines.append(
            f"| {r['kind']}: {r['fold']} | {r['n']} ({g['n_unsafe']}) | {cell(g['f1'])} | "
            f"{cell(g['recall'])} | {cell(g['fpr'])} | {cell(g['auprc'])} | {base} | "
            f"{r.get('guard_train_s', '-')} |"
        )
    return lines


# ---------------------------------------------------------------- main


def main() -> None:
    global RESAMPLES
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default="bench-out/guard")
    parser.add_argument("--registry", help="a built guard recipe root (default OUT/registry)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train-args", default=GUARD_ARGS, help="`ftevals train` flags")
    parser.add_argument("--skip-train", action="store_true", help="reuse OUT/adapters/seed*")
    parser.add_argument("--no-test", action="store_true", help="cross-validation only")
    parser.add_argument("--no-cv", action="store_true", help="test sets only")
    parser.add_argument("--no-frozen", action="store_true", help="skip the frozen-MiniLM LR")
    parser.add_argument(
        "--resamples", type=int, default=RESAMPLES, help="bootstrap resamples per interval"
    )
    parser.add_argument(
        "--validate",
        default="",
        help="adapter dirs, comma-separated: score each on its own validation split and stop",
    )
    parser.add_argument("--backend", default="onnx", help="guard inference for --validate")
    parser.add_argument(
        "--guard-folds",
        default="",
        help="kind:name folds to train the guard on, comma-separated, or all (a fold trained "
        "already in OUT/folds is reused, so an interrupted run resumes)",
    )
    args = parser.parse_args()
    RESAMPLES = args.resamples
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.validate:
        found, lines = validate([Path(a) for a in args.validate.split(",")], args.backend)
        (out / "validation.json").write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
        (out / "validation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return
    registry = Path(args.registry).resolve() if args.registry else out / "registry"
    if not (registry / "data" / "guard" / "train.chat.jsonl").is_file():
        sh([*FT, "data", "build", "guard", "--out", str(registry)])
    train, tests = load_rows(registry)
    print(
        f"training rows: {len(train)}  test: "
        + ", ".join(f"{k} {len(v)}" for k, v in tests.items())
    )
    models: dict[str, Model] = {"majority class": majority, "TF-IDF LR": tfidf_lr}
    if not args.no_frozen:
        models["frozen MiniLM LR"] = FrozenMiniLM()
    result: Row = {"benchmark": "guard_eval", "train_rows": len(train), "flags": args.train_args}
    md = [f"# Guard evaluation ({len(train)} training rows; guard flags `{args.train_args}`)"]
    if not args.no_cv:
        guard_folds = {f for f in args.guard_folds.split(",") if f}
        cv = cross_validate(train, models, guard_folds, out, args.train_args)
        result["cross_validation"] = cv
        md += cv_table(cv) + cv_guard_table(cv)
    if not args.no_test:
        results: dict[str, Row] = {}
        for name, model in models.items():
            results[name] = {test: report(rows, model(train, rows)) for test, rows in tests.items()}
        train_file = registry / "data" / "guard" / "train.chat.jsonl"
        per_seed: list[dict[str, Row]] = []
        timings = {}
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            adapter = out / "adapters" / f"seed{seed}"
            if not args.skip_train:
                timings[seed] = round(train_guard(train_file, adapter, seed, args.train_args))
            per_seed.append({})
            for test, rows in tests.items():
                scores, threshold = guard_scores(adapter, rows)
                per_seed[-1][test] = report(rows, scores, threshold)
        if per_seed:
            guard: Row = {}
            for test in tests:
                guard[test] = {
                    "overall": mean_of([s[test]["overall"] for s in per_seed]),
                    **{
                        field: {
                            g: mean_of([s[test][field][g] for s in per_seed])
                            for g in per_seed[0][test][field]
                        }
                        for field in ("category", "form")
                    },
                }
            name = f"guard (MiniLM-L6 LoRA, ONNX int8, mean of {len(per_seed)} seeds)"
            results = {name: guard, **results}
            result["guard_per_seed"] = per_seed
            result["guard_train_seconds"] = timings
        result["test"] = results
        md += ["\n## Test sets (looked at once)"] + overall_table(results)
        shown = [m for m in results if m != "majority class"]
        # per form: the requests and content sets are the two forms (tables above)
        for test in ("requests", "content"):
            md += group_table(results, test, "category", shown[:2])
    (out / "guard_eval.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    text = "\n".join(md) + "\n"
    (out / "guard_eval.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
