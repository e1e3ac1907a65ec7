"""Run one policy on one cell: fork a seeded market at the arrival time,
execute, stop at the cell's common horizon, complete what is left, measure.

The market is built once per cell at the session open (VirtualClock, a
SimBroker holding only the instrument under test, ``session_offset_s = 0``),
stepped to the arrival time, then deep-copied (clock + broker together) for
each policy, so every policy meets the identical market and tape.

Accounting (all ``*_bps`` in bps of the order's paper notional at the arrival
mid, positive = cost):

* **Common horizon** ``H`` per cell (:func:`cell_horizon_s`): every policy is
  stopped at ``H`` at the latest (its own working orders cancelled); ``H``
  ends ``CLOSE_GUARD_S`` before the session close, so the close is enforced.
* **Completion sweep**: whatever a policy left unfilled when it stopped is
  completed at that moment by a market order on the same simulated book (it
  walks the displayed depth and moves the price through the simulator's own
  impact), and charged. ``is_adj_bps`` is the shortfall of all fills, sweep
  included, vs the arrival mid, plus fees: a policy that does nothing pays a
  full market sweep, later.
* **Raw IS** (``is_bps``, secondary): ``lib.analytics.compute_tca`` with the
  unfilled rest marked at the end mid (opportunity cost, no spread/impact).
* **Control variate** ``cv_bps``: the drift of the simulator's no-impact
  price path (the latent price, identical on every fork: same seed, same
  arrival) at the policy's fill times, sweep included, quantity-weighted.
  Prices are a martingale and fill times are stopping times, so its mean is
  ~0 while it carries most of the drift noise; ``is_cv_bps = is_adj_bps -
  cv_bps`` is what the paired intervals compare.
* **Floor** per cell: half the quoted spread + (2/3) x the simulator's impact
  function of the order size (its Y, its unstressed sigma, its linear branch).
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench.eq.grid import Cell
from bench.eq.measure import SETTLE_S, Outcome, check_collar, complete_with_sweep, measure
from bench.eq.peers import run_peer
from bench.eq.policies import PolicySpec
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import MarketDataRejected
from lib.instruments import InstrumentRegistry
from lib.orders.events import OrderEvent
from lib.orders.requests import ladder_repricer
from lib.policy import ExecutionPolicy
from lib.sim.impact import sqrt_law
from lib.sim.presets import bench_config
from lib.supervisor import supervise
from lib.types import (
    Instrument,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    SessionPhase,
)

__all__ = [
    "BENCH_IMPACT_Y",
    "CLOSE_GUARD_S",
    "SESSION_OPEN",
    "CellResult",
    "Outcome",
    "RecordingJournal",
    "analytic_floor_bps",
    "cell_floor_bps",
    "cell_horizon_s",
    "check_collar",
    "complete_with_sweep",
    "no_impact_path",
    "open_market",
    "production_repricer",
    "run_cell",
    "run_policy",
]

#: A regular NYSE session open (UTC); only differences of time matter to the sim.
SESSION_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
BENCH_IMPACT_Y = 0.7
#: the common horizon ends this long before the close (room for the sweep)
CLOSE_GUARD_S = 120.0
#: shortest common horizon (s)
MIN_HORIZON_S = 600.0
_REBALANCE = "bench"
_SETTLE_S = SETTLE_S


@dataclass(frozen=True, slots=True)
class CellResult:
    """Every policy's outcome on one cell plus the floors (bps)."""

    cell: Cell
    arrival_mid: float
    half_spread_bps: float
    analytic_floor_bps: float  # (2/3) x the simulator's impact of Q (bps)
    floor_bps: float  # half spread + analytic_floor_bps
    top_of_book: float
    horizon_s: float
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


def analytic_floor_bps(y: float, daily_vol: float, quantity: int, adv: float, linear_below: float = 0.0) -> float:
    """(2/3) x the impact law in bps: (2/3) * Y * sigma_daily * g(Q/ADV), g the
    square root, linear below ``linear_below`` (continuous there)."""
    return 2.0 / 3.0 * sqrt_law(quantity, adv, y, daily_vol, linear_below) * 1e4


