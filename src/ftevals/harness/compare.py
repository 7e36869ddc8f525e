"""Compare evals runs across models: one report row per log (model x eval), then pairs.

A log with ``match`` events is scored as a classification (``kind="classification"``):
accuracy, per-class precision/recall/F1/support, macro and weighted averages (the figures of
sklearn's ``classification_report(labels=<label set>, zero_division=0)``), confusion matrix,
Matthews correlation and, where probabilities were recorded, AUPRC with a threshold sweep.
Answers that match no label are predicted as :data:`INVALID`. A log without ``match`` events
but with ``metrics`` events carrying a ``choice`` (``ModelBasedClassify``) is model-graded.
Failed samples are counted apart and scored nowhere (see ``ftevals.harness.scoring``).

Every figure of an eval carries a 95% interval (``ftevals.harness.intervals``); every
classification eval gets a ``baseline/majority`` row (``ftevals.harness.baselines``); with
``by``, the figures per group of a sample field (``ftevals.harness.breakdown``).

Across logs (``ftevals.harness.paired``): two models on the same samples get McNemar's test,
a paired bootstrap CI and the samples that flipped; judges of the same answers get their
agreement and Cohen's kappa. Another kind of eval is added by writing a scorer in ``scoring``
and dispatching to it in :func:`report_log`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ftevals.errors import InputError
from ftevals.harness import intervals, scoring
from ftevals.harness.breakdown import MIN_GROUP, Breakdown
from ftevals.harness.degenerate import THRESHOLD, AnswerQuality, answer_quality
from ftevals.harness.intervals import Interval
from ftevals.harness.logs import EvalLog
from ftevals.harness.scoring import INVALID, Outcome
from ftevals.harness.seeds import SeedGroup

__all__ = ["INVALID", "Comparison", "ModelEvalReport", "compare_logs", "report_log"]


class ClassReport(BaseModel):
    """Precision, recall, F1 and support of one class or one average, with intervals
    (per class: Wilson for precision and recall, bootstrap for F1; averages: bootstrap)."""

    precision: float
    recall: float
    f1: float
    support: int
    precision_ci: Interval | None = None
    recall_ci: Interval | None = None
    f1_ci: Interval | None = None


class CurvePoint(BaseModel):
    """One threshold of the sweep: predict the positive class when p >= threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float


class ModelEvalReport(BaseModel):
    """The figures of one log: one model on one eval.

    ``model`` is the run's completion functions joined by ','; ``eval`` the base eval name;
    ``n`` the scored samples (failed ones excluded, counted in ``failed``). Classification
    fills ``accuracy``, ``labels``, ``per_class``, ``macro``, ``weighted``, ``mcc`` and
    ``confusion`` (expected -> predicted, incl. '__invalid__'); with probabilities also
    ``positive_label``, ``auprc`` and ``pr_curve``. Model-graded fills ``judge`` and
    ``policy`` (``scoring.judge_and_policy``), ``choice_counts``, ``mean_score``,
    ``metascore`` and, where the samples carry a human ``choice``, ``human_n``,
    ``human_agreement`` and ``human_kappa``.

    Every figure of the eval has a 95% interval beside it, ``<figure>_ci`` (an
    :class:`~ftevals.harness.intervals.Interval` with its ``n`` and method; per class inside
    ``ClassReport``): accuracy, ``fpr`` (share of the samples not expected as
    ``positive_label`` that were predicted as it), ``mcc``, ``auprc``, ``mean_score``,
    ``metascore``, ``choice_rates`` (per choice), human agreement and kappa.
    ``baseline`` rows are computed from the samples, no model (``ftevals.harness.baselines``);
    ``flags`` says when a model is not distinguishable from the majority baseline, or when
    too many of its answers are empty or degenerate (``answer_quality``: their counts and share,
    and the main figure without them; ``ftevals.harness.degenerate``).
    ``samples_per_s`` is n / (last event time - spec time), which excludes model loading.
    Tokens, latency and cost come from sampling events that carry them (else None);
    ``cost_per_1k`` is the cost per 1,000 samples attempted (scored + failed).
    """

    model: str
    eval: str
    eval_name: str = ""
    kind: Literal["classification", "modelgraded"]
    run_id: str
    log: str
    baseline: bool = False
    judge: str | None = None
    policy: str | None = None
    n: int
    failed: int = 0
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    labels: list[str] = Field(default_factory=list)
    per_class: dict[str, ClassReport] = Field(default_factory=dict)
    macro: ClassReport | None = None
    weighted: ClassReport | None = None
    mcc: float | None = None
    mcc_ci: Interval | None = None
    invalid: int = 0
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    positive_label: str | None = None
    fpr: float | None = None
    fpr_ci: Interval | None = None
    auprc: float | None = None
    auprc_ci: Interval | None = None
    pr_curve: list[CurvePoint] = Field(default_factory=list)
    choice_counts: dict[str, int] = Field(default_factory=dict)
    choice_rates: dict[str, Interval] = Field(default_factory=dict)
    mean_score: float | None = None
    mean_score_ci: Interval | None = None
    metascore: float | None = None
    metascore_ci: Interval | None = None
    human_n: int | None = None
    human_agreement: float | None = None
    human_agreement_ci: Interval | None = None
    human_kappa: float | None = None
    human_kappa_ci: Interval | None = None
    samples_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    cost_usd: float | None = None
    cost_per_1k: float | None = None
    notes: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    answer_quality: AnswerQuality | None = None


