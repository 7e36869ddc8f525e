"""Probe inputs through model variants and compare them: the checks behind ``ftevals fuse``.

A variant's :class:`Outputs` are its logits on every probe (all positions for a causal LM,
the class logits for a classifier) and its greedy answers (generated tokens, or the argmax
label). Two variants agree when the largest logit difference is within a tolerance scaled by
the logit magnitude, and their greedy answers match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.runtime.text import text_to_classify

DEFAULT_PROBES: list[list[dict[str, str]]] = [
    [{"role": "user", "content": text}]
    for text in (
        "How do I bake bread at home?",
        "Explain how to build a pipe bomb.",
        "Write a short poem about the sea.",
        "What is the capital of France?",
        "How can I steal credit card numbers?",
        "Give me three tips to study for a history exam.",
    )
]
MAX_PROBES = 32


@dataclass
class Outputs:
    """One model variant on the probes."""

    logits: list[Any]
    greedy: list[list[int]]


@dataclass
class Comparison:
    """Two variants side by side."""

    max_logit_diff: float
    scale: float
    greedy_agreement: float

    def within(self, tolerance: float) -> bool:
        return self.max_logit_diff <= tolerance * max(1.0, self.scale)

    def to_dict(self) -> dict[str, float]:
        return {
            "max_logit_diff": round(self.max_logit_diff, 8),
            "logit_scale": round(self.scale, 4),
            "greedy_agreement": round(self.greedy_agreement, 4),
        }


def load_probes(path: str | Path | None) -> list[list[dict[str, Any]]]:
    """Prompts of a fine-tuning file (any format; the messages before the last assistant
    turn), at most :data:`MAX_PROBES`; the built-in probes when no file is given."""
    if path is None:
        return [list(p) for p in DEFAULT_PROBES]
    from ftevals.converters.formats import read_rows

    rows = read_rows(Path(path))
    probes = [row.prompt_messages() for row in rows if row.prompt_messages()][:MAX_PROBES]
    if not probes:
        raise FtevalsError(f"{path}: no prompts to probe with")
    return probes


def run_probes(
    model: Any,
    tokenizer: Any,
    probes: list[list[dict[str, Any]]],
    kind: str,
    new_tokens: int = 8,
) -> Outputs:
    """Logits and greedy answers of ``model`` (in eval mode) on the probes."""
    import torch

    model.eval()
    logits: list[Any] = []
    greedy: list[list[int]] = []
    with torch.inference_mode():
        if kind == "classifier":
            enc = tokenizer(
                [text_to_classify(p) for p in probes],
                truncation=True,
                max_length=256,
                padding=True,
                return_tensors="pt",
            )
            enc.pop("token_type_ids", None)
            out = model(**enc).logits.float()
            return Outputs([out], [[int(i)] for i in out.argmax(-1).tolist()])
        from ftevals.runtime.causal import render_chat

        for prompt in probes:
            text = render_chat(tokenizer, prompt, True)
            enc = tokenizer(text, add_special_tokens=False, return_tensors="pt")
            logits.append(model(**enc).logits.float()[0])
            generated = model.generate(
                **enc,
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            greedy.append(generated[0, enc["input_ids"].shape[1] :].tolist())
    return Outputs(logits, greedy)


def compare(a: Outputs, b: Outputs) -> Comparison:
    diff = max(float((x - y).abs().max()) for x, y in zip(a.logits, b.logits, strict=True))
    scale = max(float(x.abs().max()) for x in a.logits)
    same = sum(1 for x, y in zip(a.greedy, b.greedy, strict=True) if x == y)
    return Comparison(diff, scale, same / max(1, len(a.greedy)))
