"""Run one policy on one cell: fork a seeded market at the arrival time,
plan through ExecutionPolicy, execute through the real order layer, measure.

The market is built once per cell at the session open (VirtualClock, a
SimBroker holding only the instrument under test, ``session_offset_s = 0``),
stepped to the arrival time, then deep-copied (clock + broker together) for
each policy, so every policy meets the identical market and tape.

Implementation shortfall per order comes from ``lib.analytics.compute_tca``
with the half spread at arrival, the quantity-weighted mid prevailing at the
fill times, and the mid when the policy's run ended (opportunity cost of the
unfilled rest). All ``*_bps`` are bps of the order's paper notional at the
arrival mid, positive = cost.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bench.eq.grid import Cell
from bench.eq.policies import NEAR, PolicySpec
from lib.analytics import compute_tca
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import MarketDataRejected
from lib.instruments import InstrumentRegistry
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.manager import OrderManager
from lib.orders.parent import SliceExecutor, run_parents
from lib.orders.requests import ladder_repricer
from lib.policy import ExecutionPolicy
from lib.sim.presets import bench_config
from lib.slicing import pov_schedule
from lib.supervisor import supervise
from lib.types import (
    ExecutionResult,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderTicket,
    PolicyMode,
    SessionPhase,
    Side,
)

__all__ = [
    "BENCH_IMPACT_Y",
    "SESSION_OPEN",
    "CellResult",
    "Outcome",
    "RecordingJournal",
    "analytic_floor_bps",
    "check_collar",
    "open_market",
    "production_repricer",
    "run_cell",
    "run_policy",
]

#: A regular NYSE session open (UTC); only differences of time matter to the sim.
SESSION_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
BENCH_IMPACT_Y = 0.7
_REBALANCE = "bench"
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Outcome:
    """One policy on one cell. Costs in bps of paper notional (+ = cost);
    times in seconds after arrival; messages = new + modify + cancel."""

    policy: str
    is_bps: float
    spread_bps: float
    impact_bps: float
    delay_bps: float
    opportunity_bps: float
    fees_bps: float
    fill_rate: float
    complete: bool
    incomplete_collar: bool
    completion_s: float
    messages: int
    orders: int
    limits_checked: int
    collar_violations: int
    max_child_qty: int
    max_passive_fill_tob: float  # largest single passive fill / top-of-book size (fidelity probe)
    reprice_errors: int = 0  # policy.reprice raised (see production_repricer)


@dataclass(frozen=True, slots=True)
class CellResult:
    """Every policy's outcome on one cell plus the floors (bps)."""

    cell: Cell
    arrival_mid: float
    half_spread_bps: float
    analytic_floor_bps: float
    top_of_book: float
    outcomes: dict[str, Outcome] = field(default_factory=dict)


class RecordingJournal:
    """An OrderJournal (lib.supervisor) that keeps the order events only."""

    def __init__(self) -> None:
        self.events: list[OrderEvent] = []

    def record_order(self, client_order_id: str, **kwargs: Any) -> object:
        return None

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        evs = list(events)
        self.events.extend(evs)
        return len(evs)

    def record_fill(self, fill: Any) -> bool:
        return True


def analytic_floor_bps(y: float, daily_vol: float, quantity: int, adv: float) -> float:
    """(2/3) x square-root impact: (2/3) * Y * sigma_daily * sqrt(Q/ADV), in bps."""
    return 2.0 / 3.0 * y * daily_vol * math.sqrt(quantity / adv) * 1e4


def check_collar(plan: OrderPlan, events: Iterable[OrderEvent]) -> tuple[int, int]:
    """(limits checked, limits outside the plan's collar) over every price sent
    (SUBMIT_SENT and MODIFY_SENT events with a price)."""
    checked = bad = 0
    for ev in events:
        if ev.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT) and ev.price is not None:
            checked += 1
            if not plan.collar_low - _EPS <= ev.price <= plan.collar_high + _EPS:
                bad += 1
    return checked, bad


def open_market(
    cell: Cell, registry: InstrumentRegistry, *, latency: str = "colo", impact_y: float = BENCH_IMPACT_Y
) -> tuple[VirtualClock, SimBroker]:
    """A broker on the cell's seeded market, started at the open and stepped to the arrival."""
    clock = VirtualClock(SESSION_OPEN)
    cfg = bench_config(
        cell.seed, cell.regime, latency, impact_y, symbols=(cell.symbol,), session_offset_s=0.0
    )
    broker = SimBroker(clock, cfg, registry)
    clock.advance(cell.arrival_s)
    return clock, broker