class Flip(BaseModel):
    """A sample on which two models differ: right/wrong (classification) or choice."""

    sample_id: str
    expected: str | None = None
    a: str | None
    b: str | None


class PairedComparison(BaseModel):
    """Model B against model A on the samples both scored (same eval, same samples).

    ``a_only``/``b_only``: samples only A / only B got right (McNemar's discordant pairs);
    ``diff`` = B - A of ``metric`` (accuracy, or mean score for model-graded), with a paired
    bootstrap CI (fixed seed). ``flips``: the samples on which they differ.
    ``significant``: McNemar p < 0.05 and the CI excludes 0 (model-graded: the CI alone);
    None when the two disagree; ``verdict`` says it in words.
    """

    eval: str
    eval_name: str
    kind: Literal["classification", "modelgraded"]
    model_a: str
    model_b: str
    run_a: str
    run_b: str
    n: int
    a_only: int | None = None
    b_only: int | None = None
    mcnemar_p: float | None = None
    mcnemar_statistic: float | None = None
    mcnemar_method: str | None = None
    metric: str
    a_value: float | None = None
    b_value: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float = 0.95
    significant: bool | None = None
    verdict: str = ""
    flips: list[Flip] = Field(default_factory=list)


class JudgeAgreement(BaseModel):
    """Two judges grading the same answers (same eval and policy, different last fn)."""

    eval: str
    eval_name: str
    policy: str
    judge_a: str
    judge_b: str
    run_a: str
    run_b: str
    n: int
    agreement: float | None
    kappa: float | None
    agreement_ci: Interval | None = None
    kappa_ci: Interval | None = None


class Comparison(BaseModel):
    """Reports of several logs, in the order the logs were given, then the paired figures.

    ``baselines``: one ``baseline/majority`` row per classification eval
    (``ftevals.harness.baselines``), apart from ``rows`` so that ``rows`` stays one per log.
    ``breakdowns``: per ``--by`` field and classification log, the figures per group
    (``ftevals.harness.breakdown``). ``seed_groups``: runs of one model that differ only in
    seed, with the mean and spread of their figures (``ftevals.harness.seeds``).
    """

    rows: list[ModelEvalReport]
    baselines: list[ModelEvalReport] = Field(default_factory=list)
    breakdowns: list[Breakdown] = Field(default_factory=list)
    paired: list[PairedComparison] = Field(default_factory=list)
    judges: list[JudgeAgreement] = Field(default_factory=list)
    seed_groups: list[SeedGroup] = Field(default_factory=list)
    contamination: list[str] = Field(
        default_factory=list,
        description="Warnings: evaluated samples matching a local adapter's recorded training "
        "prompts (ftevals.harness.contamination); set by `ftevals compare`.",
    )


