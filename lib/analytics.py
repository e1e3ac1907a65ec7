"""Execution analytics: daily aggregation and the summary text (per-order TCA
is lib/tca.py, re-exported here).

Daily aggregation buckets orders by ``finished_at`` and fills by ``ts``, both
converted to ``day_tz`` (default UTC). Notionals are summed in each
instrument's own currency (ExecutionResult carries no FX). Fill rate is
notional-weighted (quantities of shares and contracts do not add).
Percentiles interpolate linearly (numpy's default "linear" method).

The summary text (:func:`format_summary`) is plain text, no markup (safe for
Telegram HTML and Slack alike), at most about 11 lines of under 70 characters::

    Execution 2026-11-24 (UTC)
    Orders 12: 10 full, 1 partial, 1 unfilled | 31 fills
    Fill rate 97.5% | replaces 7 (max 3)
    Notional 4.21M: FUT 2.50M, ETF 1.40M, STK 310.5K
    Slippage bps: avg 1.8 | med 1.2 | p95 6.4
    IS 2.3 bps = delay 0.4 + spread 0.9 + impact 0.6 + opp 0.2 + fees 0.2
    Commission 412.50 (1.0 bps)
    Policy: marketable_limit 9, auction_close 3
    Netting saved 1,200 units / 350.0K
    Worst: ES BUY 6.4 bps

Lines without data are left out (no netting line when nothing was netted; no
slippage/worst lines when nothing filled).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from lib.tca import OrderTCA, compute_tca
from lib.types import ExecutionResult, Fill, Side

__all__ = [
    "DailySummary",
    "ExecutionAnalytics",
    "OrderTCA",
    "compute_tca",
    "format_summary",
    "percentile",
    "summarize_day",
]

_BPS = 1e4


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between order
    statistics (numpy's default). Raises ValueError on an empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class DailySummary:
    """One day's execution. Slippage stats are over orders with fills (None if
    none); ``shortfall_bps`` and its components are paper-notional-weighted
    means over all orders (they add up like the per-order ones)."""

    day: date
    tz: str
    orders: int
    orders_full: int
    orders_partial: int
    orders_unfilled: int
    fills: int
    fill_rate: float
    notional_by_asset_class: Mapping[str, float]
    total_notional: float
    slippage_bps_weighted: float | None
    slippage_bps_median: float | None
    slippage_bps_p95: float | None
    shortfall_bps: float | None
    delay_bps: float | None
    spread_bps: float | None
    impact_bps: float | None
    opportunity_bps: float | None
    fees_bps: float | None
    replaces_total: int
    replaces_max: int
    commission: float
    commission_bps: float | None
    orders_by_policy: Mapping[str, int]
    netting_saved_qty: int
    netting_saved_notional: float
    worst_symbol: str | None
    worst_side: Side | None
    worst_slippage_bps: float | None


def _weighted(pairs: Iterable[tuple[float, float]]) -> float | None:
    total_w = total = 0.0
    for value, weight in pairs:
        total += value * weight
        total_w += weight
    return total / total_w if total_w > 0 else None


def summarize_day(
    day: date,
    orders: Sequence[OrderTCA],
    *,
    fills: int = 0,
    netting_saved_qty: int = 0,
    netting_saved_notional: float = 0.0,
    tz: str = "UTC",
) -> DailySummary:
    """Aggregate one day's per-order TCA into a :class:`DailySummary`."""
    by_class: dict[str, float] = {}
    for o in orders:
        if o.filled_notional > 0:
            by_class[o.asset_class] = by_class.get(o.asset_class, 0.0) + o.filled_notional
    # Largest first: that is what the reader looks for on a phone.
    by_class = dict(sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0])))
    filled = [o for o in orders if o.slippage_bps is not None]
    slips = [o.slippage_bps for o in filled if o.slippage_bps is not None]
    total_notional = sum(by_class.values())
    total_commission = sum(o.commission for o in orders)
    paper_total = sum(o.paper_notional for o in orders)
    worst = max(filled, key=lambda o: (o.slippage_bps or 0.0)) if filled else None
    policy = Counter(o.mode.value for o in orders)

    def comp(attr: str) -> float | None:
        return _weighted((getattr(o, attr), o.paper_notional) for o in orders)

    return DailySummary(
        day=day,
        tz=tz,
        orders=len(orders),
        orders_full=sum(1 for o in orders if o.filled_quantity == o.requested_quantity),
        orders_partial=sum(1 for o in orders if 0 < o.filled_quantity < o.requested_quantity),
        orders_unfilled=sum(1 for o in orders if o.filled_quantity == 0 < o.requested_quantity),
        fills=fills,
        fill_rate=(
            sum(o.fill_fraction * o.paper_notional for o in orders) / paper_total
            if paper_total > 0
            else 1.0
        ),
        notional_by_asset_class=MappingProxyType(by_class),
        total_notional=total_notional,
        slippage_bps_weighted=_weighted(
            (o.slippage_bps, o.filled_notional) for o in filled if o.slippage_bps is not None
        ),
        slippage_bps_median=percentile(slips, 50) if slips else None,
        slippage_bps_p95=percentile(slips, 95) if slips else None,
        shortfall_bps=comp("shortfall_bps"),
        delay_bps=comp("delay_bps"),
        spread_bps=comp("spread_bps"),
        impact_bps=comp("impact_bps"),
        opportunity_bps=comp("opportunity_bps"),
        fees_bps=comp("fees_bps"),
        replaces_total=sum(o.replace_count for o in orders),
        replaces_max=max((o.replace_count for o in orders), default=0),
        commission=total_commission,
        commission_bps=total_commission / total_notional * _BPS if total_notional > 0 else None,
        orders_by_policy=MappingProxyType(dict(sorted(policy.items(), key=lambda kv: (-kv[1], kv[0])))),
        netting_saved_qty=netting_saved_qty,
        netting_saved_notional=netting_saved_notional,
        worst_symbol=worst.symbol if worst else None,
        worst_side=worst.side if worst else None,
        worst_slippage_bps=worst.slippage_bps if worst else None,
    )


