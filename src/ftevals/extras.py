"""Optional parts of ftevals and the one-line error when one is not installed.

``pip install ftevals`` is the core: evals' engine and registry, remote completion functions,
converters, the harness and ``compare``. Local models, training, serving, the review app,
LangChain, plots (``compare --html``, ``sweep``) and pandas DataFrames of logs and comparisons
(``analysis``) each need an extra (``pip install
'ftevals[local]'``; ``make install`` installs all).
Code that needs one calls :func:`require` before it first imports the extra's packages, so a
missing package is a user's error (one line, exit 2) naming what to install, not a traceback.
"""

from __future__ import annotations

import importlib.util

from ftevals.errors import FtevalsError

EXTRAS: dict[str, tuple[str, ...]] = {
    "local": ("torch", "transformers", "peft"),
    "train": ("accelerate", "torch", "transformers", "peft"),
    "serve": ("fastapi", "uvicorn", "torch", "transformers", "peft"),
    "review": ("fastapi", "uvicorn"),
    "langchain": ("langchain_core",),
    "plots": ("matplotlib",),
    "analysis": ("pandas",),
}
"""Each extra's modules that :func:`require` checks by default (its main imports)."""


def installed(module: str) -> bool:
    """``module`` (a top-level name) can be found, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a None entry in sys.modules, a broken parent
        return False


def require(extra: str, what: str, *modules: str) -> None:
    """Raise :class:`FtevalsError` naming ``extra`` when one of ``modules`` (default: the
    extra's :data:`EXTRAS`) is not installed; ``what`` names the part that needs it."""
    missing = [m for m in modules or EXTRAS[extra] if not installed(m)]
    if missing:
        raise FtevalsError(
            f"{what} needs the '{extra}' extra ({', '.join(missing)} not installed): "
            f"pip install 'ftevals[{extra}]'"
        )
