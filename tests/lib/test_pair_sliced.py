"""Sliced pair legs keep legging protection (lib/pair/sliced.py): lockstep
rounds, so no leg is ever more than one child ahead of the slowest one, also
when one leg's market jumps away from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.orders.manager import OrderManager
from lib.pair import PairExecutor
from lib.pair.sliced import MAX_IDLE_ROUNDS, SlicedPairExecution
from lib.policy import ExecutionPolicy
from lib.sim.presets import bench_config
from lib.types import OrderIntent, OrderPlan, PairGroup, PolicyMode, SessionPhase, Side

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
LEGS = ("SPY", "QQQ")


def _run(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig, *, jump_bps: float, seed: int, usd: float = 30e6
) -> tuple[float, float, list[float], SlicedPairExecution, list[OrderPlan]]:
    """Buy SPY / sell QQQ for ``usd`` each, legs sliced; returns (max unhedged
    USD at the arrival marks, largest child USD, fill fractions, execution, plans)."""
    cfg = exec_config.model_copy(update={"adv_fraction_threshold": 0.0002})  # slice $30M legs
    clock = VirtualClock(OPEN)
    broker = SimBroker(clock, bench_config(seed, session_offset_s=0.0, symbols=LEGS), instruments)
    clock.advance(1_800.0)
    policy = ExecutionPolicy(cfg, instruments, clock)
    plans = []
    for i, (sym, side) in enumerate(zip(LEGS, (Side.BUY, Side.SELL), strict=True)):
        snap = broker.get_market_data(sym)
        assert snap.mid is not None
        qty = round(usd / snap.mid)
        intent = OrderIntent(f"leg{i}", sym, side, qty, pair_group="g", mode=PolicyMode.MARKETABLE_LIMIT)
        plans.append(policy.create_plan(intent, snap, session_phase=SessionPhase.REGULAR,
                                        remaining_session_seconds=20_000))  # fmt: skip
    assert all(p.slices is not None and p.slices.n_slices > 1 for p in plans)
    marks = {p.symbol: p.arrival_mid for p in plans}
    state = {"max": 0.0, "jumped": False}
    t0 = clock.now()

    def track(_start: datetime, end: datetime) -> None:
        if jump_bps and not state["jumped"] and (end - t0).total_seconds() >= 3.0:
            broker.sim.markets["QQQ"].latent *= 1.0 - jump_bps / 1e4  # against the seller
            state["jumped"] = True
        u = abs(sum(broker.positions.get(s, 0) * marks[s] for s in LEGS))
        state["max"] = max(state["max"], u)

    clock.subscribe(track)
    manager = OrderManager(broker, clock, cfg, market_data=broker.get_market_data)
    with manager:
        pex = PairExecutor(manager, clock, cfg, policy, broker.get_market_data)
        group = PairGroup("g", legs=tuple(p.intent for p in plans))
        execution = pex.start(group, {p.intent.intent_id: p for p in plans}, "pair")
        assert isinstance(execution, SlicedPairExecution)
        pex.run(timeout_seconds=3_600.0)
    clock.unsubscribe(track)
    child = max(t.quantity * marks[t.symbol] for t in manager.tickets)
    fills = [execution.filled(p.intent.intent_id) / p.quantity for p in plans]
    return state["max"], child, fills, execution, plans


@pytest.mark.parametrize("seed", [3, 7])
def test_sliced_legs_never_run_more_than_one_child_ahead(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig, seed: int
) -> None:
    worst, child, fills, execution, _ = _run(instruments, exec_config, jump_bps=0.0, seed=seed)
    assert fills == [1.0, 1.0]
    assert len(execution.rounds) >= 2  # really sliced
    tick = max(p.arrival_mid for p in execution._plans.values())  # one share of rounding
    assert worst <= child + tick
    assert execution.result().completed and execution.result().max_unhedged_notional <= child + tick


def test_a_leg_that_cannot_fill_holds_the_other_to_one_child(
    instruments: InstrumentRegistry, exec_config: ExecutionConfig
) -> None:
    worst, child, fills, execution, plans = _run(instruments, exec_config, jump_bps=300.0, seed=7)
    assert fills[1] < 1.0  # the jumped leg could not follow inside its band
    n = max(p.slices.n_slices for p in plans if p.slices is not None)
    assert fills[0] <= fills[1] + 1.0 / n + 1.0 / plans[0].quantity  # the leader stopped one child ahead (+ rounding)
    tick = max(p.arrival_mid for p in plans)
    assert worst <= child + tick
    result = execution.result()
    assert result.completed and result.max_unhedged_notional <= child + tick
    # it stopped after MAX_IDLE_ROUNDS rounds without a fill, not by the timeout
    assert execution.done and len(execution.rounds) < 3_600 / 20
    assert MAX_IDLE_ROUNDS >= 1