def production_repricer(
    policy: ExecutionPolicy, errors: list[str] | None = None
) -> Callable[[OrderPlan, int, MarketDataSnapshot | None], float]:
    """The repricer lib.pipeline.execute wires: touch-re-based ladder, static ladder fallback.

    One difference, recorded: ``policy.reprice`` raises ValueError when the
    attempt exceeds the plan's ladder (a sliced child keeps only the parent's
    rungs beyond its limit but the parent's max_replace_attempts), which would
    abort ``supervise`` in production. Here the error is appended to ``errors``
    and the static ladder (last rung) is used, so the benchmark can go on and
    report how often it happens.
    """

    def repricer(plan: OrderPlan, attempt: int, snap: MarketDataSnapshot | None) -> float:
        if snap is not None and plan.reprice_ladder:
            try:
                return policy.reprice(plan, attempt, snap)
            except MarketDataRejected:
                pass
            except ValueError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
        return ladder_repricer(plan, attempt, snap)

    return repricer


def _near_touch(broker: SimBroker, side: Side) -> Callable[[str], MarketDataSnapshot]:
    """Quotes whose far touch is the real near touch (a locked book), so the
    SliceExecutor prices each child passively at release."""

    def md(symbol: str) -> MarketDataSnapshot:
        s = broker.get_market_data(symbol)
        if s.bid is None or s.ask is None:
            return s
        return replace(s, ask=s.bid) if side is Side.BUY else replace(s, bid=s.ask)

    return md


def build_plan(
    spec: PolicySpec, cell: Cell, clock: VirtualClock, broker: SimBroker, registry: InstrumentRegistry
) -> OrderPlan:
    """The spec's plan for the cell's order at the current (arrival) time."""
    inst = registry[cell.symbol]
    policy = ExecutionPolicy(spec.config, registry, clock)
    intent = OrderIntent("o", cell.symbol, cell.side, cell.quantity, asset_class=inst.asset_class, mode=spec.mode)
    snap = broker.get_market_data(cell.symbol)
    remaining = inst.session_seconds - cell.arrival_s
    plan = policy.create_plan(
        intent, snap, session_phase=SessionPhase.REGULAR, remaining_session_seconds=remaining
    )
    if spec.twap_participation is not None:
        sched = pov_schedule(
            cell.quantity, inst.profile.adv, inst.session_seconds, spec.twap_participation,
            spec.config.slice_interval_seconds,
        )  # fmt: skip
        plan = replace(plan, mode=PolicyMode.TWAP, slices=sched if sched.n_slices > 1 else None)
    return plan


def plan_signature(plan: OrderPlan) -> tuple[Any, ...]:
    """What determines execution (two plans with equal signatures run identically;
    the mode label matters only through the order type)."""
    return (
        plan.order_type, plan.limit_price, plan.collar_low, plan.collar_high,
        plan.ttl_seconds, plan.replace_interval_seconds, plan.max_replace_attempts,
        plan.reprice_ladder, plan.slices,
    )  # fmt: skip


def run_policy(
    spec: PolicySpec,
    cell: Cell,
    clock: VirtualClock,
    broker: SimBroker,
    registry: InstrumentRegistry,
    plan: OrderPlan | None = None,
    half_spread_bps: float = 0.0,
) -> Outcome:
    """Execute ``spec`` on an already-forked market (mutates clock and broker).
    ``half_spread_bps``: half the quoted spread at arrival (the TCA spread term)."""
    inst = registry[cell.symbol]
    sym = cell.symbol
    if spec.zero_latency:
        broker.sim.latency.median_s = 0.0
    if plan is None:
        plan = build_plan(spec, cell, clock, broker, registry)
    t0 = clock.now()
    mids: dict[int, float] = {broker.sim.k: broker.sim.mid(sym)}
    clock.subscribe(lambda _s, _e: mids.__setitem__(broker.sim.k, broker.sim.mid(sym)))
    policy = ExecutionPolicy(spec.config, registry, clock)
    errors: list[str] = []
    repricer = production_repricer(policy, errors)
    events: list[OrderEvent]
    tickets: list[OrderTicket]
    if spec.child_pricing == NEAR:
        manager = OrderManager(broker, clock, spec.config, repricer=repricer, market_data=broker.get_market_data)
        with manager:
            ex = SliceExecutor(
                manager, clock, plan, rebalance_id=_REBALANCE, market_data=_near_touch(broker, cell.side),
                instrument=inst,
            )  # fmt: skip
            span = plan.slices.duration_seconds if plan.slices else 0.0
            run_parents(manager, clock, [ex], timeout_seconds=span + plan.ttl_seconds + 60.0)
        events, tickets = manager.events, manager.tickets
    else:
        journal = RecordingJournal()
        rep = supervise(
            [plan], transport=broker, clock=clock, config=spec.config, rebalance_id=_REBALANCE,
            journal=journal, repricer=repricer, market_data=broker.get_market_data, instruments=registry,
        )  # fmt: skip
        events, tickets = journal.events, list(rep.tickets)
    out = _measure(
        spec.name, cell, plan, broker, clock, inst.multiplier, mids, events, tickets, t0, half_spread_bps
    )
    return replace(out, reprice_errors=len(errors))


