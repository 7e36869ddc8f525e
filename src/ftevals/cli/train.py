"""``ftevals train``, ``ftevals fuse`` and ``ftevals sweep``: LoRA training and adapter fusion."""

from __future__ import annotations

import argparse
from typing import Any

from ftevals.cli._common import split_csv
from ftevals.errors import FtevalsError

LORA_FLAGS = {
    "lora_r": "r",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
}


def cmd_train(args: argparse.Namespace) -> int:

    from ftevals.training.config import LoraSettings, TrainConfig
    from ftevals.training.train import train, train_seeds

    out = args.out
    if args.name:
        if out:
            raise FtevalsError("give --out or --name, not both")
        from ftevals.paths import adapters_dir

        out = str(adapters_dir() / args.name)
    overrides = {
        "data": args.data,
        "out": out,
        "kind": args.kind,
        "base": args.base,
        "base_layers": args.base_layers,
        "format": args.format,
        "text_field": args.text_field,
        "label_field": args.label_field,
        "system": args.system,
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "grad_accum": args.grad_accum,
        "max_length": args.max_length,
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "eval_every": args.eval_every,
        "early_stopping_patience": args.early_stopping_patience,
        "checkpoint_every": args.checkpoint_every,
        "calibrate": args.calibrate,
        "positive_label": args.positive_label,
        "max_fpr": args.max_fpr,
    }
    if args.config:
        config = TrainConfig.from_yaml(args.config, **overrides)
    else:
        if not args.data or not out:
            raise FtevalsError("train needs --data and --out or --name (or --config FILE)")
        config = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    lora = {dst: getattr(args, src) for src, dst in LORA_FLAGS.items()}
    if args.target_modules:
        lora["target_modules"] = split_csv(args.target_modules)
    lora = {k: v for k, v in lora.items() if v is not None}
    if lora:
        config.lora = LoraSettings(**{**config.lora.model_dump(), **lora})
    if args.seeds is not None:
        dirs = train_seeds(config, args.seeds, progress=not args.quiet, resume=args.resume)
        print(f"{len(dirs)} adapters written: {', '.join(str(d) for d in dirs)}")
        print("evaluate each, then `ftevals compare` reports the mean and spread over the seeds")
        return 0
    out_dir = train(config, progress=not args.quiet, resume=args.resume)
    print(f"adapter written to {out_dir}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ftevals.runtime.models import resolve_adapter
    from ftevals.training.classifier import recalibrate

    adapter = resolve_adapter(args.adapter, "Train one with `ftevals train --val-fraction F`.")
    cal = recalibrate(adapter, args.max_fpr, args.positive_label)
    print(
        f"{adapter}: temperature {cal.temperature:.3f}, threshold {cal.threshold} "
        f"(validation F1 {cal.f1_at_threshold}), ECE {cal.ece_before:.3f} -> "
        f"{cal.ece_after:.3f} on {cal.examples} validation examples"
    )
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from ftevals.training.fuse import fuse

    result = fuse(
        args.adapter,
        args.out,
        base=args.base,
        method=args.method,
        density=args.density,
        svd_rank=args.svd_rank,
        majority_sign_method=args.majority_sign_method,
        seed=args.seed,
        merge=args.merge,
        dtype=args.dtype,
        probes=args.probes,
        probe_tokens=args.probe_tokens,
        tolerance=args.tolerance,
        min_agreement=args.min_agreement,
        overwrite=args.overwrite,
    )
    for check in result.checks:
        print(f"  {'ok' if check.passed else 'FAILED':<6} {check.name:<14} {check.detail}")
    print(f"fused adapter: {result.adapter_dir}")
    if result.merged_dir:
        print(f"merged model: {result.merged_dir}")
    return 0


def _weights(value: str) -> list[float]:
    try:
        return [float(w) for w in split_csv(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {value!r}"
        ) from None


def _fn_args(value: str | None) -> dict[str, str]:
    pairs = {}
    for item in split_csv(value):
        if "=" not in item:
            raise FtevalsError(f"--fn-args expects KEY=VALUE pairs, got {item!r}")
        key, val = item.split("=", 1)
        pairs[key.strip()] = val.strip()
    return pairs


def cmd_sweep(args: argparse.Namespace) -> int:
    from ftevals.experiments.sweep import broken_line, eval_axis, sweep

    if not 0.0 <= args.broken_share <= 1.0:
        raise FtevalsError(f"--broken-share must be within [0, 1], got {args.broken_share}")
    registries = args.registry or []
    safety = eval_axis(args.safety_eval, args.safety_metric, args.safety_higher, registries)
    utility = eval_axis(args.utility_eval, args.utility_metric, args.utility_higher, registries)
    result = sweep(
        args.adapter,
        args.out,
        safety=safety,
        utility=utility,
        base=args.base,
        methods=split_csv(args.methods),
        weight_sets=args.weights or [[0.5] * len(args.adapter), [1.0] * len(args.adapter)],
        densities=[float(d) for d in split_csv(args.densities)],
        baselines=not args.no_baselines,
        fn_args=_fn_args(args.fn_args),
        registries=registries,
        max_samples=args.max_samples,
        concurrency=args.concurrency,
        fuse_options={"tolerance": args.tolerance, "seed": args.seed},
        broken_share=args.broken_share,
    )
    print(f"{'candidate':<36} {'status':<9} {safety.metric:>12} {utility.metric:>12}")
    for c in result.candidates:
        s = "-" if c.safety is None else f"{c.safety:.4f}"
        u = "-" if c.utility is None else f"{c.utility:.4f}"
        print(f"{c.name:<36} {c.status:<9} {s:>12} {u:>12}")
    line = broken_line(result.candidates, args.broken_share)
    if line:
        print(line)
    print(f"table: {result.csv} and {result.json}; plot: {result.plot}")
    bad = [c for c in result.candidates if c.status in ("failed", "error")]
    return 1 if bad else 0


def _direction(p: argparse.ArgumentParser, name: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(f"--{name}-higher-is-better", dest=f"{name}_higher", action="store_true")
    group.add_argument(f"--{name}-lower-is-better", dest=f"{name}_higher", action="store_false")
    p.set_defaults(**{f"{name}_higher": None})


def register(sub: Any) -> None:
    from ftevals.harness.degenerate import THRESHOLD
    from ftevals.training.combine import COMBINATIONS

    p = sub.add_parser("train", help="train a LoRA adapter (classifier or causal SFT)")
    p.add_argument("--config", help="YAML config; flags override its fields")
    p.add_argument("--data")
    p.add_argument("--out", help="adapter directory")
    p.add_argument(
        "--name", help="save as a named adapter in the ftevals home (e.g. minilm-safety)"
    )
    p.add_argument("--kind", choices=["classifier", "causal"])
    p.add_argument("--base", help="base model: minilm, smollm2-135m, a path or a hub id")
    p.add_argument(
        "--base-layers", type=int, help="classifier: keep only the first N layers of the base"
    )
    p.add_argument("--format")
    p.add_argument("--text-field")
    p.add_argument("--label-field")
    p.add_argument("--system", help="system prompt for rows without one (causal)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int, help="optimizer steps (overrides --epochs)")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step")
    p.add_argument("--max-length", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="train N times, seeds S..S+N-1 (S: --seed, else the config's, 0), to <out>-seed<k>",
    )
    p.add_argument("--val-fraction", type=float, help="hash-split share held out")
    p.add_argument("--eval-every", type=int, help="validate every N steps (0: every epoch)")
    p.add_argument("--early-stopping-patience", type=int)
    p.add_argument("--checkpoint-every", type=int, help="checkpoint every N steps")
    p.add_argument(
        "--no-calibrate",
        dest="calibrate",
        action="store_false",
        default=None,
        help="classifier: do not fit a temperature and threshold on the validation split",
    )
    p.add_argument("--positive-label", help="classifier: the label the threshold applies to")
    p.add_argument(
        "--max-fpr", type=float, help="classifier: cap on the threshold's validation FP rate"
    )
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--lora-r", type=int)
    p.add_argument("--lora-alpha", type=int)
    p.add_argument("--lora-dropout", type=float)
    p.add_argument("--target-modules", help="comma-separated module names")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    c = sub.add_parser(
        "calibrate", help="refit a classifier's temperature and threshold on its validation split"
    )
    c.add_argument("adapter", help="adapter directory or name")
    c.add_argument("--max-fpr", type=float, help="cap on the threshold's validation FP rate")
    c.add_argument("--positive-label", help="the label the threshold applies to")
    c.set_defaults(func=cmd_calibrate)

    f = sub.add_parser("fuse", help="combine LoRA adapters (and merge), checked on probes")
    f.add_argument("--base", help="base model; default: the one stored with the adapters")
    f.add_argument(
        "--adapter",
        action="append",
        required=True,
        metavar="DIR:WEIGHT",
        help="an adapter and its weight (repeat; negative weights subtract)",
    )
    f.add_argument("--method", default="linear", choices=COMBINATIONS)
    f.add_argument("--density", type=float, help="kept share for ties/dare/magnitude_prune")
    f.add_argument("--svd-rank", type=int)
    f.add_argument("--majority-sign-method", default="total", choices=["total", "frequency"])
    f.add_argument("--seed", type=int, default=0, help="seed of the dare_* random pruning")
    f.add_argument("--out", required=True)
    f.add_argument("--merge", action="store_true", help="write a standalone merged model")
    f.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    f.add_argument("--probes", help="fine-tuning file whose prompts are the probes")
    f.add_argument("--probe-tokens", type=int, default=8, help="greedy tokens per probe")
    f.add_argument("--tolerance", type=float, default=1e-3, help="relative logit tolerance")
    f.add_argument("--min-agreement", type=float, default=1.0, help="greedy agreement needed")
    f.add_argument("--overwrite", action="store_true")
    f.set_defaults(func=cmd_fuse)

    s = sub.add_parser("sweep", help="fuse over a grid and score safety against utility")
    s.add_argument("--adapter", action="append", required=True, metavar="DIR")
    s.add_argument("--base")
    s.add_argument("--out", required=True)
    s.add_argument("--methods", default="linear,cat,ties", help="comma-separated")
    s.add_argument(
        "--weights",
        action="append",
        type=_weights,
        help="one weight per adapter, comma-separated (repeat; --weights=-0.5,1 for negatives)",
    )
    s.add_argument("--densities", default="0.5", help="comma-separated, for density methods")
    s.add_argument("--safety-eval", default="refusal-keyword")
    s.add_argument("--safety-metric", help="default: the eval's first registry metric")
    _direction(s, "safety")
    s.add_argument("--utility-eval", default="over-refusal-keyword")
    s.add_argument("--utility-metric")
    _direction(s, "utility")
    s.add_argument("--fn-args", help="completion fn args for every candidate: k=v,k=v")
    s.add_argument("--no-baselines", action="store_true", help="skip base and single adapters")
    s.add_argument("--registry", action="append", help="extra registry directory (repeat)")
    s.add_argument("--max-samples", type=int)
    s.add_argument("--concurrency", type=int, default=1)
    s.add_argument("--tolerance", type=float, default=1e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--broken-share",
        type=float,
        default=THRESHOLD,
        metavar="SHARE",
        help="a candidate with more empty or degenerate answers than this share is broken and "
        "kept off the front (default 0.1)",
    )
    s.set_defaults(func=cmd_sweep)
