"""Where ftevals keeps its files: the project registry and the user's cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_registry() -> Path:
    """The registry shipped with ftevals (``registry/`` at the repository root).

    ``FTEVALS_REGISTRY`` overrides it, for installs that moved the registry elsewhere.
    """
    override = os.environ.get("FTEVALS_REGISTRY")
    if override:
        return Path(override).resolve()
    return PACKAGE_DIR.parents[1] / "registry"


def home() -> Path:
    """The user's ftevals directory: ``$FTEVALS_HOME``, else ``$XDG_CACHE_HOME/ftevals``."""
    override = os.environ.get("FTEVALS_HOME")
    if override:
        return Path(override).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().resolve() / "ftevals"


def models_dir() -> Path:
    """Converted base models (e.g. SmolLM2 from GGUF to safetensors)."""
    return home() / "models"


def adapters_dir() -> Path:
    """Named adapters, referenced as ``adapter:<name>`` (e.g. the demo's minilm-safety)."""
    return home() / "adapters"
