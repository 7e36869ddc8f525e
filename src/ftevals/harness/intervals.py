"""95% intervals for every figure of a report: Wilson for proportions, a seeded bootstrap for
the rest.

* **Wilson** score interval (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``)
  for a share of samples: accuracy, per-class precision (of the samples predicted as the
  class) and recall (of its samples), false-positive rate, model-graded choice rates and
  metascore, agreement with human labels or another judge.
* **Bootstrap** (percentile, :data:`RESAMPLES` resamples of the samples with replacement,
  ``numpy.random.default_rng(SEED)``, so the same log always gives the same interval) for
  F1, macro and weighted averages, Matthews correlation, AUPRC, mean scores and kappa.

A resample is a vector of sample counts (how often each sample was drawn). Figures are
computed on all resamples at once from the counts, as weighted figures (vectorised over
resamples): per-class counts of the weighted confusion matrix for F1 and MCC, the weighted
step precision-recall curve for AUPRC. The tests check each resample's figures against
scikit-learn's ``*_score(..., sample_weight=counts)``. A resample where a figure is undefined
(AUPRC without positives, kappa with chance agreement 1) is left out of its percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]

LEVEL = 0.95
RESAMPLES = 1000
SEED = 20220722
MAX_CELLS = 2_000_000
"""Resample counts held in memory at once (resamples x samples), about 16 MB."""


class Interval(BaseModel):
    """A figure and its interval: ``value`` (the figure itself), ``low``..``high`` at ``level``,
    from ``n`` samples (the denominator of a proportion). ``low``/``high`` are None when no
    resample defined the figure."""

    value: float
    low: float | None
    high: float | None
    n: int
    method: Literal["wilson", "bootstrap"]
    level: float = Field(default=LEVEL)

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the interval (bounds included)."""
        return self.low is not None and self.high is not None and self.low <= value <= self.high


def wilson(k: int, n: int, level: float = LEVEL) -> Interval | None:
    """``k / n`` with its Wilson score interval; None when ``n`` is 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return None
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return Interval(value=k / n, low=float(ci.low), high=float(ci.high), n=n, method="wilson")


def share(k: int, n: int, value: float) -> Interval:
    """A share reported as ``value`` (0 by scikit-learn's convention when ``n`` is 0): its
    Wilson interval, or, with no samples behind it, an interval without bounds and n = 0."""
    found = wilson(k, n)
    if found is None:
        return Interval(value=value, low=None, high=None, n=0, method="wilson")
    return found


def resample_counts(
    n: int, resamples: int = RESAMPLES, seed: int = SEED
) -> list[npt.NDArray[np.float64]]:
    """Bootstrap resamples of ``n`` samples as count matrices (chunks of resamples x n)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_CELLS // max(n, 1))
    chunks = []
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        drawn = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        chunks.append(np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n).astype(float))
    return chunks


Statistic = Callable[["Array"], dict[str, "Array"]]


def bootstrap(
    n: int, statistic: Statistic, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Array]:
    """Each figure of ``statistic`` (counts -> figure per resample) over all resamples."""
    import numpy as np

    if n == 0:
        return {}
    parts: dict[str, list[Array]] = {}
    for counts in resample_counts(n, resamples, seed):
        for name, values in statistic(counts).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


def percentile_interval(
    value: float | None, draws: Array | None, n: int, level: float = LEVEL
) -> Interval | None:
    """The figure ``value`` with the percentile interval of its bootstrap ``draws``."""
    import numpy as np

    if value is None or draws is None or n == 0:
        return None
    defined = draws[~np.isnan(draws)]
    if not len(defined):
        return Interval(value=value, low=None, high=None, n=n, method="bootstrap", level=level)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    # the figure and its resamples are computed by different code (sklearn, numpy): at an
    # extreme draw they may differ in the last bits; that float noise is not a wider interval
    low, high = (value if math.isclose(b, value, abs_tol=1e-12) else b for b in (low, high))
    return Interval(
        value=value, low=float(low), high=float(high), n=n, method="bootstrap", level=level
    )


def _ratio(num: Array, den: Array) -> Array:
    import numpy as np

    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def confusion_counts(counts: Array, true: Sequence[int], pred: Sequence[int], k: int) -> Array:
    """Weighted confusion matrices (resamples x k x k), ``true``/``pred`` indices < k."""
    import numpy as np

    cells = np.asarray(true) * k + np.asarray(pred)
    onehot = np.zeros((len(cells), k * k))
    onehot[np.arange(len(cells)), cells] = 1.0
    return (counts @ onehot).reshape(-1, k, k)


