"""The label a classification answer names, read back from a ``match`` event.

Classes of ours (``ftevals.elsuite``) record the label they parsed as ``data.label``
(``null``: the answer names no label); it is used as recorded. evals' own classes do not:
``Match`` records ``picked: null`` and ``options: [ideal]`` on a miss, ``Includes`` records
``picked`` = the whole answer, ``FuzzyMatch`` records ``picked`` = ``[]`` on a miss and no
``sampled`` at all. For those, the predicted label is derived, in this order:

1. ``correct: true``: the expected label (evals' verdict stands, so accuracy is evals' own);
2. ``picked`` when it is a label other than the expected one (``record_and_check_match``
   with all labels as ``options``);
3. the answer (``data.sampled``, else the last answered ``sampling`` event's ``sampled``),
   matched against the labels other than the expected one with the rule of the class:

   * ``Match`` (and any other class): evals' ``record_and_check_match`` rule, the answer
     *starts with* the label, no stripping; several labels can only be prefixes of one
     another, and the longest wins;
   * ``Includes``: the label occurs in the answer (ignoring case with ``ignore_case``);
   * ``FuzzyMatch``: evals' ``normalize`` (lower case, no punctuation, articles or extra
     spaces) of both, then the normalised answer equals a label, else contains labels,
     else is contained in labels (evals' two-way substring test, tried in that order).

   Substring rules search the longest labels first and blank out where they occur, so
   ``unsafe`` does not also count as ``safe``. An answer that names no label, or names
   several (ambiguous), is :data:`INVALID`.

A hit that also names another label (``Includes`` counts ``unsafe`` as right for the
expected ``safe``) stays right, as evals scored it; :func:`overlapping_hits` counts those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ftevals.harness.logs import EvalLog, LogEvent

INVALID = "__invalid__"
"""Prediction of an answer that matches no label (also ModelBasedClassify's invalid choice)."""

Rule = Callable[[str, list[str]], list[str]]


def eval_class(log: EvalLog) -> str:
    """The class name of the log's eval (``Match`` from ``evals.elsuite.basic.match:Match``)."""
    node: Any = log.spec
    for key in ("run_config", "eval_spec", "cls"):
        node = node.get(key) if isinstance(node, dict) else None
    return str(node).rsplit(":", 1)[-1] if isinstance(node, str) else ""


def _masked_substrings(text: str, labels: Iterable[str], fold: bool = False) -> list[str]:
    """Labels occurring in ``text``, longest first, each blanked out once found."""
    found = []
    text = text.lower() if fold else text
    for label in sorted(labels, key=len, reverse=True):
        key = label.lower() if fold else label
        if key and key in text:
            found.append(label)
            text = text.replace(key, "\0")
    return found


def prefix_rule(answer: str, labels: list[str]) -> list[str]:
    """``Match``: the longest label the answer starts with."""
    found = [label for label in labels if answer.startswith(label)]
    return [max(found, key=len)] if found else []


def includes_rule(ignore_case: bool) -> Rule:
    """``Includes``: labels occurring in the answer."""
    return lambda answer, labels: _masked_substrings(answer, labels, ignore_case)


def fuzzy_rule(answer: str, labels: list[str]) -> list[str]:
    """``FuzzyMatch``: equal after evals' ``normalize``, else one contains the other."""
    from ftevals import evals_compat

    evals_compat.ensure_importable()
    from evals.elsuite.utils import normalize

    text = normalize(answer)
    by_norm = {normalize(label): label for label in labels}
    if text in by_norm:
        return [by_norm[text]]
    inside = _masked_substrings(text, [n for n in by_norm if n])
    if inside or not text:
        return [by_norm[n] for n in inside]
    return [label for norm, label in by_norm.items() if text in norm]


def class_rule(log: EvalLog) -> Rule:
    """The answer-to-label rule of the log's eval class (see the module docstring)."""
    from ftevals.harness.scoring import spec_args

    cls = eval_class(log)
    if cls == "Includes":
        return includes_rule(bool(spec_args(log).get("ignore_case", False)))
    if cls == "FuzzyMatch":
        return fuzzy_rule
    return prefix_rule


def sampled_answers(log: EvalLog) -> dict[str, str]:
    """Sample id -> the first completion of its last answered ``sampling`` event."""
    answers: dict[str, str] = {}
    for event in log.events_of("sampling"):
        sampled = event.data.get("sampled")
        if isinstance(sampled, list) and sampled:
            sampled = sampled[0]
        if isinstance(sampled, str) and event.data.get("failed") is not True:
            answers[event.sample_id or ""] = sampled
    return answers


def answer_of(event: LogEvent, answers: dict[str, str]) -> str | None:
    """The answer of a match event: its ``sampled``, else its sample's sampling answer."""
    sampled = event.data.get("sampled")
    if isinstance(sampled, list) and sampled:
        sampled = sampled[0]
    return sampled if isinstance(sampled, str) else answers.get(event.sample_id or "")


def recorded_labels(events: list[LogEvent]) -> set[str]:
    """Labels our classes recorded (``data.label``): part of the label set even if never
    expected (``KeywordRefusal`` expects one outcome and records both)."""
    return {v for e in events if isinstance(v := e.data.get("label"), str) and v != INVALID}


def predicted_label(
    event: LogEvent, expected: str, labels: list[str], rule: Rule, answers: dict[str, str]
) -> str:
    """The label a match event's answer names, or :data:`INVALID` (module docstring)."""
    data = event.data
    if "label" in data:
        label = data["label"]
        return label if isinstance(label, str) and label in labels else INVALID
    if data.get("correct") is True:
        return expected
    picked = data.get("picked")
    if isinstance(picked, str) and picked != expected and picked in labels:
        return picked
    answer = answer_of(event, answers)
    if answer is None:
        return INVALID
    found = rule(answer, [label for label in labels if label != expected])
    return found[0] if len(found) == 1 else INVALID


def overlapping_hits(
    events: list[LogEvent],
    expected: list[str],
    labels: list[str],
    rule: Rule,
    answers: dict[str, str],
) -> int:
    """Hits of evals' classes whose answer, by the class rule, names another label instead."""
    count = 0
    for event, truth in zip(events, expected, strict=True):
        if "label" in event.data or event.data.get("correct") is not True:
            continue
        answer = answer_of(event, answers)
        if answer is not None and rule(answer, labels) not in ([truth], []):
            count += 1
    return count
