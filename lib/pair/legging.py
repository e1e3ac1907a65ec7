"""Pure legging arithmetic: fill percentages, the legging tests, exposure and
hedge sizing. No broker, no clock; the PairExecutor calls these every cycle.

Units: fill percentages are fractions (0.5 = half filled); notionals are in
the legs' own quote currencies, ``quantity * price * multiplier``, with no FX
conversion (a USD leg against a EUR leg is compared 1:1 - document your pair
that way or choose legs in one currency).

Sign conventions (positive = net long)::

    excess notional  = sum over legs of side.sign * (filled_i - p_min * qty_i) * mark_i * mult_i
                       where p_min is the smallest fill fraction of any leg: the
                       part of each leg that is ahead of the slowest leg.
    hedge position   = signed contracts of the hedge instrument (SELL = negative).
    hedge offset     = position * hedge_price * hedge_mult / hedge_ratio, in leg notional.
    unhedged notional = |excess + hedge offset|.

Example: BUY 1000 SPY (mark 500.00) has filled 500, SELL 2000 IWM has filled 0.
p_min = 0, excess = +1 * 500 * 500.00 * 1 = +250,000 (net long). Hedging in MES
(5000.00 x 5 = 25,000 per contract, ratio 1.0): target position =
-round(250,000 * 1.0 / 25,000) = -10, i.e. SELL 10 MES; offset = -10 * 25,000 =
-250,000, unhedged = 0. Had the leading leg been a SELL the excess is negative
and the hedge a BUY. ``hedge_ratio`` is hedge notional per unit of excess
notional (a beta); a negative ratio (inversely correlated hedge) flips the side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lib.types import Side

__all__ = [
    "DEFAULT_TRIGGER_FILL_PCT",
    "LegFill",
    "detect_legging",
    "excess_notional",
    "fill_imbalance",
    "fill_pct",
    "hedge_offset_notional",
    "hedge_quantity",
    "is_legged",
    "round_half_up",
    "target_hedge_position",
]

#: The seed's ``pair_min_hedge_trigger_fill_pct`` default (fraction).
DEFAULT_TRIGGER_FILL_PCT = 0.30
_EPS = 1e-12

FillPcts = Mapping[str, float] | Iterable[float]


def _values(fill_pcts: FillPcts) -> list[float]:
    if isinstance(fill_pcts, Mapping):
        return [float(v) for v in fill_pcts.values()]
    return [float(v) for v in fill_pcts]


def fill_pct(filled: int, quantity: int) -> float:
    """``filled / quantity`` as a fraction (1.0 for a zero-quantity leg)."""
    if quantity <= 0:
        return 1.0
    return filled / quantity


def detect_legging(fill_pcts: FillPcts, trigger_pct: float = DEFAULT_TRIGGER_FILL_PCT) -> bool:
    """The seed's rule: legged when some leg's fill fraction is >= ``trigger_pct``
    while another leg has filled nothing. ``fill_pcts`` is a mapping leg -> fraction
    or a plain sequence of fractions."""
    pcts = _values(fill_pcts)
    if len(pcts) < 2:
        return False
    leading = any(p >= trigger_pct - _EPS for p in pcts)
    idle = any(p <= _EPS for p in pcts)
    return leading and idle and max(pcts) > _EPS


def fill_imbalance(fill_pcts: FillPcts) -> float:
    """Largest minus smallest fill fraction (0.0 for fewer than two legs)."""
    pcts = _values(fill_pcts)
    if len(pcts) < 2:
        return 0.0
    return max(pcts) - min(pcts)


def is_legged(fill_pcts: FillPcts, trigger_pct: float = DEFAULT_TRIGGER_FILL_PCT) -> bool:
    """What the PairExecutor acts on: the seed rule, or any spread of fill
    fractions of at least ``trigger_pct``. The seed rule is the special case
    ``min == 0``; the generalisation keeps protection on when the slow leg got
    one small fill and then stalled (the seed rule would call that balanced)."""
    return detect_legging(fill_pcts, trigger_pct) or fill_imbalance(fill_pcts) >= trigger_pct - _EPS


@dataclass(frozen=True, slots=True)
class LegFill:
    """One leg's progress: quantity/filled in shares or contracts, mark price
    per unit (the arrival mid), multiplier in currency per point."""

    side: Side
    quantity: int
    filled: int
    mark: float
    multiplier: float = 1.0

    @property
    def pct(self) -> float:
        return fill_pct(self.filled, self.quantity)


def excess_notional(legs: Sequence[LegFill]) -> float:
    """Signed notional by which the legs are ahead of the slowest leg
    (positive = net long; see the module docstring)."""
    if not legs:
        return 0.0
    p_min = min(leg.pct for leg in legs)
    return sum(
        leg.side.sign * (leg.filled - p_min * leg.quantity) * leg.mark * leg.multiplier
        for leg in legs
    )


def round_half_up(x: float) -> int:
    """Nearest integer, halves away from zero (Python's round() is half-even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def hedge_quantity(
    excess: float,
    hedge_price: float,
    multiplier: float,
    hedge_ratio: float = 1.0,
    *,
    min_contract_fraction: float = 0.5,
    min_notional: float = 0.0,
) -> int:
    """Contracts (>= 0) of the hedge instrument offsetting ``|excess|`` notional.

    ``round_half_up(|excess| * |ratio| / (price * multiplier))``, and at least 1
    when the excess is material: ``|excess| >= min_notional`` and it is worth at
    least ``min_contract_fraction`` of one (ratio-adjusted) contract. Below
    ``min_notional`` nothing is hedged. The default fraction 0.5 makes the
    "at least 1" rule coincide with rounding: a 1-lot hedge against less than
    half a contract of excess leaves a *larger* net exposure than no hedge.
    """
    if hedge_price <= 0 or multiplier <= 0 or not math.isfinite(hedge_price):
        raise ValueError(f"hedge price and multiplier must be > 0 ({hedge_price}, {multiplier})")
    if abs(excess) < min_notional or hedge_ratio == 0 or excess == 0:
        return 0
    contracts = abs(excess * hedge_ratio) / (hedge_price * multiplier)
    n = round_half_up(contracts)
    if n == 0 and contracts >= min_contract_fraction:
        return 1
    return n


def target_hedge_position(
    excess: float,
    hedge_price: float,
    multiplier: float,
    hedge_ratio: float = 1.0,
    *,
    min_contract_fraction: float = 0.5,
    min_notional: float = 0.0,
) -> int:
    """Signed hedge position (contracts) offsetting ``excess``: opposite sign
    to ``excess * hedge_ratio`` (net long legs -> short hedge)."""
    n = hedge_quantity(
        excess,
        hedge_price,
        multiplier,
        hedge_ratio,
        min_contract_fraction=min_contract_fraction,
        min_notional=min_notional,
    )
    return -n if excess * hedge_ratio > 0 else n


def hedge_offset_notional(
    position: int, hedge_price: float, multiplier: float, hedge_ratio: float = 1.0
) -> float:
    """Leg-notional equivalent of a hedge position (signed; 0 for ratio 0)."""
    if hedge_ratio == 0:
        return 0.0
    return position * hedge_price * multiplier / hedge_ratio
