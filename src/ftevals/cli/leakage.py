"""``ftevals leakage``: eval samples whose prompt matches a training prompt (contamination)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any


def _eval_file(value: str, registries: list[str]) -> Any:
    from ftevals.converters.leakage import PromptFile
    from ftevals.errors import InputError
    from ftevals.harness.contamination import eval_samples_file

    path = Path(value)
    if path.is_file():
        return PromptFile(path, value)
    if path.suffix.lower() in (".jsonl", ".csv", ".txt", ".json") or "/" in value:
        raise InputError(path, "file not found")
    return PromptFile(eval_samples_file(value, registries), value)


def cmd_leakage(args: argparse.Namespace) -> int:
    from ftevals.converters.leakage import PromptFile, check_files

    train = [PromptFile(Path(p), p, text_field=args.text_field) for p in args.train]
    registries = args.registry or []
    evals = [_eval_file(e, registries) for e in args.eval]
    report = check_files(
        train,
        evals,
        near_threshold=args.near_threshold,
        paraphrase_threshold=args.paraphrase_threshold,
        paraphrase=not args.no_paraphrase,
    )
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        width = max(100, shutil.get_terminal_size((120, 24)).columns)
        print(report.render(examples=args.examples, width=width))
    return 0


NEAR_DEFAULT = 0.6
PARAPHRASE_DEFAULT = 0.8
"""The library's defaults (``ftevals.converters.leakage``), repeated here so that building the
parser imports nothing heavy; a test keeps them equal."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "leakage",
        help="eval samples whose prompt matches a training prompt (contamination check)",
        description=(
            "Report, per eval, the samples whose prompt matches a training prompt: exact, "
            "normalised (case, whitespace, punctuation), near duplicate (word 2-gram Jaccard) "
            "or paraphrase (all-MiniLM-L6-v2 cosine). Each sample counts once, under its "
            "strongest kind."
        ),
    )
    p.add_argument(
        "--train",
        nargs="+",
        action="extend",
        required=True,
        metavar="FILE",
        help="training files (chat, prompt/completion, text, CSV, samples JSONL)",
    )
    p.add_argument(
        "--eval",
        nargs="+",
        action="extend",
        required=True,
        metavar="FILE_OR_EVAL",
        help="eval samples files or registry eval names",
    )
    p.add_argument("--registry", action="append", help="extra registry for eval names")
    p.add_argument(
        "--text-field", help="JSONL field or CSV column holding the prompt (training files)"
    )
    p.add_argument(
        "--near-threshold",
        type=float,
        default=NEAR_DEFAULT,
        help=f"word 2-gram Jaccard of a near duplicate (default {NEAR_DEFAULT})",
    )
    p.add_argument(
        "--paraphrase-threshold",
        type=float,
        default=PARAPHRASE_DEFAULT,
        help=f"embedding cosine of a paraphrase (default {PARAPHRASE_DEFAULT})",
    )
    p.add_argument(
        "--no-paraphrase",
        action="store_true",
        help="skip the paraphrase check (no embeddings: seconds instead of minutes)",
    )
    p.add_argument("--examples", type=int, default=3, help="examples shown per kind (text)")
    p.add_argument("--json", action="store_true", help="print the report (every match) as JSON")
    p.set_defaults(func=cmd_leakage)