def compare_logs(
    logs: list[EvalLog],
    by: list[str] | None = None,
    min_group: int = MIN_GROUP,
    degenerate_threshold: float = THRESHOLD,
) -> Comparison:
    """One :class:`ModelEvalReport` per log, the majority baselines, paired comparisons, judge
    agreement, seed groups and, per field of ``by``, the figures per group of that sample
    field. Rows whose share of empty or degenerate answers passes ``degenerate_threshold``
    are flagged."""
    from ftevals.harness.baselines import add_baselines
    from ftevals.harness.breakdown import breakdowns
    from ftevals.harness.paired import judge_agreement, paired_comparisons
    from ftevals.harness.seeds import seed_groups

    scored = [score_log(log, degenerate_threshold) for log in logs]
    baselines = add_baselines(scored)
    groups = [(log, row, outcomes) for log, (row, outcomes) in zip(logs, scored, strict=True)]
    return Comparison(
        rows=[row for row, _ in scored],
        baselines=baselines,
        breakdowns=breakdowns(groups, by or [], min_group),
        paired=paired_comparisons(scored),
        judges=judge_agreement(scored),
        seed_groups=seed_groups(logs, [row for row, _ in scored]),
    )


def report_log(log: EvalLog) -> ModelEvalReport:
    """Score one log by its kind and add its throughput and usage figures."""
    return score_log(log)[0]


def score_log(
    log: EvalLog, degenerate_threshold: float = THRESHOLD
) -> tuple[ModelEvalReport, list[Outcome]]:
    """The report row of a log and its per-sample outcomes (failed samples left out)."""
    failed = scoring.failed_samples(log)
    metrics_events = log.events_of("metrics")
    graded = any("choice" in e.data or scoring.is_failed(e) for e in metrics_events)
    notes: list[str] = []
    if log.events_of("match"):
        figures, outcomes = scoring.classification(log, failed)
    elif graded:
        figures, outcomes = scoring.modelgraded(log, failed)
        figures["judge"], figures["policy"] = scoring.judge_and_policy(log)
        humans, note = scoring.human_labels(log)
        notes += [note] if note else []
        pairs = [
            (o.predicted or "", humans[o.sample_id]) for o in outcomes if o.sample_id in humans
        ]
        if pairs:
            from ftevals.harness.metrics import cohen_kappa

            judge, human = [p[0] for p in pairs], [p[1] for p in pairs]
            agree = sum(j == h for j, h in pairs)
            figures["human_n"] = len(pairs)
            figures["human_agreement"] = agree / len(pairs)
            figures["human_agreement_ci"] = intervals.wilson(agree, len(pairs))
            figures["human_kappa"] = kappa = cohen_kappa(judge, human)
            figures["human_kappa_ci"] = intervals.kappa_interval(judge, human, kappa)
    elif failed:
        figures, outcomes = {"kind": "classification", "n": 0}, []
    else:
        hint = "" if log.final_report is not None else " (interrupted run: no final report)"
        msg = f"no 'match' events and no 'metrics' events with a 'choice'{hint}: nothing to score"
        raise InputError(log.path, msg)
    notes += figures.pop("notes", [])
    if log.final_report is None:
        notes.append("interrupted run: no final report")
    n = figures["n"]
    row = ModelEvalReport(
        model=log.model,
        eval=log.base_eval,
        eval_name=log.eval_name,
        run_id=log.run_id,
        log=str(log.path),
        failed=len(failed),
        samples_per_s=_samples_per_s(log, n),
        notes=notes,
        **figures,
        **scoring.sampling_stats(log, n + len(failed)),
    )
    row.answer_quality = answer_quality(log, outcomes, row.kind, degenerate_threshold)
    if row.answer_quality is not None and row.answer_quality.flagged:
        row.flags.append(row.answer_quality.flag())
    return row, outcomes


def _samples_per_s(log: EvalLog, n: int) -> float | None:
    last = log.last_event_at
    if last is None or n == 0:
        return None
    seconds = (last - log.created_at).total_seconds()
    return n / seconds if seconds > 0 else None
