"""Check model, eval and eval-set names before a run starts.

evals finds out that a name is unknown only inside the pair that uses it: an eval prints an
``AssertionError`` listing every built-in eval, a completion function a traceback. ``ftevals
run`` checks every name first, against the registries it will search, and reports one line
per unknown name with the closest known names.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError

BUILTIN = "evals' built-in registry"


class UnknownNames(FtevalsError):
    """One or more names no registry knows; the message has one line per name."""


def _registry(registries: Sequence[str | Path]) -> Any:
    from ftevals import evals_compat
    from ftevals.paths import project_registry

    registry = evals_compat.registry_class()()
    registry.add_registry_paths([str(p) for p in [*registries, project_registry()]])
    return registry


def _own_names(registries: Sequence[str | Path]) -> dict[str, list[str]]:
    """Names of each kind defined in the registries given (not evals' bundled one)."""
    from ftevals.harness.registry_check import load_registries
    from ftevals.paths import project_registry

    paths = list(dict.fromkeys(Path(r).resolve() for r in [*registries, project_registry()]))
    return {kind: list(entries) for kind, entries in load_registries(paths).items()}


def _suggest(name: str, own: Iterable[str], builtin: Iterable[str]) -> str:
    own = list(dict.fromkeys(own))
    close = difflib.get_close_matches(name, own, n=3, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name, list(builtin), n=3, cutoff=0.75)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _searched(registries: Sequence[str | Path]) -> str:
    from ftevals.paths import project_registry

    return ", ".join(str(p) for p in [*registries, project_registry()]) + f" and {BUILTIN}"


def check_names(
    models: Sequence[str],
    evals: Sequence[str],
    registries: Sequence[str | Path] = (),
    eval_sets: Sequence[str] = (),
) -> None:
    """Raise :class:`UnknownNames` naming every model, eval or eval set no registry knows."""
    from ftevals.harness.registry_check import check_run
    from ftevals.paths import project_registry

    # the registries' files first, with ftevals' checks (file:line errors, no alias bombs):
    # evals' own loader below would hang or give a traceback on a bad file
    check_run(evals, [*registries, project_registry()])
    registry = _registry(registries)
    quiet = logging.getLogger("evals.registry")  # it logs its own "not found" per lookup
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        lines = _unknown(registry, models, evals, registries, eval_sets)
    finally:
        quiet.setLevel(level)
    if lines:
        lines.append(f"(registries searched: {_searched(registries)}; `ftevals run --help`)")
        raise UnknownNames("\n".join(lines))


def _unknown(
    registry: Any,
    models: Sequence[str],
    evals: Sequence[str],
    registries: Sequence[str | Path],
    eval_sets: Sequence[str],
) -> list[str]:
    from evals.registry import is_chat_model

    from ftevals.evals_compat import prefixed_spec

    lines: list[str] = []
    own = _own_names(registries)
    own_fns = own["completion_fns"] + own.get("solvers", [])
    for model in models:
        for name in model.split(","):  # evals' "policy,judge" model lists
            known = (
                name == "dummy"
                or is_chat_model(name)
                or name in registry.api_model_ids
                or registry.get_completion_fn(name) is not None
                or registry.get_solver(name) is not None
                or prefixed_spec(name) is not None
            )
            if not known:
                builtin = set(registry._completion_fns) - set(own_fns)
                hint = _suggest(name, own_fns, builtin)
                lines.append(f"unknown model {name!r}{hint}")
    own_evals = own["evals"]
    for name in evals:
        if registry.get_eval(name) is None:
            hint = _suggest(name, own_evals, set(registry._evals) - set(own_evals))
            lines.append(f"unknown eval {name!r}{hint}")
    own_sets = own["eval_sets"]
    for name in eval_sets:
        if registry.get_eval_set(name) is None:
            hint = _suggest(name, own_sets, set(registry._eval_sets) - set(own_sets))
            lines.append(f"unknown eval set {name!r}{hint}")
    return lines
