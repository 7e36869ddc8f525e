"""``ftevals review``: the data review web app."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_review(args: argparse.Namespace) -> int:
    from ftevals import extras

    extras.require("review", "ftevals review")
    from ftevals.review.app import bind, create_app, serve, url_of
    from ftevals.review.workspace import Workspace

    workspace = Workspace(args.file, args.format, args.text_field, args.label_field, args.run)
    sock = bind(args.port)
    main = workspace.doc("main")
    print(f"reviewing {main.path} ({main.codec.fmt}, {len(main.items)} rows)")
    for note in main.notes:
        print(f"note: {note}")
    for log in workspace.logs.values():
        if log.problem:
            print(f"warning: {log.path}: {log.problem}")
    print(f"open {url_of(sock)} (Ctrl-C to stop)", flush=True)
    serve(create_app(workspace), sock)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("review", help="review and fix data in the browser")
    p.add_argument("file", help="fine-tuning data (chat, completion, text, fields, CSV) or samples")
    p.add_argument("--run", metavar="RUN_DIR", help="a run directory: show its failures")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--format", choices=["chat", "completion", "text", "fields", "csv", "lines", "samples"]
    )
    p.add_argument("--text-field", help="prompt field of fields/CSV data (default text)")
    p.add_argument("--label-field", help="label field of fields/CSV data (default label)")
    p.set_defaults(func=cmd_review)
