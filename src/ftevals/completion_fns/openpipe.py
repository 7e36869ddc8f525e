"""OpenPipe (``openpipe/<model-id>``): its fine-tunes through its OpenAI-compatible API.

Base URL ``https://api.openpipe.ai/api/v1`` (``base_url=`` or ``OPENPIPE_BASE_URL`` to
change it), key ``OPENPIPE_API_KEY``. Optional request tags (``tags=prompt_id:safety|run:ci``
on the command line, a mapping in registry YAML) are sent the way OpenPipe's SDK documents
its "metadata tagging", which follows OpenAI's: ``metadata`` (string values) with
``store: true`` in the request body, so the logged calls can be filtered in OpenPipe.
"""

from __future__ import annotations

from typing import Any

from ftevals.completion_fns.compatible import OpenAICompatibleCompletionFn
from ftevals.errors import FtevalsError

OPENPIPE_BASE_URL = "https://api.openpipe.ai/api/v1"


def parse_tags(tags: dict[str, Any] | str | None) -> dict[str, str]:
    """Tags from a mapping, or ``key:value|key:value`` (completion args cannot hold ``=``)."""
    if tags is None or tags == "":
        return {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for item in str(tags).split("|"):
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise FtevalsError(f"tags: expected key:value|key:value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


class OpenPipeCompletionFn(OpenAICompatibleCompletionFn):
    """Chat completions from OpenPipe (model ids like ``openpipe:my-safety-model``).

    Args:
        model: the OpenPipe model id.
        tags: request tags, sent as ``metadata`` with ``store: true``.
        (and every argument of ``openai-compatible``)
    """

    provider = "openpipe"
    default_base_url = OPENPIPE_BASE_URL
    default_key_env = "OPENPIPE_API_KEY"
    base_url_env = "OPENPIPE_BASE_URL"

    def __init__(
        self,
        model: str | None = None,
        tags: dict[str, Any] | str | None = None,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        if not model:
            raise FtevalsError("`openpipe` needs a model: --completion_args model=openpipe:NAME")
        self.tags = parse_tags(tags)
        super().__init__(model=model, registry=registry, **kwargs)

    def extra_params(self) -> dict[str, Any]:
        if not self.tags:
            return {}
        return {"metadata": dict(self.tags), "store": True}
