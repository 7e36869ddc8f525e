"""Figures across logs: two models on the same samples, and two judges on the same answers.

Two logs are paired when they ran the same eval (same ``eval_name``, so the same sample ids
mean the same samples) and are of the same kind; model-graded logs also need the same judge.
Only samples both scored are used (failed ones are left out), and for classification only
those with the same expected label in both logs.

Judges: the judge of a model-graded log is the one its metrics events name (ftevals'
``JudgedClassify``), else, in evals' convention, the last completion function, the others
being the policy (``oaieval policy,judge eval``; a single function judges itself; see
``scoring.judge_and_policy``). Logs of the same eval and policy with different judges are
compared on the samples both judged: agreement (share of equal choices) and Cohen's kappa.
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import TYPE_CHECKING, Any

from ftevals.harness import intervals, metrics, stats
from ftevals.harness.compare import Flip, JudgeAgreement, PairedComparison
from ftevals.harness.scoring import Outcome

if TYPE_CHECKING:
    from ftevals.harness.compare import ModelEvalReport

Scored = tuple["ModelEvalReport", list[Outcome]]


def natural_key(sample_id: str) -> list[object]:
    """'e.dev.10' after 'e.dev.9'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", sample_id)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pair(a: Scored, b: Scored) -> PairedComparison | None:
    (row_a, out_a), (row_b, out_b) = a, b
    by_a = {o.sample_id: o for o in out_a}
    by_b = {o.sample_id: o for o in out_b}
    common = sorted((k for k in by_a if k in by_b), key=natural_key)
    if row_a.kind == "classification":
        common = [k for k in common if by_a[k].expected == by_b[k].expected]
    if not common:
        return None
    base: dict[str, Any] = {
        "eval": row_a.eval,
        "eval_name": row_a.eval_name,
        "kind": row_a.kind,
        "model_a": row_a.model,
        "model_b": row_b.model,
        "run_a": row_a.run_id,
        "run_b": row_b.run_id,
        "n": len(common),
    }
    if row_a.kind == "classification":
        right_a = [float(by_a[k].correct) for k in common]
        right_b = [float(by_b[k].correct) for k in common]
        only_a = sum(1 for x, y in zip(right_a, right_b, strict=True) if x > y)
        only_b = sum(1 for x, y in zip(right_a, right_b, strict=True) if y > x)
        test = stats.mcnemar(only_a, only_b)
        base |= {"a_only": only_a, "b_only": only_b, "mcnemar_p": test.p_value}
        base |= {"mcnemar_statistic": test.statistic, "mcnemar_method": test.method}
        flips = [k for k in common if by_a[k].correct != by_b[k].correct]
        values_a, values_b, metric = right_a, right_b, "accuracy"
    else:
        scored = [k for k in common if by_a[k].score is not None and by_b[k].score is not None]
        values_a = [float(by_a[k].score or 0.0) for k in scored]
        values_b = [float(by_b[k].score or 0.0) for k in scored]
        flips = [k for k in common if by_a[k].predicted != by_b[k].predicted]
        metric = "mean_score"
    ci = stats.paired_bootstrap(values_a, values_b)
    pair_p = base.get("mcnemar_p")
    significant, verdict = significance(
        ci.diff if ci else None, ci.low if ci else None, ci.high if ci else None, pair_p, metric
    )
    return PairedComparison(
        **base,
        metric=metric,
        a_value=_mean(values_a),
        b_value=_mean(values_b),
        diff=ci.diff if ci else None,
        ci_low=ci.low if ci else None,
        ci_high=ci.high if ci else None,
        ci_level=ci.level if ci else 0.95,
        significant=significant,
        verdict=verdict,
        flips=[
            Flip(sample_id=k, expected=by_a[k].expected, a=by_a[k].predicted, b=by_b[k].predicted)
            for k in flips
        ],
    )


def significance(
    diff: float | None,
    low: float | None,
    high: float | None,
    p_value: float | None,
    metric: str,
    alpha: float = 0.05,
) -> tuple[bool | None, str]:
    """Whether B - A is established, and the sentence saying so.

    Classification: significant when McNemar's p < ``alpha`` and the bootstrap CI excludes 0;
    not significant when neither; undecided (None) when the two disagree. Model-graded: the
    CI alone.
    """
    if diff is None or low is None or high is None:
        return None, "no samples in common"
    ci_excludes = low > 0 or high < 0
    words = f"{diff:+.3f} {metric} (95% CI {low:.3f}..{high:.3f})"
    if p_value is None:
        return ci_excludes, f"{words}: {'significant' if ci_excludes else 'not significant'}"
    words += f", McNemar p={p_value:.2g}"
    mcnemar = p_value < alpha
    if mcnemar == ci_excludes:
        return mcnemar, f"{words}: {'significant' if mcnemar else 'not significant'}"
    return None, f"{words}: not established (McNemar and the CI disagree)"


def paired_comparisons(scored: list[Scored]) -> list[PairedComparison]:
    """Every pair of logs of the same eval and kind (and judge), in the order given."""
    found = []
    for a, b in combinations(scored, 2):
        row_a, row_b = a[0], b[0]
        if (row_a.eval_name, row_a.kind) != (row_b.eval_name, row_b.kind):
            continue
        if row_a.kind == "modelgraded" and row_a.judge != row_b.judge:
            continue
        pair = _pair(a, b)
        if pair is not None:
            found.append(pair)
    return found


def judge_agreement(scored: list[Scored]) -> list[JudgeAgreement]:
    """Agreement and kappa of every two judges of the same eval and policy."""
    graded = [s for s in scored if s[0].kind == "modelgraded"]
    found = []
    for (row_a, out_a), (row_b, out_b) in combinations(graded, 2):
        same_answers = (row_a.eval_name, row_a.policy) == (row_b.eval_name, row_b.policy)
        if not same_answers or row_a.judge == row_b.judge:
            continue
        by_b = {o.sample_id: o.predicted or "" for o in out_b}
        pairs = [(o.predicted or "", by_b[o.sample_id]) for o in out_a if o.sample_id in by_b]
        rater_a, rater_b = [x for x, _ in pairs], [y for _, y in pairs]
        found.append(
            JudgeAgreement(
                eval=row_a.eval,
                eval_name=row_a.eval_name,
                policy=row_a.policy or "",
                judge_a=row_a.judge or "",
                judge_b=row_b.judge or "",
                run_a=row_a.run_id,
                run_b=row_b.run_id,
                n=len(pairs),
                agreement=_mean([float(x == y) for x, y in pairs]),
                kappa=(kappa := metrics.cohen_kappa(rater_a, rater_b)),
                agreement_ci=intervals.wilson(sum(x == y for x, y in pairs), len(pairs)),
                kappa_ci=intervals.kappa_interval(rater_a, rater_b, kappa),
            )
        )
    return found
