"""Make the ``evals`` package importable without an OpenAI key.

``evals/registry.py`` builds an ``OpenAI()`` client at import time, which raises when
``OPENAI_API_KEY`` is unset, even for local models or ``--help``. Importing this module
first sets a placeholder that is never a valid key; ftevals' OpenAI completion functions
refuse it with a clear message, and the registry below never sends it anywhere.
"""

from __future__ import annotations

import functools
import os
from typing import Any

PLACEHOLDER_KEY = "sk-ftevals-placeholder-not-a-key"


def ensure_importable() -> None:
    """Set the placeholder key if no key is configured."""
    if not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = PLACEHOLDER_KEY


def has_real_openai_key() -> bool:
    key = os.environ.get("OPENAI_API_KEY", "")
    return bool(key) and key != PLACEHOLDER_KEY


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