def cell_floor_bps(broker: SimBroker, symbol: str, quantity: int, half_spread_bps: float) -> tuple[float, float]:
    """(impact part, floor) of one cell from the simulator's own impact model:
    half spread + permanent_frac x F(Q) / price (F with its Y, sigma, linear branch)."""
    imp = broker.sim.markets[symbol].impact
    price = broker.instruments[symbol].profile.price
    part = imp.permanent_frac * sqrt_law(quantity, imp.adv, imp.y, imp.sigma_price, imp.linear_below) / price * 1e4
    return part, half_spread_bps + part


def cell_horizon_s(cell: Cell, inst: Instrument) -> float:
    """The cell's common horizon (s after arrival): 1.2 x what 10 % participation
    needs plus 5 minutes, at least MIN_HORIZON_S, ending CLOSE_GUARD_S before the close."""
    need = cell.quantity / (0.10 * inst.profile.adv / inst.session_seconds)
    h = max(MIN_HORIZON_S, 1.2 * need + 300.0)
    return max(1.0, min(h, inst.session_seconds - CLOSE_GUARD_S - cell.arrival_s))


def open_market(
    cell: Cell, registry: InstrumentRegistry, *, latency: str = "colo", impact_y: float = BENCH_IMPACT_Y
) -> tuple[VirtualClock, SimBroker]:
    """A broker on the cell's seeded market, started at the open and stepped to the arrival."""
    clock = VirtualClock(SESSION_OPEN)
    cfg = bench_config(
        cell.seed, cell.regime, latency, impact_y, symbols=(cell.symbol,), session_offset_s=0.0,
        enforce_session=True,
    )  # fmt: skip
    broker = SimBroker(clock, cfg, registry)
    clock.advance(cell.arrival_s)
    return clock, broker


def no_impact_path(broker: SimBroker, symbol: str, seconds: float) -> np.ndarray:
    """Latent price at arrival + 0..ceil(seconds)+5 s with no orders of ours
    (no impact); identical for every fork of the cell. Replays only the price
    stream (a copy of it) exactly as ``InstrumentMarket.step`` applies it:
    innovations land ``flow_lead_s`` seconds after they are drawn."""
    mkt = broker.sim.markets[symbol]
    blocks = copy.deepcopy(mkt._price)
    pending = deque(d for _, d in mkt._pending)
    lead = mkt.cfg.flow_lead_s
    n = int(math.ceil(seconds)) + 5
    out = np.empty(n + 1)
    lat = mkt.latent
    out[0] = lat
    for i in range(1, n + 1):
        (_z, dx), r = blocks.row(mkt.k + i)
        pending.append(float(dx[r]))
        if len(pending) > lead:
            lat += pending.popleft()
        out[i] = lat
    return out


