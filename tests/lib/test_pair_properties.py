"""Invariants of pair execution over random fill scripts (hypothesis).

Whatever the legs do: every price sent lies inside its plan's collar; at most
one hedge order works at a time; the hedge never exceeds what the largest
excess so far called for; every run completes with the hedge flat; the
exposure integral is bounded by max x duration.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig, load_settings
from lib.instruments import InstrumentRegistry, load_instruments
from lib.orders.events import OrderEventKind
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.states import TERMINAL
from lib.pair import PairExecutor, PairMode, hedge_quantity
from lib.policy import ExecutionPolicy
from lib.types import MarketDataSnapshot, OrderIntent, PairGroup, Side

QUOTES = {"SPY": (499.99, 500.01), "IWM": (249.99, 250.01), "MES": (4999.75, 5000.25)}
INSTRUMENTS: InstrumentRegistry = load_instruments()
BASE: ExecutionConfig = load_settings().execution

fill_step = st.tuples(
    st.integers(0, 90),  # seconds after submission
    st.floats(0.05, 1.0),  # fraction of the leg
    st.booleans(),  # only once repriced to the collar edge
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    q1=st.integers(100, 2000),
    q2=st.integers(100, 4000),
    f1=st.lists(fill_step, max_size=3),
    f2=st.lists(fill_step, max_size=3),
    hedge_delays=st.lists(st.integers(0, 6), min_size=12, max_size=12),
    max_legging=st.sampled_from([10.0, 30.0, 60.0]),
    mode=st.sampled_from(list(PairMode)),
)
def test_pair_invariants(
    q1: int,
    q2: int,
    f1: list[tuple[int, float, bool]],
    f2: list[tuple[int, float, bool]],
    hedge_delays: list[int],
    max_legging: float,
    mode: PairMode,
) -> None:
    clock = VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    config = BASE.model_copy(update={"pair_max_legging_seconds": max_legging})
    broker = FakeBroker(clock)
    manager = OrderManager(broker, clock, config)
    policy = ExecutionPolicy(config, INSTRUMENTS, clock)

    def md(symbol: str) -> MarketDataSnapshot:
        bid, ask = QUOTES[symbol]
        return MarketDataSnapshot(symbol, bid, ask, ts=clock.now())

    legs = (OrderIntent("L1", "SPY", Side.BUY, q1), OrderIntent("L2", "IWM", Side.SELL, q2))
    plans = {i.intent_id: policy.create_plan(i, md(i.symbol)) for i in legs}
    for intent, script in ((legs[0], f1), (legs[1], f2)):
        plan = plans[intent.intent_id]
        edge = plan.collar_high if intent.side is Side.BUY else plan.collar_low
        coid = make_client_order_id("RB", intent.intent_id)
        for after, frac, needs_edge in script:
            qty = max(1, int(frac * intent.quantity))
            broker.script_fills(
                coid, ScriptedFill(after, qty, min_limit=edge if needs_edge else None)
            )
    for n, delay in enumerate(hedge_delays, start=1):
        broker.script_fills(make_client_order_id("RB", f"G.hedge.{n}"), ScriptedFill(delay))

    ex = PairExecutor(manager, clock, config, policy, md, mode=mode)
    execution = ex.start(PairGroup("G", legs, hedge_symbol="MES"), plans, "RB")
    t0 = clock.now()
    max_needed = 0
    while not execution.done and (clock.now() - t0).total_seconds() < 400:
        clock.sleep(1.0)
        manager.poll()
        ex.step()
        spy, iwm = execution.legs
        excess = abs(_excess(spy.filled_quantity, q1, iwm.filled_quantity, q2))
        max_needed = max(max_needed, hedge_quantity(excess, 5000.0, 5.0, min_notional=2500))
        assert sum(t.state not in TERMINAL for t in execution.hedge.tickets) <= 1
        assert abs(execution.hedge_position) <= max_needed

    result = execution.result()
    assert result.completed
    assert result.hedge_position == 0
    for e in manager.events:
        if e.kind in (OrderEventKind.SUBMIT_SENT, OrderEventKind.MODIFY_SENT):
            assert e.price is not None and manager.ticket(e.client_order_id).plan.in_collar(e.price)
    assert result.finished_at is not None
    duration = (result.finished_at - result.started_at).total_seconds()
    assert 0.0 <= result.unhedged_notional_seconds <= result.max_unhedged_notional * duration + 1e-6
    assert result.escalations <= result.legging_episodes


def _excess(filled1: int, q1: int, filled2: int, q2: int) -> float:
    """BUY SPY (mark 500) vs SELL IWM (mark 250): notional ahead of the slower leg."""
    p_min = min(filled1 / q1, filled2 / q2)
    return (filled1 - p_min * q1) * 500.0 - (filled2 - p_min * q2) * 250.0
