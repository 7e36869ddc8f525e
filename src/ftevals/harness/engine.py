"""Run evals' own ``oaieval`` (same engine, same logs) with ftevals' registry routing.

``python -m ftevals.harness.engine`` takes exactly ``oaieval``'s arguments. It differs from
plain ``oaieval`` in two ways only: it needs no ``OPENAI_API_KEY`` for local models, and
with no real key it does not ask OpenAI for its model list (see ``evals_compat``). The
project registry is always added to the registry paths.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ftevals import evals_compat
from ftevals.paths import project_registry


def main(argv: list[str] | None = None) -> int:
    evals_compat.ensure_importable()
    from evals.cli import oaieval

    args = oaieval.get_parser().parse_args(sys.argv[1:] if argv is None else argv)
    paths = list(args.registry_path or [])
    own = project_registry()
    if all(Path(p).resolve() != own for p in paths):
        paths.append(str(own))
    args.registry_path = paths
    logging.basicConfig(
        format="[%(asctime)s] [%(filename)s:%(lineno)d] %(message)s",
        level=logging.INFO,
        filename=args.log_to_file if args.log_to_file else None,
    )
    logging.getLogger("openai").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    oaieval.run(args, registry=evals_compat.registry_class()())
    return 0


if __name__ == "__main__":
    sys.exit(main())
