"""The ``ftevals`` command: parses arguments and calls the library. No logic lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ftevals.errors import FtevalsError


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _label_map(pairs: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise FtevalsError(f"--map expects FROM=TO, got {pair!r}")
        src, dst = pair.split("=", 1)
        mapping[src] = dst
    return mapping


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
        label_map=_label_map(args.map) or None,
        split=args.split,
        seed=args.seed,
        dedupe=args.dedupe,
        mode=args.mode,
    )
    print(report.summary())
    return 0


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


def cmd_run(args: argparse.Namespace) -> int:
    from ftevals.harness.run import PairRecord, expand_eval_sets, run_matrix

    registries = args.registry or []
    evals = _split(args.evals) + expand_eval_sets(_split(args.eval_set), registries)
    out = Path(args.out)

    def show(pair: PairRecord) -> None:
        report = pair.final_report or {}
        figures = ", ".join(f"{k}={v:.3f}" for k, v in report.items() if isinstance(v, float))
        extra = f" ({figures})" if figures else ""
        if pair.status == "failed":
            extra = f": {pair.error}"
        print(f"  {pair.status:<8} {pair.model} x {pair.eval}{extra}", flush=True)

    manifest = run_matrix(
        _split(args.models),
        evals,
        out,
        registries=registries,
        concurrency=args.concurrency,
        max_samples=args.max_samples,
        completion_args=args.completion_args,
        on_pair=show,
    )
    failed = [p for p in manifest.pairs if p.status == "failed"]
    print(
        f"run directory: {out} ({len(manifest.pairs) - len(failed)}/{len(manifest.pairs)} pairs ok)"
    )
    return 1 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ftevals.harness.compare import compare_logs, render_table, write_csv, write_json
    from ftevals.harness.logs import find_logs, read_log

    found = find_logs([Path(p) for p in args.logs])
    paths = found[0] if isinstance(found, tuple) else found
    if not paths:
        raise FtevalsError(f"no evals logs found in {args.logs}")
    comparison = compare_logs([read_log(p) for p in paths])
    if args.json == "-":
        print(comparison.model_dump_json(indent=2))
    else:
        print(render_table(comparison))
    if args.json and args.json != "-":
        write_json(comparison, Path(args.json))
        print(f"json: {args.json}")
    if args.csv:
        for path in write_csv(comparison, Path(args.csv)):
            print(f"csv: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftevals", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("run", help="run models x evals through evals' engine")
    p.add_argument("--models", required=True, help="comma-separated completion functions")
    p.add_argument("--evals", default="", help="comma-separated evals")
    p.add_argument("--eval-set", default="", help="comma-separated eval sets")
    p.add_argument("--registry", action="append", help="extra registry (repeatable)")
    p.add_argument("--out", default="runs/latest", help="run directory")
    p.add_argument("--concurrency", type=int, default=1, help="pairs run at once")
    p.add_argument("--max-samples", type=int)
    p.add_argument("--completion-args", help="k=v,... passed to every completion function")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="compare evals logs or run directories")
    p.add_argument("logs", nargs="+", help="log files or directories")
    p.add_argument("--json", help="write JSON to this file ('-' prints it instead of the table)")
    p.add_argument("--csv", help="write CSV files to this directory")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        code: int = args.func(args)
    except FtevalsError as exc:
        print(f"ftevals: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ftevals: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
