"""The parent risk budget and the urgency rules of ExecutionPolicy (issue 10).

* :func:`parent_budget_bps`: how far a parent's collar may widen beyond the
  asset-class cap, ``k * sigma_daily * sqrt(span / session)`` in bps (``span``
  = the schedule plus the TTL, seconds). A pre-trade price band that must
  accept the plan's limits should widen by the same amount.
* :func:`band_half_width_bps`: the half-width of the band a child may be
  priced in ``elapsed`` seconds after the parent's arrival: the asset-class cap
  plus ``k * sigma * sqrt((elapsed + TTL) / session)``, never beyond the hard
  emergency band (``emergency_band_bps``). It widens monotonically with
  ``elapsed`` and with sigma; with ``k = 0`` it is the cap (a fixed collar).
* :class:`RealisedVol`: a daily-vol estimate from the mids a parent sees; the
  budget uses ``max(profile sigma, realised)`` once it has enough returns.
* :func:`budget_band`: ``mid -/+ half width`` snapped inward to the grid.
* :func:`fits_book`: an order larger than ``multiple`` x the displayed far-touch
  size does not fit the book (it is sliced); pair legs always fit.
* :func:`fitted_participation`: the participation that makes a POV schedule
  end before the close.
"""

from __future__ import annotations

import math

from lib.types import Instrument, MarketDataSnapshot, Side

__all__ = [
    "MIN_REALISED_RETURNS",
    "RealisedVol",
    "band_half_width_bps",
    "budget_band",
    "fits_book",
    "fitted_participation",
    "parent_budget_bps",
]

#: returns a RealisedVol needs before its estimate is used (20 s apart: ~3 minutes)
MIN_REALISED_RETURNS = 10


def parent_budget_bps(k: float, daily_vol: float, span_seconds: float, session_seconds: float) -> float:
    """``k * daily_vol * sqrt(span / session)`` in bps (daily_vol a fraction, 0.01 = 1 %)."""
    if k <= 0 or span_seconds <= 0:
        return 0.0
    return k * daily_vol * 1e4 * math.sqrt(span_seconds / session_seconds)


def band_half_width_bps(
    cap_bps: float,
    k: float,
    daily_vol: float,
    elapsed_seconds: float,
    ttl_seconds: float,
    session_seconds: float,
    emergency_bps: float,
) -> float:
    """Half-width in bps of the arrival mid of the band at ``elapsed_seconds``
    after the parent's arrival: ``min(cap + k * daily_vol * sqrt((elapsed + ttl)
    / session), max(cap, emergency))``; the cap itself when ``k <= 0``. The
    ``ttl`` term covers the life of an order released at ``elapsed``."""
    if k <= 0:
        return cap_bps
    span = max(0.0, elapsed_seconds) + max(0.0, ttl_seconds)
    return min(cap_bps + parent_budget_bps(k, daily_vol, span, session_seconds), max(cap_bps, emergency_bps))


class RealisedVol:
    """Daily volatility (a fraction) realised by the mids observed so far:
    ``sqrt(sum r^2 / sum dt * session)`` with log returns ``r`` between
    consecutive observations ``dt`` seconds apart. ``None`` until
    ``MIN_REALISED_RETURNS`` returns are in."""

    def __init__(self, session_seconds: float) -> None:
        self.session_seconds = session_seconds
        self._last: tuple[float, float] | None = None
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self.returns = 0

    def add(self, t_seconds: float, mid: float | None) -> None:
        """Record ``mid`` at ``t_seconds`` (any origin); invalid mids and
        non-increasing times are ignored."""
        if mid is None or not math.isfinite(mid) or mid <= 0:
            return
        if self._last is not None:
            t0, m0 = self._last
            if t_seconds <= t0:
                return
            self._sum_r2 += math.log(mid / m0) ** 2
            self._sum_dt += t_seconds - t0
            self.returns += 1
        self._last = (t_seconds, mid)

    def daily_vol(self) -> float | None:
        if self.returns < MIN_REALISED_RETURNS or self._sum_dt <= 0:
            return None
        return math.sqrt(self._sum_r2 / self._sum_dt * self.session_seconds)


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
