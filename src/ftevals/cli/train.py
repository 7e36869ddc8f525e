"""``ftevals train``: LoRA training."""

from __future__ import annotations

import argparse
from typing import Any

from ftevals.errors import FtevalsError


def cmd_train(args: argparse.Namespace) -> int:
    from ftevals.training.config import TrainConfig

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
        "format": args.format,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "seed": args.seed,
    }
    if args.config:
        config = TrainConfig.from_yaml(args.config, **overrides)
    else:
        if not args.data or not out:
            raise FtevalsError("train needs --data and --out or --name (or --config FILE)")
        config = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    if config.kind != "classifier":
        raise FtevalsError("only --kind classifier is available in this version")
    from ftevals.training.classifier import train_classifier

    out = train_classifier(config, progress=not args.quiet)
    print(f"adapter written to {out}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a LoRA adapter")
    p.add_argument("--config", help="YAML config; flags override its fields")
    p.add_argument("--data")
    p.add_argument("--out", help="adapter directory")
    p.add_argument(
        "--name", help="save as a named adapter in the ftevals home (e.g. minilm-safety)"
    )
    p.add_argument("--kind", choices=["classifier", "causal"])
    p.add_argument("--base", help="base model: minilm, smollm2-135m, a path or a hub id")
    p.add_argument("--format")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