class ExecutionAnalytics:
    """Collects completed orders, fills and netting savings; answers per day.

    Clock-free: days come from the timestamps on results, fills and netting
    records. Wire ``record_fill`` to the OrderManager's ``on_fill`` and
    ``record_order_complete`` to ``on_complete``. Fills are de-duplicated by
    ``exec_id`` (brokers re-send executions after a reconnect); recording the
    same ``intent_id`` twice is a bug in the caller and raises ValueError.
    """

    def __init__(self, *, day_tz: str = "UTC") -> None:
        self._tz_name = day_tz
        self._tz = ZoneInfo(day_tz)
        self._orders: dict[str, OrderTCA] = {}
        self._fill_ids: set[str] = set()
        self._fills_by_day: Counter[date] = Counter()
        self._netting: dict[date, tuple[int, float]] = {}

    def _day(self, ts: datetime) -> date:
        if ts.tzinfo is None:
            raise ValueError(f"timestamp {ts!r} is naive; analytics needs tz-aware UTC")
        return ts.astimezone(self._tz).date()

    def record_fill(self, fill: Fill) -> None:
        """Count one fill (idempotent per ``exec_id``)."""
        if fill.exec_id in self._fill_ids:
            return
        self._fill_ids.add(fill.exec_id)
        self._fills_by_day[self._day(fill.ts)] += 1

    def record_order_complete(
        self,
        result: ExecutionResult,
        *,
        arrival_spread_bps: float | None = None,
        fill_time_mid: float | None = None,
        end_mid: float | None = None,
        multiplier: float | None = None,
        decision_mid: float | None = None,
    ) -> OrderTCA:
        """Record a terminal result and return its TCA (see :func:`compute_tca`)."""
        if result.intent_id in self._orders:
            raise ValueError(f"intent {result.intent_id!r} already recorded")
        tca = compute_tca(
            result,
            day=self._day(result.finished_at),
            arrival_spread_bps=arrival_spread_bps,
            fill_time_mid=fill_time_mid,
            end_mid=end_mid,
            multiplier=multiplier,
            decision_mid=decision_mid,
        )
        self._orders[result.intent_id] = tca
        return tca

    def record_netting(self, *, at: datetime, saved_qty: int, saved_notional: float) -> None:
        """Add turnover saved by cross-sleeve netting (units and currency)."""
        if saved_qty < 0 or saved_notional < 0 or not math.isfinite(saved_notional):
            raise ValueError("netting savings must be >= 0")
        day = self._day(at)
        qty, notional = self._netting.get(day, (0, 0.0))
        self._netting[day] = (qty + saved_qty, notional + saved_notional)

    @property
    def orders(self) -> tuple[OrderTCA, ...]:
        return tuple(self._orders.values())

    def days(self) -> list[date]:
        """Every day with an order, fill or netting record, ascending."""
        found = {o.day for o in self._orders.values()} | set(self._fills_by_day) | set(self._netting)
        return sorted(found)

    def daily_summary(self, day: date) -> DailySummary:
        qty, notional = self._netting.get(day, (0, 0.0))
        return summarize_day(
            day,
            [o for o in self._orders.values() if o.day == day],
            fills=self._fills_by_day.get(day, 0),
            netting_saved_qty=qty,
            netting_saved_notional=notional,
            tz=self._tz_name,
        )

    def daily_summaries(self) -> list[DailySummary]:
        return [self.daily_summary(d) for d in self.days()]


