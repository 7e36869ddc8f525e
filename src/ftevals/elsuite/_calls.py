"""Calling completion functions from eval classes: answers, and failed calls kept apart.

A remote completion function that fails for good (after its retries) returns a result with
``failed = True`` and an ``error`` reason instead of raising (``ftevals.completion_fns``
records that in its sampling event). Eval classes must not score such an empty answer:
:func:`complete` returns the reason, and the eval records the sample as failed.
"""

from __future__ import annotations

from typing import Any

from evals.api import CompletionFn
from evals.elsuite.utils import format_prompt

from ftevals.completion_fns._retry import failure_of

__all__ = ["complete", "complete_template", "failure_of"]


def complete(fn: CompletionFn, prompt: Any, **kwargs: Any) -> tuple[str, str | None]:
    """``(first completion, failure reason or None)`` of one call."""
    result = fn(prompt=prompt, **kwargs)
    reason = failure_of(result)
    if reason is not None:
        return "", reason
    return str(result.get_completions()[0]), None


def complete_template(
    fn: CompletionFn, template: Any, call_kwargs: dict[str, Any], **format_kwargs: Any
) -> tuple[str, str | None]:
    """Like evals' ``PromptFn``: format ``template`` with ``format_kwargs`` (chat values as
    text), then call ``fn`` with the same sampling arguments PromptFn sends.

    ``call_kwargs`` are evals' ``sample_kwargs``/``eval_kwargs``: ``max_tokens``, optional
    ``temperature`` (default 0), ``n_samples`` and ``completion_kwargs``.
    """
    kwargs = dict(call_kwargs)
    prompt = format_prompt(template, **format_kwargs)
    n_samples = kwargs.pop("n_samples", None)
    extra = kwargs.pop("completion_kwargs", None) or {}
    return complete(
        fn,
        prompt,
        max_tokens=kwargs.pop("max_tokens"),
        temperature=kwargs.pop("temperature", 0),
        top_p=1,
        frequency_penalty=0,
        presence_penalty=0,
        n=1 if n_samples is None else n_samples,
        **{**kwargs, **extra},
    )
