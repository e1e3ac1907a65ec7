"""Slippage: measurement, the hard price collar, and a running tracker.

Sign convention everywhere: slippage in basis points of the benchmark,
**positive = cost** (a BUY filled above the benchmark, a SELL below it).

The collar is the hard price band an order may never leave, replacements
included: ``arrival_mid * (1 -/+ cap_bps / 1e4)`` with the cap per asset class
from :class:`lib.config.ExecutionConfig`, snapped *inward* to the tick grid so
every on-grid price inside it honours the cap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from lib.config import ExecutionConfig
from lib.types import AssetClass, Instrument, PolicyMode, Side

__all__ = [
    "BPS",
    "CollarEnforcer",
    "SlippageRecord",
    "SlippageStats",
    "SlippageSummary",
    "SlippageTracker",
    "compute_slippage_bps",
]

#: Basis points per unit fraction.
BPS = 1e4

# Tolerance (price units) when testing whether a price lies inside a band:
# prices are floats rounded to 10 decimals by the Instrument tick helpers.
_PRICE_EPS = 1e-9


def compute_slippage_bps(side: Side, fill_price: float, benchmark_price: float) -> float:
    """Slippage of a fill vs a benchmark in bps, positive = cost.

    BUY: ``(fill - bench) / bench * 1e4``; SELL: ``(bench - fill) / bench * 1e4``.
    Raises ValueError if the benchmark is not a finite number > 0 or the fill
    price is not finite.
    """
    if not math.isfinite(benchmark_price) or benchmark_price <= 0:
        raise ValueError(f"benchmark price must be finite and > 0, got {benchmark_price!r}")
    if not math.isfinite(fill_price):
        raise ValueError(f"fill price must be finite, got {fill_price!r}")
    return side.sign * (fill_price - benchmark_price) / benchmark_price * BPS


class CollarEnforcer:
    """Builds collars and keeps prices inside them, on the tick grid."""

    def __init__(self, config: ExecutionConfig) -> None:
        self._config = config

    def cap_bps(self, instrument: Instrument) -> float:
        """The collar half-width for this instrument's asset class, bps."""
        return self._config.slippage_cap_bps(instrument.asset_class)

    def collar(self, instrument: Instrument, side: Side, arrival_mid: float) -> tuple[float, float]:
        """The hard band ``(low, high)`` around ``arrival_mid``.

        ``low = ceil_to_tick(mid * (1 - cap))`` and ``high = floor_to_tick(mid *
        (1 + cap))``: snapped inward, so any on-grid price in ``[low, high]`` is
        within the cap. If the tick is wider than the band (no grid price lies
        inside it), the band collapses to the single tick nearest the mid
        (``round_to_tick``): the order can still be priced, and that price is
        the closest the grid allows to the benchmark. The band is symmetric;
        ``side`` is accepted so a side-dependent collar can be added without
        changing callers.
        """
        if not math.isfinite(arrival_mid) or arrival_mid <= 0:
            raise ValueError(f"arrival mid must be finite and > 0, got {arrival_mid!r}")
        half_width = self.cap_bps(instrument) / BPS
        low = instrument.ceil_to_tick(arrival_mid * (1.0 - half_width))
        high = instrument.floor_to_tick(arrival_mid * (1.0 + half_width))
        if low > high:
            nearest = instrument.round_to_tick(arrival_mid)
            return nearest, nearest
        return low, high

    def clamp(
        self, instrument: Instrument, side: Side, price: float, low: float, high: float
    ) -> float:
        """``price`` moved into ``[low, high]`` and onto the tick grid.

        Off-grid prices round toward the passive side (a BUY rounds down, a
        SELL rounds up) so snapping never makes an order more aggressive. If
        ``low``/``high`` are themselves off-grid the result is the nearest grid
        price inside them; a band holding no grid price is a ValueError.
        """
        if not math.isfinite(price):
            raise ValueError(f"price must be finite, got {price!r}")
        if low > high + _PRICE_EPS:
            raise ValueError(f"empty band: low {low} > high {high}")
        bounded = min(max(price, low), high)
        if side is Side.BUY:
            snapped = instrument.floor_to_tick(bounded)
        else:
            snapped = instrument.ceil_to_tick(bounded)
        if snapped < low - _PRICE_EPS:
            snapped = instrument.ceil_to_tick(low)
        if snapped > high + _PRICE_EPS:
            snapped = instrument.floor_to_tick(high)
        if not self.is_within(snapped, low, high):
            raise ValueError(f"no tick of {instrument.symbol} lies in [{low}, {high}]")
        return snapped

    @staticmethod
    def is_within(price: float, low: float, high: float) -> bool:
        """True if ``low <= price <= high`` (up to float rounding noise)."""
        return low - _PRICE_EPS <= price <= high + _PRICE_EPS

    def enforce(
        self, instrument: Instrument, side: Side, price: float, arrival_mid: float
    ) -> tuple[float, bool]:
        """Clamp ``price`` into the collar around ``arrival_mid``.

        Returns ``(clamped_price, was_clamped)``; ``was_clamped`` is True when
        the price lay outside the collar (tick snapping alone does not count).
        """
        low, high = self.collar(instrument, side, arrival_mid)
        clamped = self.clamp(instrument, side, price, low, high)
        return clamped, not self.is_within(price, low, high)


