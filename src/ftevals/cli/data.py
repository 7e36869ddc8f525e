"""``ftevals convert``, ``validate``, ``label`` and ``screen``: fine-tuning data tools."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ftevals.cli._common import label_map, split_csv


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
        header=not args.no_header,
        label=args.label,
    )
    print(report.summary())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ftevals.converters.validate import render, report_json, validate_file

    report = validate_file(
        Path(args.file),
        args.model,
        fmt=args.format,
        text_field=args.text_field,
        label_field=args.label_field,
        epochs=args.epochs,
        max_errors=args.max_errors,
    )
    print(json.dumps(report_json(report), indent=2) if args.json else render(report))
    return 1 if report.error_total else 0


def cmd_label(args: argparse.Namespace) -> int:
    from ftevals.converters._fns import parse_args
    from ftevals.converters.label import label_file

    report = label_file(
        Path(args.prompts),
        args.teacher,
        Path(args.out),
        fmt=args.format,
        text_field=args.text_field,
        system=args.system,
        header=not args.no_header,
        teacher_args=parse_args(args.teacher_args),
        registries=args.registry,
        concurrency=args.concurrency,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(report.summary())
    return 1 if report.failed else 0


def cmd_screen(args: argparse.Namespace) -> int:
    from ftevals.converters._fns import parse_args
    from ftevals.converters.screen import screen_file

    report = screen_file(
        Path(args.file),
        split_csv(args.judge),
        args.spec,
        Path(args.out),
        fmt=args.format,
        text_field=args.text_field,
        label_field=args.label_field,
        header=not args.no_header,
        judge_args=parse_args(args.judge_args),
        spec_args=parse_args(args.spec_args),
        eval_type=args.eval_type,
        registries=args.registry,
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
        progress=not args.quiet,
    )
    print(report.summary())
    return 1 if any(report.errors.values()) else 0


def _input_options(p: Any, label: bool = True, header: bool = True) -> None:
    p.add_argument("--format", help="input format: chat, completion, text, fields, csv, lines")
    p.add_argument("--text-field", help="field (or CSV column) holding the prompt")
    if label:
        p.add_argument("--label-field", help="field (or CSV column) holding the label/answer")
    if header:
        p.add_argument(
            "--no-header",
            action="store_true",
            help="the CSV file has no header (columns 1, 2, ...)",
        )


def register(sub: Any) -> None:
    p = sub.add_parser("convert", help="fine-tuning data <-> evals samples")
    p.add_argument("file")
    p.add_argument("--to", required=True, choices=["samples", "chat", "completion", "text"])
    p.add_argument("--out", required=True, help="output file (a directory with --split)")
    _input_options(p)
    p.add_argument("--system", help="system prompt for rows built from fields")
    p.add_argument(
        "--label",
        metavar="VALUE",
        help="one label for every row (inputs without answers: csv, fields, lines, text)",
    )
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

    p = sub.add_parser("validate", help="check a fine-tuning file: format, tokens, cost")
    p.add_argument("file")
    p.add_argument("--model", help="target model: an OpenAI name (tiktoken) or a local model")
    _input_options(p, header=False)
    p.add_argument("--epochs", type=int, help="epochs for the estimate (default: cookbook rule)")
    p.add_argument("--max-errors", type=int, default=50, help="errors listed (all are counted)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("label", help="label raw prompts with a teacher completion function")
    p.add_argument("prompts", help="prompts: .txt (one a line), CSV, or JSONL")
    p.add_argument("--teacher", required=True, help="completion function (registry name)")
    p.add_argument(
        "--out", required=True, help="chat JSONL to append to (resumed with the same teacher)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out instead of resuming it (needed to change teacher or its arguments)",
    )
    p.add_argument("--system", help="system prompt sent to the teacher and kept in the data")
    _input_options(p, label=False)
    p.add_argument("--teacher-args", help="k=v,... passed to the teacher completion function")
    p.add_argument("--registry", action="append", help="extra registry (repeatable)")
    p.add_argument("--concurrency", type=int, default=4, help="teacher calls at once")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("screen", help="screen fine-tuning data with model-graded judges")
    p.add_argument("file")
    p.add_argument("--judge", required=True, help="comma-separated judge completion functions")
    p.add_argument("--spec", required=True, help="modelgraded spec (registry/modelgraded)")
    p.add_argument("--out", required=True, help="OUT.csv (OUT.jsonl is written beside it)")
    _input_options(p)
    p.add_argument("--judge-args", help="k=v,... passed to every judge completion function")
    p.add_argument("--spec-args", help="k=v,... extra variables of the spec's prompt")
    p.add_argument("--eval-type", help="for specs without one: classify, cot_classify, ...")
    p.add_argument("--registry", action="append", help="extra registry (repeatable)")
    p.add_argument("--concurrency", type=int, default=4, help="rows judged at once")
    p.add_argument("--max-tokens", type=int, default=1024, help="judge answer budget (evals')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_screen)
