"""TCA of a whole rebalance, rebuilt from the ledger alone (so a run, the
daily summary, the history and ``afx show`` all tell the same story).

For every planned intent: the plan (arrival mid, collar, mode), its orders
and fills (every run of the rebalance), the decision mid, the market samples
of its symbol, and the instrument (multiplier, currency, asset class). Per
order :func:`lib.tca.compute_tca` (benchmark: the decision mid when recorded,
else the arrival mid; unfilled quantity marked at the last sampled mid) and
:func:`lib.benchmarks.benchmarks` (interval VWAP, prior close, markouts).
Money: each order's shortfall is in its instrument's currency; the
rebalance's total is converted with ``fx_rate`` (base units per unit, e.g.
``FxTable.try_rate``); a currency without a rate is listed in
``unconverted`` and left out of the base total (never added unconverted).

Outliers: filled orders whose slippage exceeds the plan's max_slippage_bps,
orders left partly unfilled, and shortfalls more than
``OUTLIER_SHORTFALL_BPS`` bps; each with its reason, worst first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from lib.analytics import DailySummary, summarize_day
from lib.benchmarks import OrderBenchmarks, benchmarks
from lib.instruments import InstrumentRegistry
from lib.store import LedgerRepository
from lib.store.models import Plan
from lib.store.records import SampleRecord
from lib.tca import OrderTCA, compute_tca
from lib.types import ExecutionResult, PolicyMode, Side

__all__ = ["OUTLIER_SHORTFALL_BPS", "FxRate", "OrderReport", "RebalanceTCA", "rebalance_tca"]

#: Shortfall (bps of paper notional) above which an order is an outlier.
OUTLIER_SHORTFALL_BPS = 10.0
#: ``fx_rate(currency) -> (base units per unit | None, reason)``.
FxRate = Callable[[str], tuple[float | None, str]]
_COMPONENTS = ("delay", "spread", "impact", "opportunity", "fees")


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One parent order: its TCA, benchmarks, plan and where it came from."""

    tca: OrderTCA
    bench: OrderBenchmarks
    sleeve: str
    currency: str
    limit_price: float | None
    collar_low: float
    collar_high: float
    max_slippage_bps: float
    n_slices: int
    client_order_ids: tuple[str, ...]
    broker_order_ids: tuple[str, ...]
    first_fill: datetime | None
    last_fill: datetime | None
    fills: tuple[tuple[datetime, int, float], ...]  # (time, qty, price)
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class RebalanceTCA:
    """A rebalance from the ledger: status, orders with TCA, blocks, totals."""

    rebalance_id: str
    status: str
    schedule: str
    session_date: date | None
    created_at: datetime
    finished_at: datetime | None
    wall_created_at: datetime | None
    orders: tuple[OrderReport, ...]
    summary: DailySummary
    blocks: tuple[tuple[str, str, str], ...]  # (control, symbol, detail)
    dropped: tuple[tuple[str, str], ...]  # (symbol, reason) of netting results not sent
    netting_saved_qty: int
    netting_saved_notional: float
    shortfall_by_currency: Mapping[str, float]
    components_by_currency: Mapping[str, Mapping[str, float]]
    shortfall_base: float
    unconverted: tuple[str, ...]
    outliers: tuple[tuple[OrderReport, str], ...]


def _status(filled: int, requested: int, coid_states: list[str]) -> str:
    if filled >= requested:
        return "filled"
    if filled > 0:
        return "partial"
    if coid_states and all(s == "REJECTED" for s in coid_states):
        return "rejected"
    return "unfilled"


