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
    check_names(split_csv(args.models), split_csv(args.evals), registries, split_csv(args.eval_set))
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
    )
    failed = [p for p in manifest.pairs if p.status == "failed"]
    ok = len(manifest.pairs) - len(failed)
    print(f"run directory: {out} ({ok}/{len(manifest.pairs)} pairs ok)")
    if failed:
        print("re-run the same command to resume: finished pairs and answered samples are kept")
    return 1 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ftevals.harness.compare import compare_logs
    from ftevals.harness.export import write_csv, write_json
    from ftevals.harness.logs import find_logs, read_log
    from ftevals.harness.report_text import render_table

    paths = find_logs([Path(p) for p in args.logs])
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
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="compare evals logs or run directories")
    p.add_argument("logs", nargs="+", help="log files or directories")
    p.add_argument("--json", help="write JSON to this file ('-' prints it instead of the table)")
    p.add_argument("--csv", help="write CSV files to this directory")
    p.add_argument("--html", help="write one self-contained HTML report with plots")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("runs", help="list past runs (directories with a manifest.json)")
    p.add_argument("dirs", nargs="*", help="folders to search (default: ./runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs)
