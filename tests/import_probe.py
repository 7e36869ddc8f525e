"""Import ``ftevals`` and every module of it; check that no import touches the environment or
the network. A program (not a test module): run by ``tests/test_import_side_effects.py`` with
this venv and by ``bench/core_install.sh`` in a core-only venv.

    python tests/import_probe.py [--allow-missing-extras] [--also MODULE]...

Sockets refuse to connect (and names to resolve) before anything is imported. Every module
found by ``pkgutil.walk_packages`` is imported; ``ftevals.cli.__main__`` runs the CLI when
imported, so it is imported with ``--help`` as its arguments (and its exit 0 expected). With
``--allow-missing-extras``, a module may fail only because an extra is not installed (an
``FtevalsError`` naming it, or a ``ModuleNotFoundError`` for one of its packages that is
indeed absent). ``--also MODULE`` imports that module too, after ftevals' (the probe's own
test). Prints one JSON line; exit 0 when everything held.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pkgutil
import socket
import sys
from typing import Any, NoReturn

NETWORK: list[str] = []


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    NETWORK.append(repr(args)[:200])
    raise OSError("network call during import (refused by tests/import_probe.py)")


def _block_network() -> None:
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.socket.sendto = _refuse  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = _refuse
    socket.create_connection = _refuse


def _import(name: str) -> None:
    if name.endswith(".__main__"):
        argv = sys.argv
        sys.argv = ["ftevals", "--help"]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                importlib.import_module(name)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"{name} --help exited {exc.code}") from None
        finally:
            sys.argv = argv
        return
    importlib.import_module(name)


def _missing_extra(exc: BaseException) -> str | None:
    """The extra whose absence explains ``exc``, else None."""
    from ftevals.errors import FtevalsError
    from ftevals.extras import EXTRAS, installed

    if isinstance(exc, FtevalsError):
        for extra in EXTRAS:
            if f"needs the '{extra}' extra" in str(exc):
                return extra
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        root = exc.name.split(".")[0]
        owners = [extra for extra, modules in EXTRAS.items() if root in modules]
        if owners and not installed(root):
            return min(owners, key=lambda extra: len(EXTRAS[extra]))  # review, not serve
    return None


def main(argv: list[str]) -> int:
    allow_missing = "--allow-missing-extras" in argv
    also = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--also"]
    _block_network()
    before = dict(os.environ)
    import ftevals

    modules = ["ftevals"]
    errors: dict[str, str] = {}
    missing: dict[str, str] = {}

    def on_error(name: str) -> None:  # a package that failed while walk_packages imported it
        exc = sys.exc_info()[1]
        assert exc is not None
        extra = _missing_extra(exc) if allow_missing else None
        if extra:
            missing[name] = extra
        else:
            errors[name] = f"{type(exc).__name__}: {exc}"

    found = [m.name for m in pkgutil.walk_packages(ftevals.__path__, "ftevals.", onerror=on_error)]
    for name in found + also:
        modules.append(name)
        try:
            _import(name)
        except Exception as exc:
            extra = _missing_extra(exc) if allow_missing else None
            if extra:
                missing[name] = extra
            else:
                errors[name] = f"{type(exc).__name__}: {exc}"
    after = dict(os.environ)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    report = {
        "modules": len(modules),
        "imported": len(modules) - len(errors) - len(missing),
        "missing_extra": missing,
        "errors": errors,
        "environment_changed": changed,  # names only: values may be secrets
        "network_calls": NETWORK,
        "evals_imported": "evals" in sys.modules,
    }
    print(json.dumps(report, sort_keys=True))
    return 1 if errors or changed or NETWORK else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
