"""The ``ftevals`` command: parses arguments and calls the library. No logic lives here.

Each subcommand group lives in its own module with a ``register(subparsers)`` function.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence

from ftevals.cli import data, harness, leakage, recipes, review, serve, train
from ftevals.cli._common import quiet_output, silence_stdout, stdout_closed
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


EXIT_BROKEN_PIPE = 141
"""Exit status when the reader of stdout went away (``ftevals runs --json | head``): 128 +
SIGPIPE, what a shell reports for any command a closed pipe ends."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (2 for a user's error, 130 interrupted,
    :data:`EXIT_BROKEN_PIPE` when stdout was closed; each command documents its others)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except BrokenPipeError:
        if not stdout_closed():
            raise  # another pipe or socket: a real error
        silence_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    quiet = quiet_output() if getattr(args, "quiet", False) else contextlib.nullcontext()
    try:
        with quiet:
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
