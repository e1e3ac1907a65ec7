"""Per-order transaction cost analysis (TCA).

Units: every ``*_bps`` is basis points, **positive = cost**. Per-order TCA
components are in bps of the order's *paper notional* (requested quantity at
the arrival mid, times the contract multiplier), so they add up exactly::

    shortfall = delay + spread + impact + opportunity + fees

with ``s`` = +1 BUY / -1 SELL, ``A`` arrival mid, ``P`` average fill price,
``M`` quantity-weighted mid prevailing at the fill times (default ``A``),
``E`` end mid, ``f`` = filled / requested, ``h`` half the quoted spread at
arrival in bps (default 0: impact then absorbs the spread)::

    slippage    = s * (P - A) / A * 1e4          (per filled unit; ExecutionResult's)
    delay       = f * s * (M - A) / A * 1e4      market drift while we waited
    spread      = f * h                          half-spread paid at arrival
    impact      = f * slippage - delay - spread  the rest of the execution cost
    opportunity = (1 - f) * s * (E - A) / A * 1e4  unfilled quantity marked at E
    fees        = commission / paper notional * 1e4

(Perold 1988 implementation shortfall vs arrival mid.) Without an end mid the
unfilled remainder is not marked: ``opportunity = 0`` and
``opportunity_marked = False``.

With a **decision mid** ``D`` (the mid when the rebalance decided the trade,
recorded in the ledger's ``decisions``) the benchmark is ``D`` and bps are of
the paper notional at ``D`` (``req * D * multiplier``)::

    delay       = s * (A - D) / D * 1e4              drift before the order arrived
    spread      = f * h                              half-spread paid at arrival
    impact      = f * s * (P - A) / D * 1e4 - spread the rest of the execution cost
    opportunity = (1 - f) * s * (E - A) / D * 1e4    unfilled quantity marked at E
    fees        = commission / paper notional * 1e4

which add up to ``f*s*(P-D)/D + (1-f)*s*(E-D)/D + fees``, the shortfall of the
whole decision. ``fill_time_mid`` is not used on this path.
``shortfall_money`` is ``shortfall_bps * paper_notional / 1e4`` in the
instrument's currency (positive = cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from lib.types import ExecutionResult, PolicyMode, Side

__all__ = ["OrderTCA", "compute_tca"]

_BPS = 1e4
_UNKNOWN_CLASS = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class OrderTCA:
    """Transaction cost analysis of one completed order (see module docstring).

    Component ``*_bps`` are in bps of ``paper_notional``; ``slippage_bps`` is per
    filled unit (None when nothing filled); ``commission_bps`` is commission in
    bps of the *filled* notional (None when nothing filled).
    """

    intent_id: str
    symbol: str
    side: Side
    asset_class: str
    mode: PolicyMode
    status: str
    day: date
    requested_quantity: int
    filled_quantity: int
    arrival_mid: float
    avg_price: float | None
    end_mid: float | None
    paper_notional: float
    filled_notional: float
    commission: float
    replace_count: int
    slippage_bps: float | None
    delay_bps: float
    spread_bps: float
    impact_bps: float
    opportunity_bps: float
    fees_bps: float
    shortfall_bps: float
    commission_bps: float | None
    opportunity_marked: bool
    decision_mid: float | None = None

    @property
    def shortfall_money(self) -> float:
        """Shortfall in the instrument's currency (positive = cost)."""
        return self.shortfall_bps * self.paper_notional / _BPS

    def component_money(self, name: str) -> float:
        """One component (``"delay"``, ``"spread"``, ...) in the instrument's currency."""
        return float(getattr(self, f"{name}_bps")) * self.paper_notional / _BPS

    @property
    def fill_fraction(self) -> float:
        if self.requested_quantity == 0:
            return 1.0
        return self.filled_quantity / self.requested_quantity


def _finite_positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def compute_tca(
    result: ExecutionResult,
    *,
    day: date,
    arrival_spread_bps: float | None = None,
    fill_time_mid: float | None = None,
    end_mid: float | None = None,
    multiplier: float | None = None,
    decision_mid: float | None = None,
) -> OrderTCA:
    """TCA for one result. ``multiplier`` (currency per point per unit) defaults
    to the one implied by ``result.notional / (avg_price * filled)`` and to 1.0
    when nothing filled. Raises ValueError on a non-positive/NaN price input."""
    a = _finite_positive("arrival_mid", result.arrival_mid)
    s = result.side.sign
    req, filled = result.requested_quantity, result.filled_quantity
    if filled > req or filled < 0:
        raise ValueError(f"{result.intent_id}: filled {filled} outside [0, {req}]")
    f = filled / req if req else 1.0
    if filled > 0:
        if result.avg_price is None:
            raise ValueError(f"{result.intent_id}: filled {filled} but avg_price is None")
        p = _finite_positive("avg_price", result.avg_price)
        slippage: float | None = s * (p - a) / a * _BPS
        implied = result.notional / (p * filled) if result.notional > 0 else None
    else:
        slippage, implied = None, None
    mult = multiplier if multiplier is not None else (implied if implied else 1.0)
    _finite_positive("multiplier", mult)
    d = _finite_positive("decision_mid", decision_mid) if decision_mid is not None else None
    base = d if d is not None else a
    paper = req * base * mult
    half_spread = 0.0
    if arrival_spread_bps is not None:
        if not math.isfinite(arrival_spread_bps) or arrival_spread_bps < 0:
            raise ValueError(f"arrival_spread_bps must be finite and >= 0, got {arrival_spread_bps!r}")
        half_spread = arrival_spread_bps / 2.0
    if d is not None:
        delay = s * (a - d) / d * _BPS
        spread = f * half_spread if slippage is not None else 0.0
        impact = f * s * (p - a) / d * _BPS - spread if slippage is not None else 0.0
    elif slippage is not None:
        m = _finite_positive("fill_time_mid", fill_time_mid) if fill_time_mid is not None else a
        delay = f * s * (m - a) / a * _BPS
        spread = f * half_spread
        impact = f * slippage - delay - spread
    else:
        delay = spread = impact = 0.0
    unfilled = 1.0 - f
    marked = unfilled == 0 or end_mid is not None
    opportunity = 0.0
    if end_mid is not None and unfilled > 0:
        e = _finite_positive("end_mid", end_mid)
        opportunity = unfilled * s * (e - a) / base * _BPS
    if result.commission < 0 or not math.isfinite(result.commission):
        raise ValueError(f"{result.intent_id}: commission must be finite and >= 0")
    fees = result.commission / paper * _BPS if paper > 0 else 0.0
    filled_notional = result.notional if filled > 0 else 0.0
    return OrderTCA(
        intent_id=result.intent_id,
        symbol=result.symbol,
        side=result.side,
        asset_class=result.asset_class.value if result.asset_class else _UNKNOWN_CLASS,
        mode=result.mode,
        status=result.status,
        day=day,
        requested_quantity=req,
        filled_quantity=filled,
        arrival_mid=a,
        avg_price=result.avg_price if filled > 0 else None,
        end_mid=end_mid,
        paper_notional=paper,
        filled_notional=filled_notional,
        commission=result.commission,
        replace_count=result.replace_count,
        slippage_bps=slippage,
        delay_bps=delay,
        spread_bps=spread,
        impact_bps=impact,
        opportunity_bps=opportunity,
        fees_bps=fees,
        shortfall_bps=delay + spread + impact + opportunity + fees,
        commission_bps=(result.commission / filled_notional * _BPS) if filled_notional > 0 else None,
        opportunity_marked=marked,
        decision_mid=d,
    )
