"""Market benchmarks of one order from recorded market samples.

Samples are :class:`lib.store.SampleRecord` of one symbol (quotes, and the
cumulative tape volume where the broker knows it), sorted by time. All
``*_bps`` are positive = cost, for side sign ``s`` (+1 BUY, -1 SELL) and our
average fill price ``P``::

    vs interval VWAP   s * (P - VWAP) / VWAP * 1e4   VWAP over [first fill - , last fill]
    vs prior close     s * (P - C) / C * 1e4         C = the snapshot's close at arrival
    markout +k min     s * (M(t + k) - P) / P * 1e4  M = mid at the last fill + k minutes;
                                                      positive = the price moved our way
                                                      after we traded (we bought before a rise)

Interval VWAP: the mids between consecutive samples in the interval weighted
by the tape volume printed between them (``volume`` deltas); with no volume
(a broker without a tape) it falls back to the time-weighted mean mid, and
``vwap_source`` says which (``"tape"`` / ``"twap_mid"``). A markout needs a
sample within ``MID_TOLERANCE_SECONDS`` of ``t + k``; otherwise it is None.
The VWAP interval is the fills' span, widened to at least
``MIN_VWAP_WINDOW_SECONDS`` around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from lib.store.records import SampleRecord
from lib.types import Side

__all__ = ["MARKOUT_MINUTES", "MID_TOLERANCE_SECONDS", "MIN_VWAP_WINDOW_SECONDS", "OrderBenchmarks", "benchmarks", "interval_vwap", "mid_at"]

#: Markout horizons, minutes after the order's last fill.
MARKOUT_MINUTES: tuple[int, ...] = (1, 5, 30)
#: How far a sample may be from a markout time and still stand for it, seconds
#: (the after-run sampling step is 30 s).
MID_TOLERANCE_SECONDS = 30.0
#: The VWAP interval is at least this long around the fills (an order filled
#: at once has a one-instant interval), seconds.
MIN_VWAP_WINDOW_SECONDS = 60.0
_BPS = 1e4


@dataclass(frozen=True, slots=True)
class OrderBenchmarks:
    """One order's benchmarks (None where the samples do not reach)."""

    interval_vwap: float | None
    vwap_source: str | None
    vs_vwap_bps: float | None
    prior_close: float | None
    vs_close_bps: float | None
    markouts_bps: Mapping[int, float | None] = field(default_factory=dict)


def mid_at(
    samples: Sequence[SampleRecord], t: datetime, tolerance_seconds: float = MID_TOLERANCE_SECONDS
) -> float | None:
    """The mid of the sample nearest ``t`` (the earlier one on a tie), if one
    lies within ``tolerance_seconds``."""
    best: tuple[float, float] | None = None
    for smp in samples:
        if smp.mid is None:
            continue
        gap = abs((smp.ts - t).total_seconds())
        if gap <= tolerance_seconds and (best is None or gap < best[0]):
            best = (gap, smp.mid)
    return best[1] if best else None


def interval_vwap(
    samples: Sequence[SampleRecord], start: datetime, end: datetime
) -> tuple[float | None, str | None]:
    """(VWAP, source) of the mids in [start, end] (see module docstring)."""
    inside = [s for s in samples if start <= s.ts <= end and s.mid is not None]
    if not inside:
        return None, None
    vol_pairs = [(a, b) for a, b in zip(inside, inside[1:], strict=False)
                 if a.volume is not None and b.volume is not None]
    weight = sum(max(0, (b.volume or 0) - (a.volume or 0)) for a, b in vol_pairs)
    if weight > 0:
        total = sum(((a.mid or 0.0) + (b.mid or 0.0)) / 2 * max(0, (b.volume or 0) - (a.volume or 0))
                    for a, b in vol_pairs)
        return total / weight, "tape"
    if len(inside) == 1:
        return inside[0].mid, "twap_mid"
    span = (inside[-1].ts - inside[0].ts).total_seconds()
    if span <= 0:
        return sum(s.mid or 0.0 for s in inside) / len(inside), "twap_mid"
    total = sum(((a.mid or 0.0) + (b.mid or 0.0)) / 2 * (b.ts - a.ts).total_seconds()
                for a, b in zip(inside, inside[1:], strict=False))
    return total / span, "twap_mid"


def benchmarks(
    side: Side,
    avg_price: float | None,
    samples: Sequence[SampleRecord],
    *,
    first_fill: datetime | None,
    last_fill: datetime | None,
    prior_close: float | None = None,
    horizons_minutes: Sequence[int] = MARKOUT_MINUTES,
) -> OrderBenchmarks:
    """Benchmarks of one order (nothing filled: only the prior close is kept)."""
    s = side.sign
    close = prior_close if prior_close is not None and prior_close > 0 else None
    if avg_price is None or first_fill is None or last_fill is None:
        return OrderBenchmarks(None, None, None, close, None,
                               MappingProxyType({k: None for k in horizons_minutes}))
    half = MIN_VWAP_WINDOW_SECONDS / 2
    span = (last_fill - first_fill).total_seconds()
    pad = timedelta(seconds=max(0.0, half - span / 2) + 1.0)
    vwap, source = interval_vwap(samples, first_fill - pad, last_fill + pad)
    marks: dict[int, float | None] = {}
    for k in horizons_minutes:
        m = mid_at(samples, last_fill + timedelta(minutes=k))
        marks[k] = s * (m - avg_price) / avg_price * _BPS if m is not None else None
    return OrderBenchmarks(
        interval_vwap=vwap,
        vwap_source=source,
        vs_vwap_bps=s * (avg_price - vwap) / vwap * _BPS if vwap else None,
        prior_close=close,
        vs_close_bps=s * (avg_price - close) / close * _BPS if close else None,
        markouts_bps=MappingProxyType(marks),
    )
