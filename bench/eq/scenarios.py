"""Pairs (unhedged notional while two legs execute) and netting (turnover saved).

Pairs: two legs of equal USD notional (long SPY, short QQQ by default) are
planned by ExecutionPolicy and supervised concurrently on one SimBroker with
both instruments. After every clock step the signed position notional at the
mid ``|q1*m1*mult1 + q2*m2*mult2|`` is the unhedged notional; we report its
maximum and its time integral (USD x seconds) until both legs are terminal.
The jump scenario moves one leg's latent price against its limit a few
seconds after arrival (an overridden latent move, ``jump_bps``), so that leg
cannot fill inside its collar while the other one completes.
Each scenario runs as plain concurrent legs under ``supervise`` (no legging
control: a baseline) and through lib.pair.PairExecutor (the layer's pair
execution: sliced legs go in lockstep rounds); the executor column says which,
and the pair target is evaluated on the PairExecutor runs.

Netting: a seeded synthetic multi-sleeve basket goes through
``BasketExecutor.net_trades`` and ``allocate``; the theoretical turnover saving
is ``sum |intent notional| - sum_symbol |net notional|``; achieved is the raw
turnover minus what goes to the market minus what is left unexecuted (nets
dropped under ``min_trade_notional_usd``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from bench.eq.runner import BENCH_IMPACT_Y, RecordingJournal, check_collar, production_repricer
from lib.basket import BasketExecutor, NetStatus
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy
from lib.sim.presets import bench_config
from lib.supervisor import supervise
from lib.types import OrderIntent, PolicyMode, SessionPhase, Side

__all__ = ["NettingOutcome", "PairOutcome", "pair_executor_available", "run_netting", "run_pair"]

_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def pair_executor_available() -> bool:
    """True when lib/pair.py exists (another helper is writing it)."""
    return importlib.util.find_spec("lib.pair") is not None


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """One pair run. Notionals in USD; integral in USD x seconds."""

    scenario: str
    config_name: str
    leg_notional: float
    max_unhedged: float
    unhedged_integral: float
    max_child_notional: float
    duration_s: float
    fill_rates: tuple[float, float]
    collar_violations: int
    executor: str
    protected: bool = False  # legging protection (lib.pair.PairExecutor); False: plain legs, a baseline


def run_pair(
    registry: InstrumentRegistry,
    config: ExecutionConfig,
    *,
    config_name: str = "P2",
    legs: tuple[str, str] = ("SPY", "QQQ"),
    leg_notional: float = 30e6,
    seed: int = 7,
    arrival_s: float = 1800.0,
    jump_bps: float = 0.0,
    jump_after_s: float = 3.0,
    use_pair_executor: bool = False,
    hedge_symbol: str | None = None,
) -> PairOutcome:
    """Buy ``legs[0]``, sell ``legs[1]`` concurrently with the layer's policy:
    as two plain plans under ``supervise`` or (``use_pair_executor``) through
    lib.pair.PairExecutor on an OrderManager (legs must be unsliced there),
    optionally with a temporary hedge in ``hedge_symbol`` (counted in the
    unhedged notional)."""
    clock = VirtualClock(_OPEN)
    broker = SimBroker(
        clock,
        bench_config(seed, impact_y=BENCH_IMPACT_Y, session_offset_s=0.0,
                     symbols=legs + ((hedge_symbol,) if hedge_symbol else ())),
        registry,
    )
    clock.advance(arrival_s)
    policy = ExecutionPolicy(config, registry, clock)
    sides = (Side.BUY, Side.SELL)
    plans = []
    for i, (sym, side) in enumerate(zip(legs, sides, strict=True)):
        inst = registry[sym]
        snap = broker.get_market_data(sym)
        mid = snap.mid or inst.profile.price
        qty = max(1, int(round(leg_notional / (mid * inst.multiplier))))
        intent = OrderIntent(f"leg{i}", sym, side, qty, asset_class=inst.asset_class, pair_group="g",
                             mode=PolicyMode(config.default_policy))  # fmt: skip
        plans.append(policy.create_plan(
            intent, snap, session_phase=SessionPhase.REGULAR,
            remaining_session_seconds=inst.session_seconds - arrival_s,
        ))  # fmt: skip
    t0 = clock.now()
    state = {"max": 0.0, "integral": 0.0, "jumped": False}
    book = legs + ((hedge_symbol,) if hedge_symbol else ())
    mults = {s: registry[s].multiplier for s in book}

    def track(start: datetime, end: datetime) -> None:
        if jump_bps and not state["jumped"] and (end - t0).total_seconds() >= jump_after_s:
            # the sell leg's market drops away from its limit (against the seller)
            broker.sim.markets[legs[1]].latent *= 1.0 - jump_bps / 1e4
            state["jumped"] = True
        u = abs(sum(broker.positions.get(s, 0) * broker.sim.mid(s) * mults[s] for s in book))
        state["max"] = max(state["max"], u)
        state["integral"] += u * (end - start).total_seconds()

    clock.subscribe(track)
    repricer = production_repricer(policy)
    if use_pair_executor:
        from lib.orders.manager import OrderManager
        from lib.pair import PairExecutor
        from lib.types import PairGroup

        manager = OrderManager(broker, clock, config, repricer=repricer, market_data=broker.get_market_data)
        with manager:
            pex = PairExecutor(manager, clock, config, policy, broker.get_market_data)
            group = PairGroup("g", legs=tuple(p.intent for p in plans), hedge_symbol=hedge_symbol)
            span = max(p.ttl_seconds + (p.slices.duration_seconds if p.slices else 0.0) for p in plans)
            pex.execute(group, {p.intent.intent_id: p for p in plans}, "pair", timeout_seconds=2 * span + 60.0)
        events, tickets = manager.events, manager.tickets
        filled = {t.plan.intent.intent_id: 0 for t in tickets}
        for t in tickets:
            filled[t.plan.intent.intent_id] = filled.get(t.plan.intent.intent_id, 0) + t.filled_quantity
        rates = tuple(filled.get(p.intent.intent_id, 0) / p.quantity for p in plans)
        sliced = any(p.slices is not None and p.slices.n_slices > 1 for p in plans)
        executor = f"lib.pair.PairExecutor ({'sliced, lockstep rounds' if sliced else 'concurrent'}, hedge {hedge_symbol or 'none'})"
    else:
        journal = RecordingJournal()
        rep = supervise(
            plans, transport=broker, clock=clock, config=config, rebalance_id="pair", journal=journal,
            repricer=repricer, market_data=broker.get_market_data, instruments=registry,
        )  # fmt: skip
        events, tickets = journal.events, list(rep.tickets)
        rates = tuple(r.fill_rate for r in rep.results)
        executor = "plain concurrent legs (supervise)"
    clock.unsubscribe(track)
    child = max((t.quantity * t.plan.arrival_mid * mults[t.symbol] for t in tickets), default=0.0)
    bad = 0
    for p in plans:
        mine = [e for e in events if e.client_order_id.startswith(f"pair:{p.intent.intent_id}:")]
        bad += check_collar(p, mine)[1]
    return PairOutcome(
        scenario=f"jump {jump_bps:g}bps on {legs[1]}" if jump_bps else "normal",
        config_name=config_name, leg_notional=leg_notional, max_unhedged=float(state["max"]),
        unhedged_integral=float(state["integral"]), max_child_notional=child,
        duration_s=(clock.now() - t0).total_seconds(), fill_rates=(rates[0], rates[1]),
        collar_violations=bad, executor=executor, protected=use_pair_executor,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class NettingOutcome:
    """Turnover (USD notional at reference prices) of the synthetic basket."""

    sleeves: int
    symbols: int
    gross_turnover: float
    theoretical_saving: float
    sent_to_market: float
    left_unexecuted: float
    achieved_saving: float
    crossed_by_allocation: float

    @property
    def share_achieved(self) -> float:
        return self.achieved_saving / self.theoretical_saving if self.theoretical_saving > 0 else 1.0


def run_netting(
    registry: InstrumentRegistry, config: ExecutionConfig, *, sleeves: int = 4, seed: int = 11
) -> NettingOutcome:
    """Net a seeded synthetic basket (1-2 intents per sleeve and symbol)."""
    rng = np.random.default_rng(seed)
    symbols = [s for s in ("SPY", "QQQ", "IWM", "TLT", "GLD", "EFA", "ES", "FESX", "DIS") if s in registry]
    prices = {s: registry[s].profile.price for s in symbols}
    intents: list[OrderIntent] = []
    raw_signed: dict[str, int] = {s: 0 for s in symbols}
    gross = 0.0
    n = 0
    for k in range(sleeves):
        for sym in symbols:
            inst = registry[sym]
            for _ in range(int(rng.integers(1, 3))):
                usd = float(rng.lognormal(np.log(2e5), 1.0)) * (1 if rng.random() < 0.5 else -1)
                q = int(round(usd / (prices[sym] * inst.multiplier)))
                if q == 0:
                    continue
                n += 1
                intents.append(OrderIntent(f"i{n}", sym, Side.from_signed(q), abs(q), sleeve=f"s{k}"))
                raw_signed[sym] += q
                gross += inst.notional(prices[sym], q)
    netting = BasketExecutor(config, registry).net_trades(intents, prices, "nb")
    net_total = sum(registry[s].notional(prices[s], q) for s, q in raw_signed.items())
    sent = sum(registry[i.symbol].notional(prices[i.symbol], i.quantity) for i in netting.net_intents)
    dropped = sum(d.notional for d in netting.dropped)
    executions = {i.symbol: (i.quantity, prices[i.symbol]) for i in netting.net_intents}
    allocs = BasketExecutor(config, registry).allocate(netting, executions, prices)
    crossed = sum(registry[a.symbol].notional(prices[a.symbol], a.crossed_qty) for a in allocs)
    assert all(sn.status in tuple(NetStatus) for sn in netting.breakdown.values())
    return NettingOutcome(
        sleeves=sleeves, symbols=len(symbols), gross_turnover=gross, theoretical_saving=gross - net_total,
        sent_to_market=sent, left_unexecuted=dropped, achieved_saving=gross - sent - dropped,
        crossed_by_allocation=crossed,
    )  # fmt: skip