def _human(x: float) -> str:
    """1234567 -> '1.23M', 350000 -> '350.0K', 950 -> '950'."""
    ax = abs(x)
    if ax >= 1e9:
        return f"{x / 1e9:.2f}B"
    if ax >= 1e6:
        return f"{x / 1e6:.2f}M"
    if ax >= 1e3:
        return f"{x / 1e3:.1f}K"
    return f"{x:.0f}"


def format_summary(daily: DailySummary, *, title: str = "Execution") -> str:
    """The phone-sized plain-text summary (format in the module docstring)."""
    d = daily
    lines = [f"{title} {d.day.isoformat()} ({d.tz})"]
    if d.orders == 0:
        lines.append("No orders")
    else:
        lines.append(
            f"Orders {d.orders}: {d.orders_full} full, {d.orders_partial} partial, "
            f"{d.orders_unfilled} unfilled | {d.fills} fills"
        )
        lines.append(f"Fill rate {d.fill_rate:.1%} | replaces {d.replaces_total} (max {d.replaces_max})")
        by_class = ", ".join(f"{k} {_human(v)}" for k, v in d.notional_by_asset_class.items())
        lines.append(f"Notional {_human(d.total_notional)}" + (f": {by_class}" if by_class else ""))
        if d.slippage_bps_weighted is not None:
            lines.append(
                f"Slippage bps: avg {d.slippage_bps_weighted:.1f} | med {d.slippage_bps_median:.1f}"
                f" | p95 {d.slippage_bps_p95:.1f}"
            )
        if d.shortfall_bps is not None:
            lines.append(
                f"IS {d.shortfall_bps:.1f} bps = delay {d.delay_bps:.1f} + spread {d.spread_bps:.1f}"
                f" + impact {d.impact_bps:.1f} + opp {d.opportunity_bps:.1f} + fees {d.fees_bps:.1f}"
            )
        bps = f" ({d.commission_bps:.1f} bps)" if d.commission_bps is not None else ""
        lines.append(f"Commission {d.commission:,.2f}{bps}")
        lines.append("Policy: " + ", ".join(f"{k} {v}" for k, v in d.orders_by_policy.items()))
    if d.netting_saved_qty or d.netting_saved_notional:
        lines.append(
            f"Netting saved {d.netting_saved_qty:,} units / {_human(d.netting_saved_notional)}"
        )
    if d.worst_symbol is not None and d.worst_side is not None and d.worst_slippage_bps is not None:
        lines.append(f"Worst: {d.worst_symbol} {d.worst_side.value} {d.worst_slippage_bps:.1f} bps")
    return "\n".join(lines)