def _mid_at(mids: dict[int, float], keys: list[int], k: int) -> float:
    if k in mids:
        return mids[k]
    i = bisect.bisect_right(keys, k) - 1
    return mids[keys[max(i, 0)]]


def _measure(
    name: str, cell: Cell, plan: OrderPlan, broker: SimBroker, clock: VirtualClock, multiplier: float,
    mids: dict[int, float], events: list[OrderEvent], tickets: list[OrderTicket], t0: datetime,
    half_spread_bps: float,
) -> Outcome:  # fmt: skip
    fills = [f for f in broker.fills if f.symbol == cell.symbol]
    filled = sum(f.quantity for f in fills)
    keys = sorted(mids)
    end = clock.now()
    end_mid = broker.sim.mid(cell.symbol)
    avg = sum(f.price * f.quantity for f in fills) / filled if filled else None
    fill_mid = None
    if filled:
        fill_mid = sum(_mid_at(mids, keys, int(broker.sim.seconds_of(f.ts))) * f.quantity for f in fills) / filled
    result = ExecutionResult(
        intent_id=name, symbol=cell.symbol, side=cell.side, requested_quantity=cell.quantity,
        filled_quantity=filled, avg_price=avg, arrival_mid=plan.arrival_mid, slippage_bps=None,
        status="filled" if filled >= cell.quantity else ("partial" if filled else "unfilled"),
        mode=plan.mode, replace_count=sum(t.replace_count for t in tickets),
        commission=sum(f.commission for f in fills), started_at=t0, finished_at=end,
        notional=abs((avg or 0.0) * filled * multiplier),
    )  # fmt: skip
    tca = compute_tca(
        result, day=t0.date(), arrival_spread_bps=2.0 * half_spread_bps, fill_time_mid=fill_mid,
        end_mid=end_mid, multiplier=multiplier,
    )  # fmt: skip
    complete = filled >= cell.quantity
    last = max((f.ts for f in fills), default=end) if complete else end
    checked, bad = check_collar(plan, events)
    edge = plan.collar_high if cell.side is Side.BUY else plan.collar_low
    sent = [ev.price for ev in events if ev.price is not None and ev.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT)]
    tick = broker.instruments[cell.symbol].tick_size
    tob = broker.instruments[cell.symbol].profile.top_of_book
    at_edge = any(abs(p - edge) < tick / 2 for p in sent)
    return Outcome(
        policy=name, is_bps=tca.shortfall_bps, spread_bps=tca.spread_bps, impact_bps=tca.impact_bps,
        delay_bps=tca.delay_bps, opportunity_bps=tca.opportunity_bps, fees_bps=tca.fees_bps,
        fill_rate=filled / cell.quantity, complete=complete, incomplete_collar=(not complete) and at_edge,
        completion_s=(last - t0).total_seconds(), messages=sum(t.messages for t in tickets),
        orders=len(tickets), limits_checked=checked, collar_violations=bad,
        max_child_qty=max((t.quantity for t in tickets), default=0),
        max_passive_fill_tob=max((f.quantity for f in fills if f.liquidity == "add"), default=0) / tob,
    )  # fmt: skip


def run_cell(
    cell: Cell, specs: list[PolicySpec], registry: InstrumentRegistry, *, impact_y: float = BENCH_IMPACT_Y
) -> CellResult:
    """Every spec on one cell, each on its own fork of the arrival-time market."""
    clock, broker = open_market(cell, registry, impact_y=impact_y)
    inst = registry[cell.symbol]
    snap = broker.get_market_data(cell.symbol)
    half = (snap.spread_bps or 0.0) / 2.0
    vol = inst.profile.daily_vol * (2.0 if broker.config.stress else 1.0)
    floor = analytic_floor_bps(impact_y, vol, cell.quantity, inst.profile.adv)
    out: dict[str, Outcome] = {}
    ran: dict[tuple[Any, ...], str] = {}  # execution signature -> spec that ran it
    for spec in specs:
        c2, b2 = copy.deepcopy((clock, broker))
        plan = build_plan(spec, cell, c2, b2, registry)
        sig = (*plan_signature(plan), spec.zero_latency, spec.child_pricing, spec.config.replace_interval_seconds)
        if sig in ran:  # identical plan on an identical fork: an identical run (deterministic)
            out[spec.name] = replace(out[ran[sig]], policy=spec.name)
            continue
        ran[sig] = spec.name
        out[spec.name] = run_policy(spec, cell, c2, b2, registry, plan, half)
    return CellResult(cell, snap.mid or 0.0, half, floor, inst.profile.top_of_book, out)
