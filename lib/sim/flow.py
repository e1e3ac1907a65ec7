"""Exogenous market orders: Poisson arrivals with heavy-tailed (Pareto) sizes.

Sizes: ``x = x_min * U**(-1/alpha)`` capped at ``cap_mult * x_min`` and rounded
to whole shares/contracts (tail exponent alpha ~ 1.5, Gopikrishnan et al.).
The mean of the capped law times the arrival rate equals ``ADV /
session_seconds`` per second, so the expected exogenous volume matches the
profile ADV. The side of each trade is drawn with ``P(buy) = Phi(kappa * z)``
where ``z`` is the normalised sum of the price innovations of the next
``flow_lead_s`` seconds (market.py applies them that much later): flow is
informative and leads the price, which is what makes passive fills adversely
selected.

Every draw comes from the FLOW stream in fixed blocks, so the trade tape never
depends on our orders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ExoTrade", "FlowBlock", "FlowParams", "walk_levels"]


@dataclass(frozen=True, slots=True)
class FlowParams:
    """rate_per_s: arrivals per second; x_min/cap in shares; alpha: tail exponent."""

    rate_per_s: float
    x_min: float
    cap: float
    alpha: float
    kappa: float

    @classmethod
    def from_profile(
        cls,
        adv: float,
        session_seconds: int,
        top_of_book: float,
        mean_frac_tob: float,
        alpha: float,
        cap_mult: float,
        kappa: float,
    ) -> FlowParams:
        """Rate and scale such that rate * E[size] = ADV / session_seconds."""
        mean = max(1.0, mean_frac_tob * top_of_book)
        # E[min(X, m x_min)] = x_min * (alpha - m**(1-alpha)) / (alpha - 1)
        factor = (alpha - cap_mult ** (1.0 - alpha)) / (alpha - 1.0)
        x_min = mean / factor
        rate = adv / session_seconds / mean
        return cls(rate_per_s=rate, x_min=x_min, cap=cap_mult * x_min, alpha=alpha, kappa=kappa)


@dataclass(frozen=True, slots=True)
class ExoTrade:
    """One exogenous market order. side +1 = buyer (lifts asks), -1 = seller.
    prints: (price in ticks, quantity) per level it traded at, best first."""

    side: int
    size: int
    prints: tuple[tuple[int, int], ...]

    @property
    def last_price_ticks(self) -> int:
        return self.prints[-1][0]


@dataclass(slots=True)
class FlowBlock:
    """Pre-drawn arrivals of ``n`` consecutive seconds: trades of second i are
    ``sizes[offsets[i]:offsets[i+1]]`` with side uniforms ``u_side``."""

    offsets: np.ndarray
    sizes: np.ndarray
    u_side: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, params: FlowParams, n: int) -> FlowBlock:
        counts = rng.poisson(params.rate_per_s, size=n)
        m = int(counts.sum())
        u = 1.0 - rng.random(m)  # (0, 1]
        raw = params.x_min * u ** (-1.0 / params.alpha)
        sizes = np.maximum(1, np.rint(np.minimum(raw, params.cap))).astype(np.int64)
        u_side = rng.random(m)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return cls(offsets=offsets, sizes=sizes, u_side=u_side)

    def trades_at(self, i: int, z: float, kappa: float) -> list[tuple[int, int]]:
        """(side, size) of the trades in second ``i`` of the block."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        if lo == hi:
            return []
        p_buy = 0.5 * (1.0 + math.erf(kappa * z / math.sqrt(2.0)))
        return [
            (1 if float(self.u_side[j]) < p_buy else -1, int(self.sizes[j])) for j in range(lo, hi)
        ]


def walk_levels(
    touch_ticks: int,
    direction: int,
    sizes: Sequence[int],
    deep_size: int,
    consumed: list[int],
    qty: int,
    max_levels: int = 100_000,
) -> list[tuple[int, int]]:
    """Walk one side of a book from the touch for ``qty``.

    direction +1 walks up from the best ask, -1 down from the best bid; level
    ``k`` holds ``sizes[k]`` (``deep_size`` beyond the listed levels) minus what
    earlier trades of the same second ``consumed`` (updated in place).
    Returns (price_ticks, quantity) per level touched.
    """
    out: list[tuple[int, int]] = []
    left = qty
    k = 0
    while left > 0 and k < max_levels:
        if k >= len(consumed):
            consumed.append(0)
        avail = (sizes[k] if k < len(sizes) else deep_size) - consumed[k]
        if avail > 0:
            take = min(avail, left)
            consumed[k] += take
            left -= take
            out.append((touch_ticks + direction * k, take))
        k += 1
    return out
