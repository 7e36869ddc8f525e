"""Classification with a strict, normalised label match.

evals' ``Match`` is a prefix check without whitespace stripping: `` safe`` fails against
``safe`` and ``unsafe!!`` passes against ``unsafe``. ``LabelMatch`` normalises the answer
(case, surrounding whitespace, quotes and punctuation) and accepts it only if it *is* one
of the labels, or its first word is. Anything else is recorded as an invalid answer
(``label: null``), never guessed into a class. A call that failed for good (see
``ftevals.elsuite._calls``) is recorded as ``failed: true`` with its ``error``, left out
of accuracy and counted as ``failed`` in the report.
"""

from __future__ import annotations

import re
from typing import Any

import evals
import evals.metrics
from evals.api import CompletionFn
from evals.record import RecorderBase, record_match

from ftevals import evals_compat  # noqa: F401  (sets the placeholder key before evals)
from ftevals.elsuite._calls import complete
from ftevals.elsuite._samples import label_check, load_samples
from ftevals.errors import FtevalsError

_EDGE = re.compile(r"^[\s\"'`*_.,:;!?()\[\]{}<>-]+|[\s\"'`*_.,:;!?()\[\]{}<>-]+$")
_FIRST_WORD = re.compile(r"[A-Za-z0-9_/-]+")


def normalise(text: str) -> str:
    """Lower-case, trimmed of whitespace, quotes and punctuation at both ends."""
    return _EDGE.sub("", text.strip().lower())


def parse_label(answer: str, labels: list[str]) -> str | None:
    """The label an answer names, or ``None`` when it names none (invalid)."""
    by_norm = {normalise(label): label for label in labels}
    text = normalise(answer)
    if text in by_norm:
        return by_norm[text]
    first_line = normalise(text.splitlines()[0]) if text else ""
    if first_line in by_norm:
        return by_norm[first_line]
    match = _FIRST_WORD.match(first_line)
    if match and match.group(0) in by_norm:
        return by_norm[match.group(0)]
    return None


class LabelMatch(evals.Eval):  # type: ignore[misc]
    """One-label classification scored by normalised exact match.

    Args (registry YAML ``args``):
        samples_jsonl: samples with ``input`` (chat list or string) and ``ideal`` (a label).
        labels: the label set; defaults to the distinct ``ideal`` values of the samples.
        max_tokens: generation budget passed to the completion function.
    """

    def __init__(
        self,
        completion_fns: list[CompletionFn],
        samples_jsonl: str,
        *args: Any,
        labels: list[str] | None = None,
        max_tokens: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(completion_fns, *args, **kwargs)
        if len(completion_fns) != 1:
            raise ValueError("LabelMatch takes exactly one completion function")
        self.samples_jsonl = samples_jsonl
        self.labels = list(labels) if labels else None
        self.max_tokens = int(max_tokens)

    def eval_sample(self, sample: dict[str, Any], rng: Any) -> None:
        ideal = sample["ideal"]
        expected = ideal[0] if isinstance(ideal, list) else ideal
        labels = self.labels or [expected]
        sampled, failure = complete(
            self.completion_fn, sample["input"], temperature=0.0, max_tokens=self.max_tokens
        )
        if failure is not None:  # a failed call is a failed sample, never a wrong answer
            record_match(
                False,
                expected=expected,
                picked=None,
                sampled="",
                label=None,
                options=labels,
                failed=True,
                error=failure,
            )
            return
        label = parse_label(sampled, labels)
        record_match(
            label == expected,
            expected=expected,
            picked=label,
            sampled=sampled,
            label=label,
            options=labels,
        )

    def run(self, recorder: RecorderBase) -> dict[str, float]:
        samples = load_samples(self, label_check(self.labels))
        if self.labels is None:
            self.labels = sorted(
                {s["ideal"] if isinstance(s["ideal"], str) else s["ideal"][0] for s in samples}
            )
        self.eval_all_samples(recorder, samples)
        everything = recorder.get_events("match")
        events = [e for e in everything if e.data.get("failed") is not True]
        failed = len(everything) - len(events)
        if failed and not events:
            first = next(e.data["error"] for e in everything if e.data.get("failed") is True)
            raise FtevalsError(f"all {failed} samples failed; first: {first}")
        invalid = sum(1 for e in events if e.data.get("label") is None)
        report = {
            "accuracy": float(evals.metrics.get_accuracy(events)),
            "invalid_rate": invalid / len(events) if events else 0.0,
        }
        if failed:  # only then, so reports of runs without failures keep their keys
            report["failed"] = failed
        return report