def production_repricer(
    policy: ExecutionPolicy, errors: list[str] | None = None
) -> Callable[[OrderPlan, int, MarketDataSnapshot | None], float]:
    """The repricer lib.pipeline.execute wires: touch-re-based ladder, static ladder fallback.

    One difference, recorded: where ``policy.reprice`` raises ValueError the
    error is appended to ``errors`` and the static ladder is used, so the
    benchmark can go on and report how often it happens.
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


def build_plan(
    spec: PolicySpec, cell: Cell, clock: VirtualClock, broker: SimBroker, registry: InstrumentRegistry
) -> OrderPlan:
    """The spec's plan for the cell's order at the current (arrival) time."""
    inst = registry[cell.symbol]
    policy = ExecutionPolicy(spec.config, registry, clock)
    intent = OrderIntent("o", cell.symbol, cell.side, cell.quantity, asset_class=inst.asset_class, mode=spec.mode)
    snap = broker.get_market_data(cell.symbol)
    remaining = inst.session_seconds - cell.arrival_s
    return policy.create_plan(intent, snap, session_phase=SessionPhase.REGULAR, remaining_session_seconds=remaining)


def plan_signature(plan: OrderPlan) -> tuple[Any, ...]:
    """What determines execution (two plans with equal signatures run identically)."""
    return (
        plan.order_type, plan.limit_price, plan.collar_low, plan.collar_high,
        plan.ttl_seconds, plan.replace_interval_seconds, plan.max_replace_attempts,
        plan.reprice_ladder, plan.slices, plan.mode,
    )  # fmt: skip


def run_policy(
    spec: PolicySpec,
    cell: Cell,
    clock: VirtualClock,
    broker: SimBroker,
    registry: InstrumentRegistry,
    *,
    horizon_s: float,
    path: np.ndarray,
    plan: OrderPlan | None = None,
    half_spread_bps: float = 0.0,
) -> Outcome:
    """Execute ``spec`` on an already-forked market (mutates clock and broker),
    stop at ``horizon_s``, sweep the rest, measure. ``path``: no_impact_path."""
    inst = registry[cell.symbol]
    sym = cell.symbol
    t0 = clock.now()
    arrival_mid = broker.sim.mid(sym)
    mids: dict[int, float] = {broker.sim.k: arrival_mid}
    clock.subscribe(lambda _s, _e: mids.__setitem__(broker.sim.k, broker.sim.mid(sym)))
    errors: list[str] = []
    events: list[OrderEvent] = []
    messages = orders = max_child = 0
    edges: dict[str, float] | None = None  # each layer order's own collar edge
    if spec.peer is not None:
        run = run_peer(spec.peer, sym, cell.side, cell.quantity, clock, broker, inst, horizon_s)
        messages, orders, max_child = run.messages, run.orders, run.max_child_qty
    else:
        if plan is None:
            plan = build_plan(spec, cell, clock, broker, registry)
        policy = ExecutionPolicy(spec.config, registry, clock)
        journal = RecordingJournal()
        timeout = min(horizon_s, plan.ttl_seconds) if spec.ttl_stop else horizon_s
        rep = supervise(
            [plan], transport=broker, clock=clock, config=spec.config, rebalance_id=_REBALANCE,
            journal=journal, repricer=production_repricer(policy, errors), market_data=broker.get_market_data,
            instruments=registry, policy=policy, timeout_seconds=timeout,
        )  # fmt: skip
        events = journal.events
        tickets = list(rep.tickets)
        messages, orders = sum(t.messages for t in tickets), len(tickets)
        max_child = max((t.quantity for t in tickets), default=0)
        edges = {t.client_order_id: t.plan.collar_high if t.plan.side.sign > 0 else t.plan.collar_low for t in tickets}
    out = measure(
        spec.name, cell, plan, broker, clock, inst, mids, events, t0, arrival_mid, half_spread_bps, path,
        messages, orders, max_child, edges,
    )  # fmt: skip
    return replace(out, reprice_errors=len(errors))


def run_cell(
    cell: Cell, specs: list[PolicySpec], registry: InstrumentRegistry, *, impact_y: float = BENCH_IMPACT_Y
) -> CellResult:
    """Every spec on one cell, each on its own fork of the arrival-time market."""
    clock, broker = open_market(cell, registry, impact_y=impact_y)
    inst = registry[cell.symbol]
    snap = broker.get_market_data(cell.symbol)
    half = (snap.spread_bps or 0.0) / 2.0
    part, floor = cell_floor_bps(broker, cell.symbol, cell.quantity, half)
    horizon = cell_horizon_s(cell, inst)
    path = no_impact_path(broker, cell.symbol, horizon + 10.0 * _SETTLE_S)
    out: dict[str, Outcome] = {}
    ran: dict[tuple[Any, ...], str] = {}  # execution signature -> spec that ran it
    for spec in specs:
        c2, b2 = copy.deepcopy((clock, broker))
        plan = None
        if spec.peer is None:
            plan = build_plan(spec, cell, c2, b2, registry)
            sig = (*plan_signature(plan), spec.ttl_stop, spec.config.model_dump_json())
            if sig in ran:  # identical plan on an identical fork: an identical run (deterministic)
                out[spec.name] = replace(out[ran[sig]], policy=spec.name)
                continue
            ran[sig] = spec.name
        out[spec.name] = run_policy(
            spec, cell, c2, b2, registry, horizon_s=horizon, path=path, plan=plan, half_spread_bps=half
        )
    return CellResult(cell, snap.mid or 0.0, half, part, floor, inst.profile.top_of_book, horizon, out)
