"""Paired tests for two models on the same samples: McNemar's test and a paired bootstrap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXACT_MAX_DISCORDANT = 25
"""McNemar: exact binomial test up to this many discordant pairs, chi-square above."""

BOOTSTRAP_SEED = 20220722
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class McNemar:
    """``b``: only A right; ``c``: only B right. ``statistic``: the chi-square (or ``b``)."""

    b: int
    c: int
    statistic: float
    p_value: float
    method: str


def mcnemar(b: int, c: int) -> McNemar:
    """Two-sided McNemar test on the discordant counts.

    Up to :data:`EXACT_MAX_DISCORDANT` discordant pairs: the exact test, a two-sided binomial
    test of ``b`` successes in ``b + c`` trials at p = 0.5 (``scipy.stats.binomtest``).
    Above: the chi-square statistic with continuity correction, ``(|b - c| - 1)^2 / (b + c)``,
    on 1 degree of freedom. No discordant pairs: p = 1.
    """
    from scipy import stats

    n = b + c
    if n == 0:
        return McNemar(b, c, 0.0, 1.0, "none")
    if n <= EXACT_MAX_DISCORDANT:
        p = float(stats.binomtest(b, n, 0.5, alternative="two-sided").pvalue)
        return McNemar(b, c, float(b), min(p, 1.0), "exact")
    chi2 = (abs(b - c) - 1) ** 2 / n
    return McNemar(b, c, float(chi2), float(stats.chi2.sf(chi2, 1)), "chi2")


@dataclass(frozen=True)
class BootstrapCI:
    """Mean of B minus mean of A over paired samples, with a percentile interval."""

    diff: float
    low: float
    high: float
    level: float
    resamples: int


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> BootstrapCI | None:
    """Percentile bootstrap CI of ``mean(b) - mean(a)``, resampling pairs (fixed seed)."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return None
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(diffs)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # bound memory: at most ~2M indices at once
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        means[start:stop] = diffs[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return BootstrapCI(float(diffs.mean()), float(low), float(high), level, resamples)
