"""The daily execution summary: every rebalance of a day, from the ledger.

:func:`day_report` rebuilds each rebalance whose session date is ``day``
with :func:`lib.ledger_tca.rebalance_tca` and aggregates all their orders
into one :class:`lib.analytics.DailySummary` (so several rebalances in a day
add up: the seed's ``_send_daily_summary``, fed from the ledger instead of a
per-run ExecutionAnalytics). Money: per currency, and the base-currency
total of what ``fx_rate`` converts (the rest is listed, never added).

:func:`format_daily` renders it for a channel, plain text either way
(:class:`lib.notify.Notifier` sends text; apprise escapes it per service):
``"telegram"`` keeps lines under 40 characters for a phone; ``"slack"`` puts
the rebalances and outliers in aligned columns (Slack shows a wide message
pane).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from lib.analytics import DailySummary, format_summary, summarize_day
from lib.instruments import InstrumentRegistry
from lib.ledger_tca import FxRate, OrderReport, RebalanceTCA, rebalance_tca
from lib.notify import Message, NotifyLevel
from lib.store import LedgerRepository

__all__ = ["CHANNELS", "DayReport", "day_report", "format_daily"]

CHANNELS = ("telegram", "slack")
_TOP_OUTLIERS = 5


@dataclass(frozen=True, slots=True)
class DayReport:
    """One day: its rebalances, the aggregate summary, money and outliers."""

    day: date
    tz: str
    rebalances: tuple[RebalanceTCA, ...]
    summary: DailySummary
    shortfall_by_currency: dict[str, float]
    shortfall_base: float
    unconverted: tuple[str, ...]
    outliers: tuple[tuple[str, OrderReport, str], ...]  # (rebalance id, order, why)


def day_report(
    ledger: LedgerRepository,
    registry: InstrumentRegistry,
    day: date,
    *,
    fx_rate: FxRate | None = None,
    tz: str = "UTC",
) -> DayReport:
    """Every rebalance with ``session_date == day`` (oldest first), aggregated."""
    rebs = [rebalance_tca(ledger, registry, r.rebalance_id, fx_rate=fx_rate, day_tz=tz)
            for r in reversed(ledger.list_rebalances(since=day, until=day))]
    return aggregate(day, rebs, tz=tz)


def aggregate(day: date, rebs: Sequence[RebalanceTCA], *, tz: str = "UTC") -> DayReport:
    """Aggregate already-built rebalance TCAs into one day."""
    orders = [o.tca for r in rebs for o in r.orders]
    summary = summarize_day(
        day, orders, fills=sum(r.summary.fills for r in rebs),
        netting_saved_qty=sum(r.netting_saved_qty for r in rebs),
        netting_saved_notional=sum(r.netting_saved_notional for r in rebs), tz=tz,
    )
    by_ccy: dict[str, float] = {}
    for r in rebs:
        for ccy, v in r.shortfall_by_currency.items():
            by_ccy[ccy] = by_ccy.get(ccy, 0.0) + v
    outliers = sorted(((r.rebalance_id, o, why) for r in rebs for o, why in r.outliers),
                      key=lambda x: -x[1].tca.shortfall_bps)
    return DayReport(
        day=day, tz=tz, rebalances=tuple(rebs), summary=summary, shortfall_by_currency=by_ccy,
        shortfall_base=sum(r.shortfall_base for r in rebs),
        unconverted=tuple(sorted({c for r in rebs for c in r.unconverted})),
        outliers=tuple(outliers[:_TOP_OUTLIERS]),
    )


def _money(d: DayReport) -> str:
    text = f"IS total {d.shortfall_base:,.0f} USD"
    if d.unconverted:
        rest = ", ".join(f"{d.shortfall_by_currency[c]:,.0f} {c}" for c in d.unconverted)
        text += f" + {rest} (no FX rate)"
    return text


def format_daily(d: DayReport, channel: str = "telegram") -> Message:
    """The day's message for ``channel`` (one of :data:`CHANNELS`)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    title = f"Execution {d.day.isoformat()}: {len(d.rebalances)} rebalance(s)"
    lines = [format_summary(d.summary, title="Day"), _money(d)]
    if channel == "telegram":
        for r in d.rebalances:
            s = r.summary
            is_bps = "-" if s.shortfall_bps is None else f"{s.shortfall_bps:.1f}"
            lines.append(f"{r.rebalance_id}: {r.status}, {s.orders} orders, IS {is_bps} bps")
        for rid, o, why in d.outliers:
            lines.append(f"! {o.tca.symbol} {o.tca.side.value} ({rid}): {why}")
    else:
        lines.append("")
        lines.append(f"{'rebalance':<34} {'status':<11} {'orders':>6} {'IS bps':>7} {'fill':>6}")
        for r in d.rebalances:
            s = r.summary
            is_bps = "-" if s.shortfall_bps is None else f"{s.shortfall_bps:.1f}"
            lines.append(f"{r.rebalance_id:<34} {r.status:<11} {s.orders:>6} {is_bps:>7} "
                         f"{s.fill_rate:>6.1%}")
        if d.outliers:
            lines.append("")
            lines.append("Outliers:")
            for rid, o, why in d.outliers:
                lines.append(f"  {o.tca.symbol:<6} {o.tca.side.value:<4} {rid:<34} {why}")
    level = NotifyLevel.WARNING if d.outliers else NotifyLevel.INFO
    return Message(title=title, body="\n".join(lines), level=level)
