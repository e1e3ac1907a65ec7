"""Measuring one policy's run on a cell (bench/eq/runner.py drives it): the
stop, the charged completion sweep, completion-adjusted IS, the control
variate and the collar check. All ``*_bps`` in bps of paper notional at the
arrival mid, + = cost."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bench.eq.grid import Cell
from lib.analytics import compute_tca
from lib.brokers.base import TERMINAL_BROKER_STATUSES, OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import BrokerError
from lib.orders.events import OrderEvent, OrderEventKind
from lib.types import ExecutionResult, Instrument, OrderPlan, OrderType, PolicyMode, Side

__all__ = ["SETTLE_S", "Outcome", "check_collar", "complete_with_sweep", "measure"]

_EPS = 1e-9
#: seconds waited for cancel confirmations before the sweep, and for the sweep's fills
SETTLE_S = 1.0
_SETTLE_S = SETTLE_S


@dataclass(frozen=True, slots=True)
class Outcome:
    """One policy on one cell. Costs in bps of paper notional (+ = cost);
    times in seconds after arrival; messages = new + modify + cancel."""

    policy: str
    is_adj_bps: float  # completion-adjusted IS (sweep at stop included), the primary score
    is_cv_bps: float  # is_adj_bps minus the no-impact drift at fill times (control variate)
    cv_bps: float
    sweep_bps: float  # the sweep leg's cost, bps of the whole order's paper notional
    is_bps: float  # raw IS (unfilled rest marked at the end mid), secondary
    spread_bps: float
    impact_bps: float
    delay_bps: float
    opportunity_bps: float
    fees_bps: float
    fill_rate: float  # filled by the policy itself (before the sweep) / requested
    complete: bool  # the policy itself filled everything within the horizon
    incomplete_collar: bool
    completion_s: float
    messages: int
    orders: int
    limits_checked: int
    collar_violations: int
    max_child_qty: int
    max_passive_fill_tob: float  # largest single passive fill / top-of-book size (fidelity probe)
    reprice_errors: int = 0  # policy.reprice raised (see production_repricer)


def check_collar(plan: OrderPlan, events: Iterable[OrderEvent]) -> tuple[int, int]:
    """(limits checked, limits outside the plan's hard band) over every price sent
    (SUBMIT_SENT and MODIFY_SENT events with a price)."""
    checked = bad = 0
    for ev in events:
        if ev.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT) and ev.price is not None:
            checked += 1
            if not plan.collar_low - _EPS <= ev.price <= plan.collar_high + _EPS:
                bad += 1
    return checked, bad


def _filled(broker: SimBroker, symbol: str) -> int:
    return sum(f.quantity for f in broker.fills if f.symbol == symbol)


def complete_with_sweep(
    broker: SimBroker, clock: VirtualClock, symbol: str, side: Side, quantity: int, *, settle: bool = True
) -> int:
    """Cancel every working order of ours (and, ``settle``, wait one second for
    the confirmations), then complete the rest of ``quantity`` with one market
    order on the same book. Returns the quantity swept."""
    for coid in list(broker.sim.open_ids):
        o = broker.sim.orders[coid]
        if o.symbol == symbol and o.status not in TERMINAL_BROKER_STATUSES and not o.cancel_inflight:
            try:
                broker.cancel_order(coid)
            except BrokerError:
                pass
    if settle:
        clock.advance(_SETTLE_S)
    rest = quantity - _filled(broker, symbol)
    if rest > 0:
        broker.submit_order(OrderRequest(f"sweep-{symbol}", symbol, side, rest, OrderType.MKT, None))
        clock.advance(_SETTLE_S)
    return max(0, rest)


def _mid_at(mids: dict[int, float], keys: list[int], k: int) -> float:
    if k in mids:
        return mids[k]
    i = bisect.bisect_right(keys, k) - 1
    return mids[keys[max(i, 0)]]


def measure(
    name: str, cell: Cell, plan: OrderPlan | None, broker: SimBroker, clock: VirtualClock, inst: Instrument,
    mids: dict[int, float], events: list[OrderEvent], t0: datetime, arrival_mid: float,
    half_spread_bps: float, path: np.ndarray, messages: int, orders: int, max_child: int,
    order_edges: dict[str, float] | None = None,
) -> Outcome:  # fmt: skip
    """``order_edges``: client order id -> the aggressive edge of that order's own
    collar (a child's band of its time); a sent limit at its edge marks an
    incomplete order as stopped at the band (else the plan's collar edge)."""
    sym, side, qty, mult = cell.symbol, cell.side, cell.quantity, inst.multiplier
    # working orders still live at the stop are cancelled first (their late fills count as the policy's)
    for coid in list(broker.sim.open_ids):
        if broker.sim.orders[coid].status not in TERMINAL_BROKER_STATUSES and not broker.sim.orders[coid].cancel_inflight:
            try:
                broker.cancel_order(coid)
            except BrokerError:
                pass
    clock.advance(_SETTLE_S)
    own = [f for f in broker.fills if f.symbol == sym]
    filled = sum(f.quantity for f in own)
    keys = sorted(mids)
    end = clock.now()
    end_mid = broker.sim.mid(sym)
    avg = sum(f.price * f.quantity for f in own) / filled if filled else None
    fill_mid = None
    if filled:
        fill_mid = sum(_mid_at(mids, keys, int(broker.sim.seconds_of(f.ts))) * f.quantity for f in own) / filled
    result = ExecutionResult(
        intent_id=name, symbol=sym, side=side, requested_quantity=qty,
        filled_quantity=filled, avg_price=avg, arrival_mid=arrival_mid, slippage_bps=None,
        status="filled" if filled >= qty else ("partial" if filled else "unfilled"),
        mode=plan.mode if plan is not None else PolicyMode.MARKET, replace_count=0,
        commission=sum(f.commission for f in own), started_at=t0, finished_at=end,
        notional=abs((avg or 0.0) * filled * mult),
    )  # fmt: skip
    tca = compute_tca(
        result, day=t0.date(), arrival_spread_bps=2.0 * half_spread_bps, fill_time_mid=fill_mid,
        end_mid=end_mid, multiplier=mult,
    )  # fmt: skip
    complete = filled >= qty
    last = max((f.ts for f in own), default=end) if complete else end
    # completion sweep at the stop, charged
    complete_with_sweep(broker, clock, sym, side, qty, settle=False)
    allf = [f for f in broker.fills if f.symbol == sym]
    paper = qty * arrival_mid
    cost = side.sign * sum((f.price - arrival_mid) * f.quantity for f in allf)
    sweep = [f for f in allf if f.client_order_id.startswith("sweep-")]
    sweep_cost = side.sign * sum((f.price - arrival_mid) * f.quantity for f in sweep)
    fees = sum(f.commission for f in allf) / (paper * mult) * 1e4
    is_adj = cost / paper * 1e4 + fees
    k0 = int(round(broker.sim.seconds_of(t0)))
    lat0 = path[0]

    def latent_at(ts: datetime) -> float:
        i = int(broker.sim.seconds_of(ts)) - k0
        return float(path[min(max(i, 0), len(path) - 1)])

    cv = side.sign * sum((latent_at(f.ts) - lat0) * f.quantity for f in allf) / paper * 1e4
    checked = bad = 0
    at_edge = False
    if plan is not None:
        checked, bad = check_collar(plan, events)
        edge = plan.collar_high if side is Side.BUY else plan.collar_low
        edges = order_edges or {}
        sent = [(ev.client_order_id, ev.price) for ev in events
                if ev.price is not None and ev.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT)]  # fmt: skip
        at_edge = any(abs(p - edges.get(c, edge)) < inst.tick_size / 2 for c, p in sent)
    tob = inst.profile.top_of_book
    return Outcome(
        policy=name, is_adj_bps=is_adj, is_cv_bps=is_adj - cv, cv_bps=cv, sweep_bps=sweep_cost / paper * 1e4,
        is_bps=tca.shortfall_bps, spread_bps=tca.spread_bps, impact_bps=tca.impact_bps,
        delay_bps=tca.delay_bps, opportunity_bps=tca.opportunity_bps, fees_bps=tca.fees_bps,
        fill_rate=filled / qty, complete=complete, incomplete_collar=(not complete) and at_edge,
        completion_s=(last - t0).total_seconds(), messages=messages, orders=orders,
        limits_checked=checked, collar_violations=bad, max_child_qty=max_child,
        max_passive_fill_tob=max((f.quantity for f in own if f.liquidity == "add"), default=0) / tob,
    )  # fmt: skip
