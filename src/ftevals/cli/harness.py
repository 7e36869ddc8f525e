"""``ftevals run``, ``ftevals compare`` and ``ftevals runs``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ftevals.cli._common import split_csv
from ftevals.errors import FtevalsError


def cmd_run(args: argparse.Namespace) -> int:
    from ftevals.harness.names import check_names
    from ftevals.harness.run import PairRecord, expand_eval_sets, run_matrix

    registries = args.registry or []
    judges = [args.judge] if args.judge else []
    if args.judge_args and not args.judge:
        raise FtevalsError("--judge-args needs --judge NAME")
    check_names(
        split_csv(args.models) + judges, split_csv(args.evals), registries, split_csv(args.eval_set)
    )
    evals = split_csv(args.evals) + expand_eval_sets(split_csv(args.eval_set), registries)
    out = Path(args.out)

    def show(pair: PairRecord) -> None:
        report = pair.final_report or {}
        figures = ", ".join(f"{k}={v:.3f}" for k, v in report.items() if isinstance(v, float))
        extra = f" ({figures})" if figures else ""
        if pair.cache_hits:
            extra += f" [{pair.cache_hits} answers from the sample cache]"
        if pair.status == "failed":
            extra = f": {pair.error}"
        print(f"  {pair.status:<8} {pair.model} x {pair.eval}{extra}", flush=True)
        if pair.warning:
            print(f"  warning: {pair.model} x {pair.eval}: {pair.warning}", flush=True)

    manifest = run_matrix(
        split_csv(args.models),
        evals,
        out,
        registries=registries,
        concurrency=args.concurrency,
        max_samples=args.max_samples,
        completion_args=args.completion_args,
        on_pair=show,
        progress=not args.no_progress,
        judge=args.judge,
        judge_args=args.judge_args,
        label=args.label,
    )
    from ftevals.harness.logs import scan_logs

    failed = [p for p in manifest.pairs if p.status == "failed"]
    useless = [p for p in manifest.pairs if p.useless]
    ok = len(manifest.pairs) - len(failed) - len(useless)
    print(f"run directory: {out} ({ok}/{len(manifest.pairs)} pairs ok)")
    earlier = [p for p, why in scan_logs([out]).skipped if why.startswith("not listed")]
    if earlier:
        print(
            f"note: {len(earlier)} log(s) of an earlier run in {out} are not part of this run; "
            "`ftevals compare` of the directory reads this run's logs (its manifest) only"
        )
    for pair in useless:
        print(f"error: {pair.model} x {pair.eval}: every sample was invalid or failed")
    if failed:
        print("re-run the same command to resume: finished pairs and answered samples are kept")
    return EXIT_FAILED if failed else EXIT_USELESS if useless else 0


EXIT_FAILED = 1
"""`ftevals run`: a pair failed (re-run the command to resume)."""
EXIT_USELESS = 3
"""`ftevals run`: every pair ran, but in some pair every sample was invalid or failed."""


def cmd_compare(args: argparse.Namespace) -> int:
    if args.html:
        from ftevals import extras

        extras.require("plots", "compare --html")
    from ftevals.harness.compare import compare_logs
    from ftevals.harness.export import write_csv, write_json
    from ftevals.harness.logs import find_logs, read_log
    from ftevals.harness.report_text import render_table

    paths = find_logs([Path(p) for p in args.logs])
    if not paths:
        raise FtevalsError(f"no evals logs found in {args.logs}")
    from ftevals.harness.breakdown import MIN_GROUP

    min_group = MIN_GROUP if args.min_group is None else args.min_group
    if min_group < 1:
        raise FtevalsError(f"--min-group must be at least 1, got {min_group}")
    from ftevals.harness.degenerate import THRESHOLD

    threshold = THRESHOLD if args.degenerate_threshold is None else args.degenerate_threshold
    if not 0.0 <= threshold <= 1.0:
        raise FtevalsError(f"--degenerate-threshold must be within [0, 1], got {threshold}")
    logs = [read_log(p) for p in paths]
    comparison = compare_logs(logs, args.by or [], min_group, degenerate_threshold=threshold)
    if not args.no_contamination:
        from ftevals.harness.contamination import contamination_warnings

        comparison.contamination = contamination_warnings(logs)
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
    if args.html:
        from ftevals.harness.report_html import write_html

        print(f"html: {write_html(comparison, Path(args.html))}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ftevals.harness.runs import list_runs, render_runs

    runs = list_runs(args.dirs)
    if args.json:
        import json

        print(json.dumps([run.model_dump() for run in runs], indent=2))
    else:
        print(render_runs(runs), end="")
    return 0


def cmd_registry_path(args: argparse.Namespace) -> int:
    from ftevals.paths import project_registry

    print(project_registry())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run models x evals through evals' engine (resumable)")
    p.add_argument("--models", required=True, help="comma-separated completion functions")
    p.add_argument("--evals", default="", help="comma-separated evals")
    p.add_argument("--eval-set", default="", help="comma-separated eval sets")
    p.add_argument("--registry", action="append", help="extra registry (repeatable)")
    p.add_argument("--out", default="runs/latest", help="run directory")
    p.add_argument("--concurrency", type=int, default=1, help="pairs run at once")
    p.add_argument("--max-samples", type=int)
    p.add_argument("--completion-args", help="k=v,... passed to every completion function")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--judge", help="judge of every model-graded eval of the run (over the eval's own)"
    )
    p.add_argument("--judge-args", help="k=v,... passed to the judge completion function")
    p.add_argument(
        "--label",
        help="name of the (one) model in reports, e.g. minilm-a; default: its registry name "
        "with the completion args that select a model, like hf-classifier[adapter=minilm-a]",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="compare evals logs or run directories")
    p.add_argument("logs", nargs="+", help="log files or directories")
    p.add_argument("--json", help="write JSON to this file ('-' prints it instead of the table)")
    p.add_argument("--csv", help="write CSV files to this directory")
    p.add_argument("--html", help="write one self-contained HTML report with plots")
    p.add_argument(
        "--by",
        action="append",
        metavar="FIELD",
        help="figures per group of this sample field (top level or metadata; repeatable)",
    )
    p.add_argument(
        "--no-contamination",
        action="store_true",
        help="skip the check of evaluated samples against local adapters' recorded training "
        "prompts (exact, normalised, near-duplicate, paraphrase)",
    )
    p.add_argument(
        "--min-group",
        type=int,
        metavar="N",
        help="groups under N samples are marked too small to read (default 30)",
    )
    p.add_argument(
        "--degenerate-threshold",
        type=float,
        metavar="SHARE",
        help="flag a row whose empty or degenerate answers pass this share (default 0.1)",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "registry-path",
        help="print ftevals' registry directory, for plain oaieval: "
        '--registry_path YOURS --registry_path "$(ftevals registry-path)"',
    )
    p.set_defaults(func=cmd_registry_path)

    p = sub.add_parser("runs", help="list past runs (directories with a manifest.json)")
    p.add_argument("dirs", nargs="*", help="folders to search (default: ./runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs)
