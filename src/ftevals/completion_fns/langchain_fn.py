"""Any LangChain chat model or LLM, by import path and keyword arguments, called with ``.invoke``.

evals' own LangChain functions import ``langchain.llms`` and call ``llm(prompt)``, both gone
in langchain 1.x. Here::

    oaieval langchain prompt-safety --registry_path registry --completion_args \\
        llm=langchain_openai.ChatOpenAI,model=gpt-4o-mini

Every other completion arg (or ``llm_kwargs`` in registry YAML) goes to the model's
constructor; pydantic converts the strings. Keys are never passed as values: ``X_env=VAR``
passes the value of ``$VAR`` (environment or ``./.env``) as ``X`` (``api_key_env=MY_KEY``,
``azure_ad_token_env=...``). For ``langchain_openai`` models without one, the usual variable
is read the same way (``OPENAI_API_KEY``, or ``AZURE_OPENAI_API_KEY`` /
``AZURE_OPENAI_AD_TOKEN``), so ftevals' placeholder key is never sent. The model's own
retries are turned off (``max_retries=0``) in favour of the one retry policy.
Chat prompts become ``langchain_core`` messages; usage comes from ``usage_metadata``.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from ftevals import extras
from ftevals.completion_fns._credentials import Secret, lookup, redact, require
from ftevals.completion_fns._retry import (
    CompletionFailed,
    RetryPolicy,
    check_on_failure,
    fail,
    policy_from_args,
)
from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call, to_messages
from ftevals.completion_fns.openai_chat import DEFAULT_TIMEOUT_S, as_bool
from ftevals.errors import FtevalsError
from ftevals.pricing import cost_usd

SECRET_SUFFIXES = ("api_key", "_token", "secret", "password")
NO_KEY = "EMPTY"


def load_class(path: str) -> type[Any]:
    """``package.module.Class`` or ``package.module:Class``."""
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise FtevalsError(f"llm: expected an import path like langchain_openai.ChatOpenAI: {path}")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise FtevalsError(
            f"llm: cannot import {path} ({exc}); install it, e.g. pip install 'ftevals[langchain]'"
        ) from None
    if not isinstance(cls, type):
        raise FtevalsError(f"llm: {path} is not a class")
    return cls


def to_langchain(messages: list[dict[str, Any]]) -> list[Any]:
    """evals chat messages as ``langchain_core`` messages (``name`` kept)."""
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    out: list[Any] = []
    for m in messages:
        content = str(m.get("content") or "")
        extra = {"name": m["name"]} if m.get("name") else {}
        role = str(m.get("role") or "user")
        if role in kinds:
            out.append(kinds[role](content=content, **extra))
        else:
            out.append(ChatMessage(role=role, content=content, **extra))
    return out


def _default_credentials(cls: type[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    fields = getattr(cls, "model_fields", {})
    given = ("api_key", "openai_api_key", "azure_ad_token", "azure_ad_token_provider")
    if "openai_api_key" not in fields or any(k in kwargs for k in given):
        return {}
    if "azure_endpoint" in fields:
        for var, arg in (
            ("AZURE_OPENAI_API_KEY", "api_key"),
            ("AZURE_OPENAI_AD_TOKEN", "azure_ad_token"),
        ):
            secret = lookup(var)
            if secret is not None:
                return {arg: secret}
        return {}  # the class reports missing Azure credentials itself
    secret = lookup("OPENAI_API_KEY")
    if secret is not None:
        return {"api_key": secret}
    if kwargs.get("base_url") or kwargs.get("openai_api_base"):
        return {"api_key": NO_KEY}  # a local OpenAI-compatible server
    return {"api_key": require("OPENAI_API_KEY", cls.__name__)}


class LangChainCompletionFn:
    """A LangChain chat model or LLM behind evals' CompletionFn protocol.

    Args:
        llm: import path of the class, e.g. ``langchain_openai.AzureChatOpenAI``.
        llm_kwargs: constructor arguments (registry YAML); other unknown args join them.
        forward_sampling: pass the eval's temperature, max_tokens and stop to ``.invoke``.
        price_model, max_attempts, max_total_s, base_delay, on_failure, retry_policy: as
            for ``openai-compatible``.
    """

    provider = "langchain"

    def __init__(
        self,
        llm: str | None = None,
        llm_kwargs: dict[str, Any] | None = None,
        forward_sampling: bool | str = True,
        price_model: str | None = None,
        max_attempts: int | str | None = None,
        max_total_s: float | str | None = None,
        base_delay: float | str | None = None,
        on_failure: str = "record",
        retry_policy: RetryPolicy | None = None,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        if not llm:
            raise FtevalsError(
                "`langchain` needs llm=IMPORT.PATH, e.g. langchain_openai.ChatOpenAI"
            )
        extras.require("langchain", "the langchain completion function")
        cls = load_class(llm)
        options: dict[str, Any] = {**(llm_kwargs or {}), **kwargs}
        self.secrets: list[Secret] = []
        for name in [k for k in options if k.endswith("_env")]:
            target = name[: -len("_env")]
            secret = require(str(options.pop(name)), f"{llm} ({target})")
            self.secrets.append(secret)
            options[target] = secret
        raw = [
            k
            for k, v in options.items()
            if k.endswith(SECRET_SUFFIXES) and not isinstance(v, Secret) and v != NO_KEY
        ]
        if raw:
            raise FtevalsError(
                f"{llm}: pass {raw[0]} as {raw[0]}_env=VARIABLE (keys on the command line "
                "end up in evals' logs)"
            )
        options.update(_default_credentials(cls, options))
        fields = getattr(cls, "model_fields", {})
        if "max_retries" in fields:
            options.setdefault("max_retries", 0)
        if "request_timeout" in fields and "timeout" not in options:
            options.setdefault("request_timeout", DEFAULT_TIMEOUT_S)
        self.secrets += [v for v in options.values() if isinstance(v, Secret)]
        revealed = {k: v.reveal() if isinstance(v, Secret) else v for k, v in options.items()}
        try:
            self.llm = cls(**revealed)
        except Exception as exc:  # pydantic validation, missing credentials, ...
            raise FtevalsError(f"{llm}: {self.redact(str(exc))}") from None
        from langchain_core.language_models import BaseLLM

        self.is_text_llm = isinstance(self.llm, BaseLLM)
        self.model = str(
            options.get("model")
            or options.get("model_name")
            or options.get("azure_deployment")
            or getattr(self.llm, "model_name", None)
            or cls.__name__
        )
        self.label = llm
        self.forward_sampling = bool(as_bool(forward_sampling, "forward_sampling"))
        self.price_model = price_model
        self.on_failure = check_on_failure(on_failure)
        self.retry = retry_policy or policy_from_args(max_attempts, max_total_s, base_delay)

    def redact(self, text: str) -> str:
        return redact(text, *self.secrets)

    def _invoke(self, prompt: Prompt, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        call: dict[str, Any] = {}
        if self.forward_sampling:
            call = {
                k: kwargs[k]
                for k in ("temperature", "max_tokens", "stop")
                if kwargs.get(k) is not None
            }
        if self.is_text_llm:
            from evals.prompt.base import CompletionPrompt

            text_prompt = (
                prompt
                if isinstance(prompt, str)
                else CompletionPrompt(prompt).to_formatted_prompt()
            )
            return str(self.llm.invoke(text_prompt, **call)), {}
        out = self.llm.invoke(to_langchain(to_messages(prompt)), **call)
        if isinstance(out, str):
            return out, {}
        content = getattr(out, "content", out)
        text = content if isinstance(content, str) else getattr(out, "text", str(content))
        meta = {
            "usage": getattr(out, "usage_metadata", None) or {},
            "model": (getattr(out, "response_metadata", None) or {}).get("model_name"),
        }
        return str(text), meta

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        attempts = 0

        def once() -> tuple[str, dict[str, Any]]:
            nonlocal attempts
            attempts += 1
            return self._invoke(prompt, kwargs)

        try:
            text, meta = self.retry.call(once, redact=self.redact)
        except CompletionFailed as err:
            return fail(
                prompt,
                err,
                model=self.model,
                latency_s=time.perf_counter() - started,
                on_failure=self.on_failure,
                provider=self.provider,
            )
        latency = time.perf_counter() - started
        model = str(meta.get("model") or self.model)
        usage, cost = None, None
        lc_usage = meta.get("usage") or {}
        if "input_tokens" in lc_usage and "output_tokens" in lc_usage:
            p, c = int(lc_usage["input_tokens"]), int(lc_usage["output_tokens"])
            usage = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
            cost = cost_usd(self.price_model or model, p, c)
        record_call(
            prompt,
            [text],
            model=model,
            latency_s=latency,
            usage=usage,
            cost_usd=cost,
            attempts=attempts,
            provider=self.provider,
            llm=self.label,
        )
        return TextCompletionResult([text], raw={"model": model, "usage": usage})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(llm={self.label!r}, model={self.model!r})"
