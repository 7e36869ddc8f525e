"""Multi-label classification: the answer is a set of codes, scored by exact set match.

Used by the ``moderation`` eval (OpenAI's moderation taxonomy: S, H, V, HR, SH, S3, H2, V2).
The model answers with comma-separated codes (``H, V``) or ``none``. An answer is read
strictly: every token must be a code (case and surrounding punctuation ignored), or the
whole answer is the none-word; anything else is invalid (``label: null``), never guessed.

Each ``match`` event records ``expected``/``label`` as canonical strings (codes in the
eval's order joined by ``,``; ``none`` for the empty set), the ``gold`` and ``predicted``
code lists, and ``per_label`` outcomes (``tp``/``fp``/``fn`` for codes that are not true
negatives). The report has ``accuracy`` (exact set match; invalid answers count as wrong),
``invalid_rate``, ``hamming_accuracy``, micro/macro F1 and ``<code>/precision|recall|f1|
support`` computed over valid answers. A failed call (``ftevals.elsuite._calls``) is recorded
with ``failed: true``, left out of every figure and counted as ``failed``.
"""

from __future__ import annotations

import re
from typing import Any

import evals
from evals.api import CompletionFn
from evals.record import RecorderBase, record_match

from ftevals.elsuite._calls import complete
from ftevals.elsuite._samples import load_samples
from ftevals.errors import FtevalsError

_SPLIT = re.compile(r"\s*(?:,|;|\band\b|\s)\s*", re.IGNORECASE)
_EDGE = "\"'`*_.!?:()[]{}<> \t"
_PREFIX = re.compile(r"^(?:categories|category|codes|labels|answer)\s*:\s*", re.IGNORECASE)


def parse_codes(answer: str, codes: list[str], none_word: str = "none") -> frozenset[str] | None:
    """The set of codes an answer names (empty for the none-word), or None when invalid.

    Only the first non-blank line is read.
    """
    by_fold = {code.casefold(): code for code in codes}
    line = next((ln for ln in answer.splitlines() if ln.strip()), "")
    text = _PREFIX.sub("", line.strip().strip(_EDGE)).strip(_EDGE)
    if not text:
        return None
    if text.casefold() == none_word.casefold():
        return frozenset()
    found: set[str] = set()
    for token in _SPLIT.split(text):
        token = token.strip(_EDGE)
        if not token:
            continue
        code = by_fold.get(token.casefold())
        if code is None:
            return None
        found.add(code)
    return frozenset(found) if found else None


def canonical(labels: frozenset[str], codes: list[str], none_word: str = "none") -> str:
    """Codes in taxonomy order joined by ``,``; the none-word for the empty set."""
    return ",".join(code for code in codes if code in labels) or none_word