@dataclass(frozen=True, slots=True)
class SlippageRecord:
    """One measured execution. slippage_bps positive = cost; notional in the
    instrument currency; ts tz-aware UTC."""

    symbol: str
    side: Side
    asset_class: AssetClass | None
    slippage_bps: float
    notional: float
    ts: datetime
    mode: PolicyMode | None = None


@dataclass(frozen=True, slots=True)
class SlippageStats:
    """Statistics of a group of records, all in bps except ``total_notional``.

    ``weighted_mean_bps`` weights each record by its notional (the cost per
    unit traded); it equals ``mean_bps`` when the total notional is zero.
    ``p95_bps`` uses linear interpolation between order statistics.
    """

    count: int
    mean_bps: float
    median_bps: float
    p95_bps: float
    weighted_mean_bps: float
    total_notional: float


@dataclass(frozen=True, slots=True)
class SlippageSummary:
    """Read-only summary: ``overall`` is None when nothing was recorded."""

    overall: SlippageStats | None
    by_symbol: Mapping[str, SlippageStats]
    by_asset_class: Mapping[AssetClass, SlippageStats]
    by_mode: Mapping[PolicyMode, SlippageStats]


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in [0, 1]) of sorted values."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _stats(records: Iterable[SlippageRecord]) -> SlippageStats:
    recs = list(records)
    values = sorted(r.slippage_bps for r in recs)
    n = len(values)
    mean = math.fsum(values) / n
    total_notional = math.fsum(r.notional for r in recs)
    if total_notional > 0:
        weighted = math.fsum(r.slippage_bps * r.notional for r in recs) / total_notional
    else:
        weighted = mean
    return SlippageStats(
        count=n,
        mean_bps=mean,
        median_bps=_percentile(values, 0.5),
        p95_bps=_percentile(values, 0.95),
        weighted_mean_bps=weighted,
        total_notional=total_notional,
    )


class SlippageTracker:
    """Accumulates per-execution slippage and summarises it by group."""

    def __init__(self) -> None:
        self._records: list[SlippageRecord] = []

    def record(
        self,
        symbol: str,
        side: Side,
        asset_class: AssetClass | None,
        slippage_bps: float,
        notional: float,
        ts: datetime,
        mode: PolicyMode | None = None,
    ) -> SlippageRecord:
        """Add one execution; NaN/inf slippage or a negative notional is a
        ValueError (a bad measurement must not vanish into an average)."""
        if not math.isfinite(slippage_bps):
            raise ValueError(f"{symbol}: slippage_bps must be finite, got {slippage_bps!r}")
        if not math.isfinite(notional) or notional < 0:
            raise ValueError(f"{symbol}: notional must be finite and >= 0, got {notional!r}")
        rec = SlippageRecord(symbol, side, asset_class, slippage_bps, notional, ts, mode)
        self._records.append(rec)
        return rec

    @property
    def records(self) -> tuple[SlippageRecord, ...]:
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def summarize(self) -> SlippageSummary:
        """Stats overall, per symbol, per asset class and per policy mode."""
        by_symbol: dict[str, list[SlippageRecord]] = {}
        by_class: dict[AssetClass, list[SlippageRecord]] = {}
        by_mode: dict[PolicyMode, list[SlippageRecord]] = {}
        for rec in self._records:
            by_symbol.setdefault(rec.symbol, []).append(rec)
            if rec.asset_class is not None:
                by_class.setdefault(rec.asset_class, []).append(rec)
            if rec.mode is not None:
                by_mode.setdefault(rec.mode, []).append(rec)
        return SlippageSummary(
            overall=_stats(self._records) if self._records else None,
            by_symbol=MappingProxyType({k: _stats(v) for k, v in sorted(by_symbol.items())}),
            by_asset_class=MappingProxyType({k: _stats(v) for k, v in by_class.items()}),
            by_mode=MappingProxyType({k: _stats(v) for k, v in by_mode.items()}),
        )
