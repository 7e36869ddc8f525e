"""``ftevals serve``: an OpenAI-compatible HTTP server for local models and adapters."""

from __future__ import annotations

import argparse
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    from ftevals import extras

    extras.require("serve", "ftevals serve")
    from ftevals.completion_fns._credentials import require
    from ftevals.errors import FtevalsError
    from ftevals.serve.app import Limits, base_url, bind, create_app, serve
    from ftevals.serve.backend import LocalBackend

    if not args.model and not args.classifier:
        raise FtevalsError("serve needs --model REF and/or --classifier ADAPTER")
    if args.adapter and not args.model:
        raise FtevalsError("--adapter needs --model (the base model the adapters apply to)")
    key = require(args.api_key_env, "ftevals serve").reveal() if args.api_key_env else None
    if args.host not in LOOPBACK and key is None:
        print(f"warning: listening on {args.host} without --api-key-env: anyone who can reach it")
    limits = Limits(api_key=key, max_queue=args.max_queue, max_body_bytes=args.max_body_bytes)
    sock = bind(args.host, args.port)  # fail on a busy port before loading any model
    backend = LocalBackend.load(
        args.model,
        adapters=args.adapter,
        classifier=args.classifier,
        name=args.name,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        classifier_backend=args.backend,
        quantize=args.quantize,
    )
    url = base_url(sock)
    print(f"serving {', '.join(backend.models())} at {url}/v1", flush=True)
    print(f"auth: {'bearer key from $' + args.api_key_env if key else 'none'}", flush=True)
    serve(create_app(backend, limits), sock)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve local models over an OpenAI-compatible HTTP API")
    p.add_argument("--model", metavar="REF", help="causal LM: alias, path or hub id")
    p.add_argument(
        "--adapter", metavar="DIR", action="append", default=[], help="LoRA adapter (repeatable)"
    )
    p.add_argument("--classifier", metavar="ADAPTER", help="also serve a LoRA classifier")
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="classifier backend: torch, or onnx (exported once, cached; default torch)",
    )
    p.add_argument(
        "--quantize",
        choices=("none", "int8"),
        default="none",
        help="classifier weights: none (float32) or int8 (dynamic; default none)",
    )
    p.add_argument("--name", help="served model id (default: model ref plus +adapter names)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument(
        "--api-key-env", metavar="VAR", help="require the key held in $VAR (env or ./.env)"
    )
    p.add_argument(
        "--max-queue", type=int, default=64, help="requests in flight before 503 (default 64)"
    )
    p.add_argument(
        "--max-body-bytes", type=int, default=1_000_000, help="largest request body (413 above)"
    )
    p.add_argument("--batch-size", type=int, default=16, help="largest generation batch")
    p.add_argument("--max-tokens", type=int, default=256, help="default generation budget")
    p.set_defaults(func=cmd_serve)