def classification_figures(matrix: Array, n_labels: int) -> dict[str, Array]:
    """Per resample, from confusion matrices over the labels then extra predicted values
    (invalid): ``f1:<i>`` per label index, ``macro_*``/``weighted_*`` precision, recall and
    F1, and ``mcc`` (Gorodkin's multi-class R_K; 0 when undefined, as scikit-learn)."""
    import numpy as np

    labels = range(n_labels)
    tp = np.stack([matrix[:, i, i] for i in labels], axis=1)
    predicted = np.stack([matrix[:, :, i].sum(axis=1) for i in labels], axis=1)
    support = np.stack([matrix[:, i, :].sum(axis=1) for i in labels], axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    figures = {f"f1:{i}": f1[:, i] for i in labels}
    total = support.sum(axis=1)
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        figures[f"macro_{name}"] = values.mean(axis=1)
        figures[f"weighted_{name}"] = _ratio((values * support).sum(axis=1), total)
    s = matrix.sum(axis=(1, 2))
    c = np.trace(matrix, axis1=1, axis2=2)
    t_k, p_k = matrix.sum(axis=2), matrix.sum(axis=1)
    cov_ytyp = c * s - (t_k * p_k).sum(axis=1)
    den = (s * s - (p_k * p_k).sum(axis=1)) * (s * s - (t_k * t_k).sum(axis=1))
    figures["mcc"] = _ratio(cov_ytyp, np.sqrt(np.clip(den, 0, None)))
    return figures


def kappa_figures(matrix: Array) -> Array:
    """Cohen's kappa per resample from rater-A x rater-B matrices (NaN when undefined)."""
    import numpy as np

    total = matrix.sum(axis=(1, 2))
    observed = np.trace(matrix, axis1=1, axis2=2) / total
    expected = (matrix.sum(axis=2) * matrix.sum(axis=1)).sum(axis=1) / (total * total)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (observed - expected) / (1.0 - expected)
    return np.where(expected >= 1.0, np.nan, kappa)


def average_precision(counts: Array, positive: Sequence[bool], scores: Sequence[float]) -> Array:
    """Weighted average precision per resample (scikit-learn's step-wise AP); NaN without
    positives. AP = sum over thresholds of (new true positives / positives) * precision."""
    import numpy as np

    scores_a = np.asarray(scores, dtype=float)
    order = np.argsort(-scores_a, kind="stable")
    ranked = scores_a[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    weights = counts[:, order]
    pos = np.asarray(positive, dtype=bool)[order]
    tps = np.cumsum(np.where(pos, weights, 0.0), axis=1)[:, ends]
    seen = np.cumsum(weights, axis=1)[:, ends]
    new_tps = np.diff(tps, axis=1, prepend=0.0)
    n_pos = tps[:, -1]
    # where nothing was seen yet, no true positive was added either: the term is 0
    terms = new_tps * (tps / np.maximum(seen, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, terms.sum(axis=1) / n_pos, np.nan)


def weighted_mean(counts: Array, values: Sequence[float]) -> Array:
    """The mean of ``values`` per resample."""
    import numpy as np

    return _ratio(counts @ np.asarray(values, dtype=float), counts.sum(axis=1))


def kappa_interval(a: Sequence[str], b: Sequence[str], value: float | None) -> Interval | None:
    """Bootstrap interval of Cohen's kappa of two raters on the same items."""
    categories = sorted(set(a) | set(b))
    index = {c: i for i, c in enumerate(categories)}
    ia, ib = [index[x] for x in a], [index[x] for x in b]
    draws = bootstrap(
        len(a), lambda w: {"kappa": kappa_figures(confusion_counts(w, ia, ib, len(categories)))}
    )
    return percentile_interval(value, draws.get("kappa"), len(a))


def mean_interval(values: Sequence[float]) -> Interval | None:
    """Bootstrap interval of a mean."""
    if not values:
        return None
    draws = bootstrap(len(values), lambda w: {"mean": weighted_mean(w, values)})
    return percentile_interval(sum(values) / len(values), draws["mean"], len(values))