def gold_codes(ideal: Any, codes: list[str], none_word: str = "none") -> frozenset[str]:
    """A sample's ``ideal``: a list of codes (``[]`` = none) or a string like ``"H,V"``."""
    if isinstance(ideal, str):
        parsed = parse_codes(ideal, codes, none_word)
        if parsed is None:
            raise FtevalsError(f"ideal {ideal!r} is not a list of codes from {codes}")
        return parsed
    if isinstance(ideal, list) and all(isinstance(code, str) for code in ideal):
        unknown = sorted(set(ideal) - set(codes))
        if unknown:
            raise FtevalsError(f"ideal {ideal!r}: unknown codes {unknown} (codes: {codes})")
        return frozenset(ideal)
    raise FtevalsError(f"ideal must be a list of codes or a string, got {ideal!r}")


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class MultiLabelMatch(evals.Eval):  # type: ignore[misc]
    """Exact set match over a fixed code set, with per-label statistics.

    Args (registry YAML ``args``):
        samples_jsonl: samples with ``input`` and ``ideal`` (list of codes, ``[]`` for none).
        codes: the code set, in report order.
        none_word: the answer meaning "no code applies" (default ``none``).
        max_tokens: generation budget passed to the completion function.
    """

    def __init__(
        self,
        completion_fns: list[CompletionFn],
        samples_jsonl: str,
        *args: Any,
        codes: list[str],
        none_word: str = "none",
        max_tokens: int = 16,
        **kwargs: Any,
    ) -> None:
        super().__init__(completion_fns, *args, samples_jsonl=samples_jsonl, **kwargs)
        if len(completion_fns) != 1:
            raise FtevalsError("MultiLabelMatch takes exactly one completion function")
        self.codes = [str(code) for code in codes]
        if not self.codes or len(set(self.codes)) != len(self.codes):
            raise FtevalsError(f"codes must be a non-empty list without duplicates: {codes}")
        if none_word.casefold() in {code.casefold() for code in self.codes}:
            raise FtevalsError(f"none_word {none_word!r} is also a code")
        self.none_word = none_word
        self.max_tokens = int(max_tokens)

    def _check_row(self, row: dict[str, Any]) -> tuple[str, str] | None:
        if "ideal" not in row:
            return "ideal", "missing (a list of codes, [] for none)"
        try:
            gold_codes(row["ideal"], self.codes, self.none_word)
        except FtevalsError as exc:
            return "ideal", str(exc)
        return None

    def eval_sample(self, sample: dict[str, Any], rng: Any) -> None:
        gold = gold_codes(sample["ideal"], self.codes, self.none_word)
        expected = canonical(gold, self.codes, self.none_word)
        sampled, failure = complete(
            self.completion_fn, sample["input"], temperature=0.0, max_tokens=self.max_tokens
        )
        if failure is not None:  # a failed call is a failed sample, never an answer
            record_match(
                False, expected=expected, picked=None, label=None, failed=True, error=failure
            )
            return
        predicted = parse_codes(sampled, self.codes, self.none_word)
        per_label: dict[str, str] = {}
        if predicted is not None:
            for code in self.codes:
                if code in gold and code in predicted:
                    per_label[code] = "tp"
                elif code in predicted:
                    per_label[code] = "fp"
                elif code in gold:
                    per_label[code] = "fn"
        label = None if predicted is None else canonical(predicted, self.codes, self.none_word)
        record_match(
            predicted == gold,
            expected=expected,
            picked=label,
            sampled=sampled,
            label=label,
            gold=[c for c in self.codes if c in gold],
            predicted=None if predicted is None else [c for c in self.codes if c in predicted],
            per_label=per_label,
        )

    def run(self, recorder: RecorderBase) -> dict[str, float]:
        self.eval_all_samples(recorder, load_samples(self, self._check_row))
        events = [e.data for e in recorder.get_events("match")]
        matches = [m for m in events if not m.get("failed")]
        failed = len(events) - len(matches)
        if failed and not matches:
            raise FtevalsError(f"all {failed} samples failed (see the log's sampling events)")
        return self.report(matches, failed)

    def report(self, matches: list[dict[str, Any]], failed: int = 0) -> dict[str, float]:
        valid = [m for m in matches if m["label"] is not None]
        n = len(matches)
        result: dict[str, float] = {
            "accuracy": sum(1 for m in matches if m["correct"]) / n if n else float("nan"),
            "n": n,
            "invalid": n - len(valid),
            "invalid_rate": (n - len(valid)) / n if n else 0.0,
            "failed": failed,
        }
        totals = {"tp": 0, "fp": 0, "fn": 0}
        f1s = []
        for code in self.codes:
            outcome = [m["per_label"].get(code) for m in valid]
            tp, fp, fn = (outcome.count(k) for k in ("tp", "fp", "fn"))
            for key, value in zip(("tp", "fp", "fn"), (tp, fp, fn), strict=True):
                totals[key] += value
            precision, recall, f1 = _prf(tp, fp, fn)
            f1s.append(f1)
            result.update(
                {
                    f"{code}/precision": precision,
                    f"{code}/recall": recall,
                    f"{code}/f1": f1,
                    f"{code}/support": tp + fn,
                }
            )
        result["micro_f1"] = _prf(totals["tp"], totals["fp"], totals["fn"])[2]
        result["macro_f1"] = sum(f1s) / len(f1s)
        wrong = totals["fp"] + totals["fn"]
        cells = len(valid) * len(self.codes)
        result["hamming_accuracy"] = 1 - wrong / cells if cells else float("nan")
        return result
