"""The ``ftevals`` command: parses arguments and calls the library. No logic lives here.

Each subcommand group lives in its own module with a ``register(subparsers)`` function.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ftevals.cli import data, harness, leakage, recipes, review, serve, train
from ftevals.errors import FtevalsError

GROUPS = [data, train, harness, recipes, review, serve, leakage]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftevals", description="Evaluate, train and compare LLMs fine-tuned for safety."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
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
