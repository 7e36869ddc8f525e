"""Classification figures per group of a sample field (``ftevals compare --by FIELD``).

The field is read from the eval's samples file, found as evals finds it
(``scoring.samples_file``); sample ``<base>.<split>.<i>`` is row ``i``. A field is a top-level
key of the sample, else a key of its ``metadata`` (where ``ftevals convert`` and
``ftevals data build`` put a row's metadata), else a dotted path (``metadata.source``).
Scalar values are the groups (``(missing)`` when absent); lists and objects are grouped by
their JSON text.

Per group: ``n``, accuracy, recall on the positive label's samples and false-positive rate on
the others (``scoring.positive_label``; None without one), each with its Wilson interval.
A group with fewer than ``min_group`` samples is marked ``too_small``: its interval is too
wide to read a difference from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ftevals.harness import intervals, scoring
from ftevals.harness.intervals import Interval
from ftevals.harness.scoring import Outcome

if TYPE_CHECKING:
    from ftevals.harness.compare import ModelEvalReport
    from ftevals.harness.logs import EvalLog

MIN_GROUP = 30
MISSING = "(missing)"


class Group(BaseModel):
    """The figures of one value of the field (``positives``/``negatives``: the samples
    expected as the positive label / as another label)."""

    value: str
    n: int
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    positives: int = 0
    recall: float | None = None
    recall_ci: Interval | None = None
    negatives: int = 0
    fpr: float | None = None
    fpr_ci: Interval | None = None
    too_small: bool = False


class Breakdown(BaseModel):
    """One model on one eval, grouped by one sample field (groups by decreasing ``n``)."""

    eval: str
    eval_name: str
    model: str
    run_id: str
    field: str
    positive_label: str | None = None
    min_group: int = MIN_GROUP
    groups: list[Group] = Field(default_factory=list)
    note: str | None = None


def field_value(sample: dict[str, Any], field: str) -> str:
    """The group of a sample: ``field`` at top level, in ``metadata``, or as a dotted path."""
    missing = object()
    metadata = sample.get("metadata")
    value: Any = sample.get(field, missing)
    if value is missing and isinstance(metadata, dict):
        value = metadata.get(field, missing)
    if value is missing and "." in field:
        value = sample
        for part in field.split("."):
            value = value.get(part, missing) if isinstance(value, dict) else missing
    if value is missing or value is None:
        return MISSING
    if isinstance(value, str | int | float | bool):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def group(value: str, outcomes: Sequence[Outcome], positive: str | None, min_group: int) -> Group:
    """The figures of the samples of one group."""
    n = len(outcomes)
    correct = sum(1 for o in outcomes if o.correct)
    found = Group(value=value, n=n, too_small=n < min_group)
    found.accuracy_ci = intervals.wilson(correct, n)
    found.accuracy = correct / n if n else None
    if positive is not None:
        pos = [o for o in outcomes if o.expected == positive]
        neg = [o for o in outcomes if o.expected != positive]
        hits = sum(1 for o in pos if o.predicted == positive)
        false_pos = sum(1 for o in neg if o.predicted == positive)
        found.positives, found.negatives = len(pos), len(neg)
        found.recall = hits / len(pos) if pos else None
        found.recall_ci = intervals.wilson(hits, len(pos))
        found.fpr = false_pos / len(neg) if neg else None
        found.fpr_ci = intervals.wilson(false_pos, len(neg))
    return found


def breakdown(
    log: EvalLog,
    row: ModelEvalReport,
    outcomes: list[Outcome],
    field: str,
    min_group: int = MIN_GROUP,
) -> Breakdown:
    """``row``'s samples grouped by ``field`` of the eval's samples."""
    from ftevals.jsonl import read_jsonl

    found = Breakdown(
        eval=row.eval,
        eval_name=row.eval_name,
        model=row.model,
        run_id=row.run_id,
        field=field,
        positive_label=row.positive_label,
        min_group=min_group,
    )
    path, why = scoring.samples_file(log)
    if path is None:
        found.note = f"not grouped by {field}: {why}"
        return found
    samples = read_jsonl(path)
    groups: dict[str, list[Outcome]] = {}
    unplaced = 0
    for outcome in outcomes:
        line = scoring.sample_line(log, outcome.sample_id)
        if line is None or line >= len(samples):
            unplaced += 1
            continue
        groups.setdefault(field_value(samples[line], field), []).append(outcome)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    found.groups = [group(v, members, row.positive_label, min_group) for v, members in ordered]
    if unplaced:
        found.note = f"{unplaced} samples not found in {path} (left out)"
    elif all(g.value == MISSING for g in found.groups):
        found.note = f"no sample of {path} has a field {field!r}"
    return found


def breakdowns(
    scored: list[tuple[EvalLog, ModelEvalReport, list[Outcome]]],
    fields: list[str],
    min_group: int = MIN_GROUP,
) -> list[Breakdown]:
    """Per field, per classification log: its breakdown (in the order given)."""
    return [
        breakdown(log, row, outcomes, field, min_group)
        for field in fields
        for log, row, outcomes in scored
        if row.kind == "classification"
    ]
