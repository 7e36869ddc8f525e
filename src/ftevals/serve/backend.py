"""What the server runs: local models behind one small, blocking interface.

:class:`LocalBackend` holds runtime models (:mod:`ftevals.runtime`, the same code the
completion functions run, without their evals recording): the causal LM's
:class:`~ftevals.runtime.batching.DynamicBatcher` gathers concurrent HTTP requests into
batches exactly as it gathers evals' worker threads, and a LoRA classifier (PyTorch or ONNX
backend) answers with its label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ftevals.runtime.causal import CausalLM
    from ftevals.runtime.classifier import Classifier


@dataclass(frozen=True)
class Sampling:
    """Generation settings of one request."""

    max_tokens: int | None = None  # None: the backend's default budget
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()


@dataclass
class Generation:
    """One finished answer and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" or "length"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a classifier's probs


class Backend(Protocol):
    """Served models. ``generate`` blocks; the app calls it from worker threads."""

    def models(self) -> list[str]: ...

    def generate(
        self, model: str, messages: list[tuple[str, str]], sampling: Sampling
    ) -> Generation: ...


def default_name(model_ref: str, adapters: list[str]) -> str:
    """The served model id: the model reference plus ``+adapter`` names.

    A reference that is a local directory contributes its directory name only, so the id
    also fits Azure's ``/openai/deployments/{name}/...`` paths.
    """
    base = Path(model_ref).name if Path(model_ref).is_dir() else model_ref
    return base + "".join(f"+{Path(a).name}" for a in adapters)


class LocalBackend:
    """A local causal LM (with adapters) and/or a LoRA classifier, each under one model id."""

    def __init__(
        self,
        causal: CausalLM | None = None,
        classifier: Classifier | None = None,
        name: str | None = None,
        max_tokens: int = 256,
    ) -> None:
        if causal is None and classifier is None:
            raise ValueError("a backend needs a causal model or a classifier")
        self.causal = causal
        self.classifier = classifier
        self.default_max_tokens = max_tokens
        self.causal_id = (name or causal.name) if causal is not None else None
        self.classifier_id = classifier.name if classifier is not None else None

    @classmethod
    def load(
        cls,
        model: str | None,
        adapters: list[str] | None = None,
        classifier: str | None = None,
        name: str | None = None,
        batch_size: int = 16,
        max_wait_ms: float = 10.0,
        max_tokens: int = 256,
        classifier_backend: str = "torch",
        quantize: str = "none",
    ) -> LocalBackend:
        """Load the models named on the command line."""
        causal_lm = None
        if model:
            from ftevals.runtime.causal import CausalLM

            causal_lm = CausalLM(
                model, adapters=list(adapters or []), batch_size=batch_size, max_wait_ms=max_wait_ms
            )
            name = name or default_name(model, [str(d) for d in causal_lm.adapter_dirs])
        loaded_classifier = None
        if classifier:
            from ftevals.runtime.classifier import Classifier

            loaded_classifier = Classifier(
                classifier, batch_size=batch_size, backend=classifier_backend, quantize=quantize
            )
        return cls(causal_lm, loaded_classifier, name, max_tokens)

    def models(self) -> list[str]:
        return [m for m in (self.causal_id, self.classifier_id) if m is not None]

    def generate(
        self, model: str, messages: list[tuple[str, str]], sampling: Sampling
    ) -> Generation:
        if model == self.classifier_id and self.classifier is not None:
            return self._classify(messages)
        if model != self.causal_id or self.causal is None:
            raise KeyError(model)
        from ftevals.runtime.causal import GenRequest

        budget = sampling.max_tokens or self.default_max_tokens
        request = GenRequest(
            messages=tuple(messages),
            max_new_tokens=budget,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            stop=sampling.stop,
        )
        result = self.causal.generate(request)
        extra = {} if result.probs is None else {"probs": result.probs}
        stopped_early = result.completion_tokens < budget or bool(self.causal.choices)
        return Generation(
            result.text,
            result.prompt_tokens,
            result.completion_tokens,
            "stop" if stopped_early else "length",
            extra,
        )

    def _classify(self, messages: list[tuple[str, str]]) -> Generation:
        from ftevals.runtime.text import text_to_classify

        assert self.classifier is not None
        prompt = [{"role": role, "content": content} for role, content in messages]
        label, probs, n_tokens = self.classifier.classify(text_to_classify(prompt))
        return Generation(label, n_tokens, 0, "stop", {"probs": probs})
