"""``ftevals convert``: fine-tuning data tools."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ftevals.cli._common import label_map


def cmd_convert(args: argparse.Namespace) -> int:
    from ftevals.converters import convert_file

    report = convert_file(
        Path(args.file),
        to=args.to,
        out=Path(args.out),
        fmt=args.format,
        text_field=args.text_field,
        label_field=args.label_field,
        system=args.system,
        lower=args.lower,
        strip=not args.no_strip,
        label_map=label_map(args.map) or None,
        split=args.split,
        seed=args.seed,
        dedupe=args.dedupe,
        mode=args.mode,
    )
    print(report.summary())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("convert", help="fine-tuning data <-> evals samples")
    p.add_argument("file")
    p.add_argument("--to", required=True, choices=["samples", "chat", "completion", "text"])
    p.add_argument("--out", required=True, help="output file (a directory with --split)")
    p.add_argument("--format", help="input format: chat, completion, text, csv, fields")
    p.add_argument("--text-field")
    p.add_argument("--label-field")
    p.add_argument("--system", help="system prompt for rows built from fields")
    p.add_argument("--lower", action="store_true", help="lower-case labels")
    p.add_argument("--no-strip", action="store_true", help="keep whitespace around labels")
    p.add_argument("--map", action="append", default=[], metavar="FROM=TO", help="label mapping")
    p.add_argument(
        "--split", type=float, metavar="TEST_FRACTION", help="hash-based train/test split"
    )
    p.add_argument("--seed", default="ftevals", help="split seed")
    p.add_argument("--dedupe", action="store_true", help="drop rows with a duplicate input")
    p.add_argument("--mode", default="classify", choices=["classify", "screen"])
    p.set_defaults(func=cmd_convert)
