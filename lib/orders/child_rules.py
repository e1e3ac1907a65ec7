"""What the next child of a sliced parent may be: its price band and its size.

* :class:`ChildBand`: the band a child released ``e`` seconds after the
  parent's arrival is priced in. With a parent risk budget
  (``collar_budget_k`` > 0) on a sliced limit plan it is
  :func:`lib.parent_budget.band_half_width_bps` at ``e`` around the parent's
  arrival mid, with sigma = max(the instrument profile's, the volatility the
  parent has realised so far, :class:`lib.parent_budget.RealisedVol`), snapped
  inward to the grid and never outside the parent's collar (the hard emergency
  band the plan was risk-checked against). It only widens with time. Otherwise
  (no budget, an unsliced plan, an auction, no instrument) it is the parent's
  collar.
* :class:`ParticipationCap`: the quantity a POV parent has committed (filled
  plus working) never exceeds ``rate x (volume traded since the parent
  started + one interval of expected volume)``; rolled-over and completion
  children included. The traded volume is the snapshots' ``volume`` when the
  feed reports it (the simulator's tape does; the IBKR transport does not pass
  IB's volume yet), otherwise the expected volume from ADV (``source`` says
  which: "traded" or "adv").

Units: prices in the quote currency, quantities in shares/contracts, times
from the caller's clock (datetimes), ADV per day.
"""

from __future__ import annotations

import math
from datetime import datetime

from lib.config import ExecutionConfig
from lib.parent_budget import RealisedVol, band_half_width_bps, budget_band
from lib.types import Instrument, MarketDataSnapshot, OrderPlan, OrderType, PolicyMode, Side

__all__ = ["ChildBand", "ParticipationCap", "child_ladder", "child_limit"]

_EPS = 1e-6


class ChildBand:
    """The price band of a child by its release time (module docstring)."""

    def __init__(
        self, plan: OrderPlan, instrument: Instrument | None, config: ExecutionConfig | None, origin: datetime
    ) -> None:
        self.plan = plan
        self.instrument = instrument
        self.config = config
        self.origin = plan.created_at if plan.created_at is not None else origin
        self.active = (
            instrument is not None
            and config is not None
            and config.collar_budget_k > 0
            and plan.slices is not None
            and plan.order_type is OrderType.LMT
            and plan.mode is not PolicyMode.AUCTION_CLOSE
            and plan.limit_price is not None
        )
        self.vol = RealisedVol(instrument.session_seconds) if instrument is not None else None

    def observe(self, now: datetime, snap: MarketDataSnapshot | None) -> None:
        """Record the mid of a fresh snapshot (realised volatility)."""
        if self.vol is not None and snap is not None:
            self.vol.add(now.timestamp(), snap.mid)

    def sigma(self) -> float | None:
        """Daily vol the budget uses: max(profile, realised once known)."""
        if self.instrument is None:
            return None
        realised = self.vol.daily_vol() if self.vol is not None else None
        return max(self.instrument.profile.daily_vol, realised or 0.0)

    def half_width_bps(self, now: datetime) -> float | None:
        """The band's half-width (bps of the arrival mid) at ``now``; None when inactive."""
        if not self.active or self.instrument is None or self.config is None:
            return None
        cfg, inst, plan = self.config, self.instrument, self.plan
        elapsed = (now - self.origin).total_seconds()
        return band_half_width_bps(plan.max_slippage_bps, cfg.collar_budget_k, self.sigma() or 0.0, elapsed,
                                   plan.ttl_seconds, inst.session_seconds, cfg.emergency_band_bps)  # fmt: skip

    def band(self, now: datetime) -> tuple[float, float]:
        """``(low, high)`` a child released at ``now`` may be priced in."""
        plan = self.plan
        width = self.half_width_bps(now)
        if width is None or self.instrument is None:
            return plan.collar_low, plan.collar_high
        low, high = budget_band(self.instrument, plan.arrival_mid, width)
        low, high = max(low, plan.collar_low), min(high, plan.collar_high)
        if low > high:  # cannot happen for a risk-checked plan; never leave its collar
            return plan.collar_low, plan.collar_high
        return low, high


class ParticipationCap:
    """Cumulative participation cap of one POV parent (module docstring)."""

    def __init__(self, rate: float, adv: float, session_seconds: float, interval_seconds: float) -> None:
        if not 0 < rate <= 1 or adv <= 0 or session_seconds <= 0 or interval_seconds < 0:
            raise ValueError(f"bad participation cap ({rate}, {adv}, {session_seconds}, {interval_seconds})")
        self.rate = rate
        self.adv = adv
        self.session_seconds = session_seconds
        self.interval_volume = adv * interval_seconds / session_seconds
        self._start: datetime | None = None
        self._v0: float | None = None
        self._v: float | None = None

    @property
    def source(self) -> str:
        """"traded": the feed's volume; "adv": expected volume from ADV (no volume in the feed)."""
        return "traded" if self._v0 is not None else "adv"

    def observe(self, now: datetime, snap: MarketDataSnapshot | None) -> None:
        """Record the feed's session volume (the first call fixes the origin)."""
        if self._start is None:
            self._start = now
        vol = snap.volume if snap is not None else None
        if vol is None or not math.isfinite(vol) or vol < 0:
            return
        if self._v0 is None:
            if now == self._start:  # volume known from the start, else ADV throughout
                self._v0 = self._v = vol
            return
        self._v = max(vol, self._v or vol)

    def traded(self, now: datetime) -> float:
        """Market volume since the start (measured, or expected from ADV)."""
        if self._start is None:
            return 0.0
        if self._v0 is not None and self._v is not None:
            return self._v - self._v0
        return self.adv * max(0.0, (now - self._start).total_seconds()) / self.session_seconds

    def allowance(self, now: datetime, committed: int) -> int:
        """How much more may be committed now (may be <= 0)."""
        limit = math.floor(self.rate * (self.traded(now) + self.interval_volume) + 1e-9)
        return limit - committed


def child_limit(
    plan: OrderPlan, snap: MarketDataSnapshot | None, instrument: Instrument | None, low: float, high: float
) -> float | None:
    """A child's limit: the far touch of ``snap`` (the near touch for
    PASSIVE_FIRST), on the tick grid when ``instrument`` is known, clamped into
    ``[low, high]``; the plan's own limit (clamped) for an unsliced plan or
    without a usable quote; unchanged for auctions and market plans."""
    if plan.limit_price is None or plan.mode is PolicyMode.AUCTION_CLOSE:
        return plan.limit_price
    if snap is None or plan.slices is None:
        return min(max(plan.limit_price, low), high)
    far = plan.mode is not PolicyMode.PASSIVE_FIRST
    touch = (snap.ask if far else snap.bid) if plan.side is Side.BUY else (snap.bid if far else snap.ask)
    bid, ask = snap.bid, snap.ask
    valid = all(p is not None and math.isfinite(p) and p > 0 for p in (touch, bid, ask))
    if not valid or touch is None or bid is None or ask is None or bid > ask:
        return min(max(plan.limit_price, low), high)
    price = instrument.round_to_tick(touch) if instrument else touch
    return min(max(price, low), high)


def child_ladder(plan: OrderPlan, limit: float | None, low: float, high: float) -> tuple[float, ...]:
    """The parent's rungs more aggressive than ``limit`` and inside ``[low, high]``."""
    if limit is None:
        return ()
    sign = plan.side.sign
    return tuple(p for p in plan.reprice_ladder if sign * (p - limit) > _EPS and low <= p <= high)
