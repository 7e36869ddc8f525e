"""Run evals' own ``oaieval`` (same engine, same logs) with ftevals' registry routing.

``python -m ftevals.harness.engine`` takes exactly ``oaieval``'s arguments. It differs from
plain ``oaieval`` in two ways only: it needs no ``OPENAI_API_KEY`` for local models, and
with no real key it does not ask OpenAI for its model list (see ``evals_compat``). The
project registry is always added to the registry paths.

Two options of its own, used by ``ftevals run`` and removed before oaieval parses the rest:

* ``--ftevals_cache FILE``: answer calls from (and store answers in) a per-sample cache
  (``ftevals.harness.cache``), so an interrupted run resumes without repeating model calls;
* ``--ftevals_progress FILE``: write the sample count and one line per finished sample there;
* ``--ftevals_judge NAME`` and ``--ftevals_judge_args k=v,...``: the judge of every
  model-graded eval of the run, over the eval's own (``ftevals run --judge``; see
  ``ftevals.harness.registry``);
* ``--ftevals_label NAME``: the model's display name in reports (``ftevals run --label``); the
  engine only lets evals record it with the command line.

Run as a program, a user-facing error (``FtevalsError``: bad registry entry, every sample
failed, ...) ends it with one ``ftevals: error: ...`` line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ftevals import evals_compat
from ftevals.paths import project_registry

logger = logging.getLogger(__name__)
ERROR_PREFIX = "ftevals: error: "


def _own_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--ftevals_cache", help="per-sample cache file (JSONL)")
    parser.add_argument("--ftevals_progress", help="progress file (JSONL)")
    parser.add_argument("--ftevals_judge", help="judge of every model-graded eval")
    parser.add_argument("--ftevals_judge_args", help="k=v,... for that judge")
    parser.add_argument("--ftevals_label", help="display name of the model (read from the log)")
    return parser


def main(argv: list[str] | None = None) -> int:
    evals_compat.ensure_importable()
    from evals.cli import oaieval

    from ftevals.harness.cache import SampleCache
    from ftevals.harness.registry import ProgressFile, harness_registry_class

    own, rest = _own_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    args = oaieval.get_parser().parse_args(rest)
    paths = list(args.registry_path or [])
    own_registry = project_registry()
    if all(Path(p).resolve() != own_registry for p in paths):
        paths.append(str(own_registry))
    args.registry_path = paths
    logging.basicConfig(
        format="[%(asctime)s] [%(filename)s:%(lineno)d] %(message)s",
        level=logging.INFO,
        filename=args.log_to_file if args.log_to_file else None,
    )
    logging.getLogger("openai").setLevel(logging.WARNING)
    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cache = SampleCache(own.ftevals_cache) if own.ftevals_cache else None
    progress = ProgressFile(own.ftevals_progress) if own.ftevals_progress else None
    if cache is not None:
        logger.info("sample cache %s: %d answers", cache.path, len(cache))
    judge = None
    if own.ftevals_judge:
        from ftevals.converters._fns import parse_args

        judge = (own.ftevals_judge, parse_args(own.ftevals_judge_args))
    registry = harness_registry_class()(sample_cache=cache, progress=progress, judge=judge)
    try:
        oaieval.run(args, registry=registry)
    finally:
        if cache is not None:
            cache.close()
            logger.info(
                "sample cache: %d calls answered from the cache, %d new answers stored",
                cache.hits,
                cache.stored,
            )
        if progress is not None:
            if cache is not None:
                progress.write(cache={"hits": cache.hits, "stored": cache.stored})
            progress.close()
    return 0


if __name__ == "__main__":
    from ftevals.errors import FtevalsError

    try:
        sys.exit(main())
    except FtevalsError as exc:  # one line that ``ftevals run`` shows as the pair's error
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        sys.exit(2)
