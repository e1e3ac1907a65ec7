"""Statistics of the benchmark: summary percentiles and the paired bootstrap.

The paired bootstrap resamples matched *cells* (same market, same seed, same
order) with replacement and recomputes the mean of the per-cell differences
``x_i - y_i``; the 95% interval is the 2.5th and 97.5th percentile of those
means (percentile bootstrap, Efron & Tibshirani 1993). Pairing removes the
market noise both policies share, which dominates the unpaired spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PairedCI", "Summary", "paired_bootstrap", "summarize"]


@dataclass(frozen=True, slots=True)
class Summary:
    """mean, median, p95 of a sample (NaN when empty) and its size."""

    n: int
    mean: float
    median: float
    p95: float


def summarize(values: Sequence[float]) -> Summary:
    """Summary of ``values`` (linear-interpolated percentiles)."""
    if len(values) == 0:
        return Summary(0, math.nan, math.nan, math.nan)
    a = np.asarray(values, dtype=float)
    return Summary(len(a), float(a.mean()), float(np.percentile(a, 50)), float(np.percentile(a, 95)))


@dataclass(frozen=True, slots=True)
class PairedCI:
    """Mean paired difference and its bootstrap interval [low, high]."""

    n: int
    mean: float
    low: float
    high: float

    @property
    def significant_above_zero(self) -> bool:
        return self.n > 0 and self.low > 0

    @property
    def significant_below_zero(self) -> bool:
        return self.n > 0 and self.high < 0


def paired_bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedCI:
    """Bootstrap interval of mean(x - y) over matched pairs (x[i], y[i]).

    Deterministic for a given ``seed``. One pair gives a degenerate interval
    (low = high = the difference); no pairs give NaNs.
    """
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length: {len(x)} vs {len(y)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    n = len(d)
    if n == 0:
        return PairedCI(0, math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n == 1:
        return PairedCI(1, mean, mean, mean)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    means = d[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    return PairedCI(n, mean, float(low), float(high))