def rebalance_tca(
    ledger: LedgerRepository,
    registry: InstrumentRegistry,
    rebalance_id: str,
    *,
    fx_rate: FxRate | None = None,
    day_tz: str = "UTC",
) -> RebalanceTCA:
    """The rebalance's TCA from the ledger (raises LedgerError if unknown)."""
    from lib.errors import LedgerError

    reb = ledger.get_rebalance(rebalance_id)
    if reb is None:
        raise LedgerError(f"unknown rebalance {rebalance_id!r}")
    plans: dict[str, Plan] = {}
    for p in ledger.plans_for_rebalance(rebalance_id):
        plans.setdefault(p.intent_id, p)
    orders = ledger.orders_for_rebalance(rebalance_id)
    fills = ledger.fills_for_rebalance(rebalance_id)
    modifies = ledger.modify_counts_for_rebalance(rebalance_id)
    decisions = ledger.decisions_for_rebalance(rebalance_id)
    samples: dict[str, list[SampleRecord]] = {}
    for smp in ledger.samples_for_rebalance(rebalance_id):
        samples.setdefault(smp.symbol, []).append(smp)
    sleeves: dict[str, str] = {}
    for it in ledger.intents_for_rebalance(rebalance_id):
        if it.sleeve:
            sleeves.setdefault(it.intent_id, it.sleeve)
    by_coid = {o.client_order_id: o for o in orders}
    reports: list[OrderReport] = []
    for intent_id, plan in plans.items():
        p = plan
        mine = [o for o in orders if o.intent_id == intent_id]
        coids = {o.client_order_id for o in mine}
        ffs = sorted((f for f in fills if f.client_order_id in coids), key=lambda f: f.ts)
        filled = sum(f.quantity for f in ffs)
        avg = sum(f.price * f.quantity for f in ffs) / filled if filled else None
        inst = registry[p.symbol] if p.symbol in registry else None
        mult = inst.multiplier if inst else 1.0
        side = Side(p.side)
        requested = int(p.quantity)
        arrival = float(p.arrival_mid)
        starts = [o.submitted_at for o in mine if o.submitted_at] + [f.ts for f in ffs]
        started = min(starts) if starts else None
        finished = ffs[-1].ts if ffs else (max((o.updated_at for o in mine), default=None))
        result = ExecutionResult(
            intent_id=intent_id, symbol=p.symbol, side=side,
            requested_quantity=requested, filled_quantity=min(filled, requested) if requested else filled,
            avg_price=avg, arrival_mid=arrival,
            slippage_bps=(side.sign * (avg - arrival) / arrival * 1e4) if avg else None,
            status=_status(filled, requested, [o.status for o in mine]),
            mode=PolicyMode(p.mode),
            replace_count=sum(modifies.get(c, 0) for c in coids),
            commission=sum(f.commission for f in ffs),
            started_at=started or reb.created_at, finished_at=finished or reb.created_at,
            asset_class=inst.asset_class if inst else None,
            notional=abs((avg or 0.0) * filled * mult),
        )
        sym_samples = samples.get(p.symbol, [])
        end_mid = next((s.mid for s in reversed(sym_samples) if s.mid), None)
        spread_bps = None
        first = sym_samples[0] if sym_samples else None
        if first is not None and first.bid and first.ask and first.mid:
            spread_bps = max(0.0, (first.ask - first.bid) / first.mid * 1e4)
        dec = decisions.get(p.symbol)
        from zoneinfo import ZoneInfo

        tca = compute_tca(
            result, day=result.finished_at.astimezone(ZoneInfo(day_tz)).date(),
            arrival_spread_bps=spread_bps, end_mid=end_mid if filled < requested else None,
            multiplier=mult, decision_mid=dec[0] if dec else None,
        )
        slices = p.slices or {}
        reports.append(OrderReport(
            tca=tca,
            bench=benchmarks(side, avg, sym_samples, first_fill=ffs[0].ts if ffs else None,
                             last_fill=ffs[-1].ts if ffs else None),
            sleeve=sleeves.get(intent_id, "netted"),
            currency=inst.currency if inst else "USD",
            limit_price=p.limit_price,
            collar_low=float(p.collar_low), collar_high=float(p.collar_high),
            max_slippage_bps=float(p.max_slippage_bps),
            n_slices=len(slices.get("child_quantities", ())) or 1,
            client_order_ids=tuple(sorted(coids)),
            broker_order_ids=tuple(sorted({by_coid[c].broker_order_id or "" for c in coids} - {""})),
            first_fill=ffs[0].ts if ffs else None, last_fill=ffs[-1].ts if ffs else None,
            fills=tuple((f.ts, f.quantity, f.price) for f in ffs),
            started_at=started,
        ))
    netting = ledger.netting_for_rebalance(rebalance_id)
    # Units not sent: gross - |net| (both sides of a cross count, as lib.basket's qty_saved).
    saved_qty = sum(int(n.gross_buy + n.gross_sell - abs(n.net_quantity)) for n in netting)
    saved_notional = sum(float(n.benefit_notional) for n in netting)
    by_ccy: dict[str, float] = {}
    comp_ccy: dict[str, dict[str, float]] = {}
    for r in reports:
        by_ccy[r.currency] = by_ccy.get(r.currency, 0.0) + r.tca.shortfall_money
        c = comp_ccy.setdefault(r.currency, dict.fromkeys(_COMPONENTS, 0.0))
        for name in _COMPONENTS:
            c[name] += r.tca.component_money(name)
    base, missing = 0.0, []
    for ccy, amount in by_ccy.items():
        rate, _why = fx_rate(ccy) if fx_rate else ((1.0, "") if ccy == "USD" else (None, "no FX"))
        if rate is None:
            missing.append(ccy)
        else:
            base += amount * rate
    tcas = [r.tca for r in reports]
    day = tcas[0].day if tcas else (reb.session_date or reb.created_at.date())
    summary = summarize_day(day, tcas, fills=len(fills), netting_saved_qty=saved_qty,
                            netting_saved_notional=saved_notional, tz=day_tz)
    return RebalanceTCA(
        rebalance_id=rebalance_id, status=reb.status, schedule=reb.schedule,
        session_date=reb.session_date, created_at=reb.created_at, finished_at=reb.finished_at,
        wall_created_at=getattr(reb, "wall_created_at", None),
        orders=tuple(reports), summary=summary,
        blocks=tuple((b.control, b.symbol or "", b.detail)
                     for b in ledger.risk_blocks_for_rebalance(rebalance_id)),
        dropped=tuple((n.symbol, n.dropped_reason) for n in netting if n.dropped_reason),
        netting_saved_qty=saved_qty, netting_saved_notional=saved_notional,
        shortfall_by_currency=by_ccy, components_by_currency=comp_ccy,
        shortfall_base=base, unconverted=tuple(sorted(missing)),
        outliers=_outliers(reports),
    )


def _outliers(reports: list[OrderReport]) -> tuple[tuple[OrderReport, str], ...]:
    out: list[tuple[float, OrderReport, str]] = []
    for r in reports:
        t = r.tca
        why: list[str] = []
        if t.slippage_bps is not None and t.slippage_bps > r.max_slippage_bps:
            why.append(f"slippage {t.slippage_bps:.1f} bps > cap {r.max_slippage_bps:g}")
        if t.filled_quantity < t.requested_quantity:
            why.append(f"filled {t.filled_quantity}/{t.requested_quantity}")
        if t.shortfall_bps > OUTLIER_SHORTFALL_BPS:
            why.append(f"shortfall {t.shortfall_bps:.1f} bps")
        if why:
            out.append((t.shortfall_bps, r, "; ".join(why)))
    out.sort(key=lambda x: -x[0])
    return tuple((r, why) for _, r, why in out)


