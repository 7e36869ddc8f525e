"""Chain of thought, then extract (as evals' ``cot``), over any completion functions by name.

One function reasons (the prompt plus ``cot_template``), then a second call (the same
function by default) reads the reasoning and gives the final answer::

    oaieval cot prompt-safety --registry_path registry --completion_args \\
        cot_completion_fn=openai-compatible,base_url=http://127.0.0.1:8000/v1,model=m

Inner functions are built with ``registry.make_completion_fn``; completion args this class
does not use are passed on to them. The reasoning call gets ``cot_max_tokens`` (the eval's
budget, e.g. LabelMatch's 8, is for the answer only). The inner functions record their own
``sampling`` events (usage, latency, cost); this wrapper adds one summary event per sample
(``wrapper: cot``, the reasoning, no usage) so token and cost sums are not counted twice.
If an inner call fails, the sample fails with that reason.
"""

from __future__ import annotations

import time
from typing import Any

from evals.record import record_sampling

from ftevals.completion_fns._retry import (
    CompletionFailed,
    FailedCompletionResult,
    check_on_failure,
    failure_of,
    int_arg,
)
from ftevals.completion_fns.base import Prompt, TextCompletionResult, to_messages
from ftevals.errors import FtevalsError

# evals' own templates (evals/completion_fns/cot.py), so results compare with evals' cot.
DEFAULT_COT_TEMPLATE = (
    "\nBefore answering, reason in a step-by-step manner as to get the right answer, "
    "then conclude with the answer."
)
DEFAULT_EXTRACT_ANSWER_TEMPLATE = (
    "\nGiven the above reasoning, the answer in the format requested by the question is:"
)


def _registry(registry: Any, registry_path: str | None) -> Any:
    if registry is None:
        from ftevals import evals_compat
        from ftevals.paths import project_registry

        registry = evals_compat.registry_class()()
        registry.add_registry_paths([str(project_registry())])
    if registry_path:
        registry.add_registry_paths([registry_path])
    return registry


class ChainOfThoughtCompletionFn:
    """Reason with ``cot_completion_fn``, extract the answer with ``extract_completion_fn``.

    Args:
        cot_completion_fn: registry name of the reasoning function.
        extract_completion_fn: registry name of the extracting function (default: the same).
        cot_template / extract_answer_template: evals' defaults.
        cot_max_tokens: token budget of the reasoning call.
        on_failure: ``record`` (a failed inner call fails the sample) or ``raise``.
        registry_path: an extra registry to find the inner functions in.
    """

    def __init__(
        self,
        cot_completion_fn: str | None = None,
        extract_completion_fn: str | None = None,
        cot_template: str = DEFAULT_COT_TEMPLATE,
        extract_answer_template: str = DEFAULT_EXTRACT_ANSWER_TEMPLATE,
        cot_max_tokens: int | str = 512,
        on_failure: str = "record",
        registry: Any = None,
        registry_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not cot_completion_fn:
            raise FtevalsError("`cot` needs cot_completion_fn=NAME (a registry completion fn)")
        registry = _registry(registry, registry_path)
        self.names = (cot_completion_fn, extract_completion_fn or cot_completion_fn)
        self.cot_fn = registry.make_completion_fn(self.names[0], **kwargs)
        if self.names[1] == self.names[0]:
            self.extract_fn = self.cot_fn
        else:
            self.extract_fn = registry.make_completion_fn(self.names[1], **kwargs)
        self.cot_template = cot_template
        self.extract_answer_template = extract_answer_template
        self.cot_max_tokens = int_arg(cot_max_tokens, "cot_max_tokens")
        self.on_failure = check_on_failure(on_failure)
        self.model = f"cot({self.names[0]}" + (
            f", {self.names[1]})" if self.names[1] != self.names[0] else ")"
        )

    def _failed(
        self, prompt: Prompt, reason: str, started: float, **extra: Any
    ) -> FailedCompletionResult:
        record_sampling(
            prompt=prompt,
            sampled=[],
            model=self.model,
            wrapper="cot",
            failed=True,
            error=reason,
            total_latency_s=round(time.perf_counter() - started, 6),
            **extra,
        )
        if self.on_failure == "raise":
            raise CompletionFailed(reason)
        return FailedCompletionResult(reason)

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        cot_prompt = [*to_messages(prompt), {"role": "assistant", "content": self.cot_template}]
        first = self.cot_fn(prompt=cot_prompt, **{**kwargs, "max_tokens": self.cot_max_tokens})
        reason = failure_of(first)
        if reason is not None:
            return self._failed(prompt, f"reasoning step failed: {reason}", started)
        reasoning = first.get_completions()[0]
        extraction_prompt = [
            *cot_prompt,
            {"role": "assistant", "content": reasoning},
            {"role": "assistant", "content": self.extract_answer_template},
        ]
        second = self.extract_fn(prompt=extraction_prompt, **kwargs)
        reason = failure_of(second)
        if reason is not None:
            return self._failed(
                prompt, f"extraction step failed: {reason}", started, reasoning=reasoning
            )
        answer = second.get_completions()[0].strip()
        record_sampling(
            prompt=prompt,
            sampled=[answer],
            model=self.model,
            wrapper="cot",
            reasoning=reasoning,
            total_latency_s=round(time.perf_counter() - started, 6),
        )
        return TextCompletionResult([answer], raw={"reasoning": reasoning})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model})"
