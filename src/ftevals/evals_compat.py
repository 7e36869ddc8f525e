"""Make the ``evals`` package importable without an OpenAI key, changing no environment.

``evals/registry.py`` (evals 3.0.1) builds an ``OpenAI()`` client at import time, which raises
when ``OPENAI_API_KEY`` is unset, even for local models or ``--help``; and ``import evals``
imports that module. :func:`ensure_importable` (called by ``import ftevals``) therefore puts a
finder on ``sys.meta_path`` for that one module: the first time anything imports it, the
module's code runs with a placeholder key set (only if no key is), and the environment is
restored right after, before the import returns. Nothing else sees the placeholder: not child
processes, not the importing program (a thread reading ``os.environ`` during that one import
could). The finder removes itself once the module is loaded. The placeholder is never a valid
key: ftevals' OpenAI completion functions refuse it, and :func:`registry_class` never sends
it anywhere (evals' ``registry.client`` keeps the key it was built with; see
:func:`_registry_client`).

Importing ``ftevals`` does not import ``evals`` (that takes a second or more): the finder acts
only when something does.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

PLACEHOLDER_KEY = "sk-ftevals-placeholder-not-a-key"
KEY_VAR = "OPENAI_API_KEY"
REGISTRY_MODULE = "evals.registry"
"""The evals module that builds an OpenAI client at import (evals 3.0.1: ``registry.client``)."""


@contextlib.contextmanager
def placeholder_key() -> Iterator[None]:
    """``OPENAI_API_KEY`` is the placeholder inside the block if it was unset or empty; the
    environment is as before afterwards (the variable removed, or its empty value back)."""
    saved = os.environ.get(KEY_VAR)
    if saved:
        yield
        return
    os.environ[KEY_VAR] = PLACEHOLDER_KEY
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(KEY_VAR, None)
        else:
            os.environ[KEY_VAR] = saved


class _KeylessLoader(importlib.abc.Loader):
    """Runs the wrapped loader's module code under :func:`placeholder_key`."""

    def __init__(self, loader: importlib.abc.Loader, finder: _KeylessRegistryFinder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with placeholder_key():
            self._loader.exec_module(module)
        self._finder.remove()

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self._loader, name)


class _KeylessRegistryFinder(importlib.abc.MetaPathFinder):
    """Finds :data:`REGISTRY_MODULE` with the other finders and wraps its loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != REGISTRY_MODULE:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _KeylessLoader(spec.loader, self)
                return spec
        return None

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


_FINDER = _KeylessRegistryFinder()


def ensure_importable() -> None:
    """Let ``import evals`` work without a key (see the module docstring). Idempotent; sets no
    environment variable and imports nothing."""
    if REGISTRY_MODULE not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def has_real_openai_key() -> bool:
    """An ``OPENAI_API_KEY`` is set in the environment and is not the placeholder."""
    key = os.environ.get(KEY_VAR, "")
    return bool(key) and key != PLACEHOLDER_KEY


def _registry_client() -> Any:
    """evals' ``registry.client`` (evals 3.0.1: built at import, used only for the model list).
    Built with the placeholder and a real key is set now: rebuilt as evals would have built
    it with that key, so the placeholder is never sent."""
    import evals.registry
    from openai import OpenAI

    if evals.registry.client.api_key == PLACEHOLDER_KEY and has_real_openai_key():
        evals.registry.client = OpenAI(api_key=os.environ[KEY_VAR])
    return evals.registry.client


@functools.cache
def registry_class() -> type[Any]:
    """evals' ``Registry`` that does not ask OpenAI for its model list with a placeholder key.

    Plain ``oaieval`` calls ``GET /v1/models`` for every name that is not a known chat
    model, including registry completion functions; with no real key that is a wasted
    network round trip (and a warning), so it is skipped. Everything else is evals' own.
    """
    from evals.registry import Registry

    class FtevalsRegistry(Registry):  # type: ignore[misc]
        @property
        def api_model_ids(self) -> list[str]:
            if not has_real_openai_key():
                return []
            _registry_client()
            return list(super().api_model_ids)

        def make_completion_fn(self, name: str, **kwargs: Any) -> Any:
            """evals' resolution, plus ``openai/<model>``, ``azure/<deployment>``,
            ``octoai/<model>`` and ``openpipe/<model>`` for any name after the prefix."""
            if self.get_completion_fn(name) is None:
                from evals.utils.misc import make_object

                routed = prefixed_spec(name)
                if routed is not None:
                    cls, args = routed
                    return make_object(cls)(**{**args, **kwargs}, registry=self)
            return super().make_completion_fn(name, **kwargs)

    return FtevalsRegistry


#: ``provider/<model>`` prefixes routed to a completion function class (by its import path, so
#: this module imports nothing of ftevals), and the argument the rest of the name fills.
ROUTES: dict[str, tuple[str, str]] = {
    "openai": ("ftevals.completion_fns.openai_chat:OpenAIChatCompletionFn", "model"),
    "azure": ("ftevals.completion_fns.azure:AzureCompletionFn", "deployment"),
    "octoai": ("ftevals.completion_fns.compatible:OctoAICompletionFn", "model"),
    "openpipe": ("ftevals.completion_fns.openpipe:OpenPipeCompletionFn", "model"),
}


def prefixed_spec(name: str) -> tuple[str, dict[str, str]] | None:
    """``(class path, args)`` for a ``provider/<model>`` name not in the registry, else None.

    For a registry hook (``Registry.make_completion_fn``) that accepts any model after a
    known prefix; plain ``oaieval`` needs the registry entries of ``remote.yaml`` instead.
    """
    prefix, _, rest = name.partition("/")
    if not rest or prefix not in ROUTES:
        return None
    cls, arg = ROUTES[prefix]
    return cls, {arg: rest}
