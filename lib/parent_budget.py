"""The parent risk budget and the urgency rules of ExecutionPolicy (issue 10).

* :func:`parent_budget_bps`: how far a parent's collar may widen beyond the
  asset-class cap, ``k * sigma_daily * sqrt(span / session)`` in bps (``span``
  = the schedule plus the TTL, seconds). A pre-trade price band that must
  accept the plan's limits should widen by the same amount.
* :func:`budget_band`: ``mid -/+ half width`` snapped inward to the grid.
* :func:`fits_book`: an order larger than ``multiple`` x the displayed far-touch
  size does not fit the book (it is sliced); pair legs always fit.
* :func:`fitted_participation`: the participation that makes a POV schedule
  end before the close.
"""

from __future__ import annotations

import math

from lib.types import Instrument, MarketDataSnapshot, Side

__all__ = ["budget_band", "fits_book", "fitted_participation", "parent_budget_bps"]


def parent_budget_bps(k: float, daily_vol: float, span_seconds: float, session_seconds: float) -> float:
    """``k * daily_vol * sqrt(span / session)`` in bps (daily_vol a fraction, 0.01 = 1 %)."""
    if k <= 0 or span_seconds <= 0:
        return 0.0
    return k * daily_vol * 1e4 * math.sqrt(span_seconds / session_seconds)


def budget_band(inst: Instrument, mid: float, half_width_bps: float) -> tuple[float, float]:
    """``mid -/+ half_width_bps`` snapped inward to the grid (the nearest tick if empty)."""
    low = inst.ceil_to_tick(mid * (1.0 - half_width_bps / 1e4))
    high = inst.floor_to_tick(mid * (1.0 + half_width_bps / 1e4))
    if low > high:
        nearest = inst.round_to_tick(mid)
        return nearest, nearest
    return low, high


def fits_book(quantity: int, side: Side, snap: MarketDataSnapshot, multiple: float, *, pair_leg: bool) -> bool:
    """True unless ``multiple`` > 0 and ``quantity`` exceeds that multiple of the
    displayed size at the far touch (unknown size: fits). Pair legs always fit:
    the PairExecutor sends each leg as one order."""
    size = snap.ask_size if side is Side.BUY else snap.bid_size
    if pair_leg or multiple <= 0 or size is None or not math.isfinite(size) or size <= 0:
        return True
    return quantity <= multiple * size


def fitted_participation(
    rate: float, span_seconds: float, remaining_seconds: float, avoid_last_seconds: float, interval_seconds: float
) -> float:
    """The participation (<= 1) at which a schedule of ``span_seconds`` at
    ``rate`` ends ``avoid_last_seconds`` before the close (or one interval
    before it when that leaves less than two intervals)."""
    avail = remaining_seconds - avoid_last_seconds
    if avail < 2 * interval_seconds:
        avail = max(interval_seconds, remaining_seconds - interval_seconds)
    return min(1.0, rate * span_seconds / avail)
