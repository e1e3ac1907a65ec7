"""Every order that reaches the broker passes pre-trade risk (issue 8):
children, hedges and replaces, through the OrderManager's gate; and a
message-rate limit paces orders, cancels and modifies on the injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.brokers.fake import FakeBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig, RiskConfig
from lib.instruments import InstrumentRegistry
from lib.order_risk import KillSwitchGate, SupervisionGate
from lib.orders.gate import MessagePacer
from lib.orders.manager import OrderManager
from lib.orders.states import OrderState
from lib.risk import Control
from lib.types import OrderIntent, OrderPlan, OrderType, PolicyMode, Side

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
CFG = ExecutionConfig()  # FUT collar 3 bps: ES band around 6000 is [5998.2, 6001.8]


def es_plan(intent_id: str = "rb:ES", qty: int = 1, limit: float = 6001.0, **kw: object) -> OrderPlan:
    base = OrderPlan(
        intent=OrderIntent(intent_id, "ES", Side.BUY, qty),
        mode=PolicyMode.MARKETABLE_LIMIT, order_type=OrderType.LMT, limit_price=limit,
        collar_low=5998.25, collar_high=6001.75, arrival_mid=6000.0, ttl_seconds=120,
        replace_interval_seconds=15, max_replace_attempts=2, reprice_ladder=(6001.25, 6001.5),
        max_slippage_bps=3,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def gate(instruments: InstrumentRegistry, *base: OrderPlan, **limits: float) -> SupervisionGate:
    return SupervisionGate(RiskConfig(**limits), CFG, instruments, base_plans=base)


def test_a_child_or_hedge_outside_the_band_is_never_sent(instruments: InstrumentRegistry) -> None:
    clock = VirtualClock(T0)
    broker = FakeBroker(clock)
    g = gate(instruments)
    manager = OrderManager(broker, clock, CFG, gate=g)
    # a collar wider than the risk band (e.g. a re-based child): refused, nothing sent
    wide = es_plan(collar_low=5990.0, collar_high=6010.0, limit=6005.0, reprice_ladder=())
    ticket = manager.submit(wide, "rb:ES:s0:a0")
    assert ticket.state is OrderState.REJECTED and "price_band" in (ticket.reject_reason or "")
    assert broker.orders == {} and manager.blocked == {"rb:ES:s0:a0": ticket.reject_reason.split(": ", 1)[1]}  # type: ignore[union-attr]
    assert [b.control for b in g.blocks] == [Control.PRICE_BAND]
    ok = manager.submit(es_plan(), "rb:ES:s1:a0")
    assert ok.state is not OrderState.REJECTED and list(broker.orders) == ["rb:ES:s1:a0"]


def test_a_replace_outside_the_band_is_refused(instruments: InstrumentRegistry) -> None:
    g = gate(instruments)
    assert g.check_modify(es_plan(), 6001.5, "x") is None
    why = g.check_modify(es_plan(), 6002.5, "x")
    assert why is not None and why.startswith("price_band") and "6002.5" in why


def test_a_halted_gate_sends_no_child_replace_or_hedge(instruments: InstrumentRegistry) -> None:
    clock = VirtualClock(T0)
    broker = FakeBroker(clock)
    g = KillSwitchGate()
    manager = OrderManager(broker, clock, CFG, gate=g)
    working = manager.submit(es_plan(), "rb:ES:s0:a0")
    g.halt("ops: halt")
    clock.advance(16)
    manager.poll()  # the replace timer is due: refused, the order keeps its price
    assert broker.modifications == []
    assert any(e.kind.value == "risk_blocked" for e in manager.events)
    child = manager.submit(es_plan(), "rb:ES:s1:a0")
    assert child.state is OrderState.REJECTED and "kill switch engaged: ops: halt" in (child.reject_reason or "")
    assert list(broker.orders) == [working.client_order_id]
    manager.cancel_all()  # stopping is never gated
    assert broker.orders[working.client_order_id].status.value in ("Cancelled", "PendingCancel")


def test_a_hedge_never_exceeds_the_order_or_gross_limits(instruments: InstrumentRegistry) -> None:
    own = es_plan(qty=60)  # 60 x 6000 x 50 = $18M of the rebalance's own gross
    g = gate(instruments, own, max_order_notional_usd=5_000_000, max_gross_notional_usd=20_000_000)
    assert g.base_gross == pytest.approx(60 * 6001.0 * 50)
    big = es_plan("rb:pair.hedge.1", qty=20)  # $6M: above the order limit
    assert (g.check_submit(big, "rb:pair.hedge.1:s0:a0") or "").startswith("max_order_notional")
    hedge = es_plan("rb:pair.hedge.1", qty=10)  # $3M: within the order limit, gross -> $21M
    why = g.check_submit(hedge, "rb:pair.hedge.1:s0:a0")
    assert why is not None and why.startswith("max_gross_notional")
    small = es_plan("rb:pair.hedge.1", qty=5)  # $1.5M: gross $19.5M, allowed
    assert g.check_submit(small, "rb:pair.hedge.1:s0:a0") is None
    assert g.gross == pytest.approx(60 * 6001.0 * 50 + 5 * 6001.0 * 50)
    # the rebalance's own children are not counted twice
    assert g.check_submit(es_plan(qty=10), "rb:ES:s0:a0") is None
    assert {b.control for b in g.blocks} == {Control.MAX_ORDER_NOTIONAL, Control.MAX_GROSS_NOTIONAL}


def test_an_order_in_a_currency_without_a_rate_is_refused(instruments: InstrumentRegistry) -> None:
    fesx = es_plan("rb:FESX", limit=5000.0, collar_low=4999.0, collar_high=5001.0,
                   arrival_mid=5000.0, reprice_ladder=())
    fesx = replace(fesx, intent=replace(fesx.intent, symbol="FESX"))
    why = gate(instruments).check_submit(fesx, "rb:FESX:s0:a0")
    assert why is not None and why.startswith("fx_rate") and "EUR/USD" in why


def _window_max(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while t - stamps[j] >= window - 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_large_rebalance_never_bursts_past_50_messages_per_second(
    instruments: InstrumentRegistry,
) -> None:
    clock = VirtualClock(T0)
    broker = FakeBroker(clock)
    manager = OrderManager(broker, clock, CFG, pacer=MessagePacer(clock, 50))
    for k in range(180):
        manager.submit(es_plan(f"rb:ES{k}"), f"rb:ES{k}:s0:a0")
    stamps = [o.submitted_at.timestamp() for o in broker.orders.values()]
    assert len(stamps) == 180 and _window_max(stamps) <= 50
    assert (clock.now() - T0).total_seconds() >= 3.0  # 180 messages need > 3 windows
    manager.cancel_all()  # cancels are paced too
    assert manager.tickets and all(t.messages >= 2 for t in manager.tickets)
    # without the pacer every order goes at the same instant
    clock2 = VirtualClock(T0)
    burst = FakeBroker(clock2)
    unpaced = OrderManager(burst, clock2, CFG)
    for k in range(180):
        unpaced.submit(es_plan(f"rb:ES{k}"), f"rb:ES{k}:s0:a0")
    assert _window_max([o.submitted_at.timestamp() for o in burst.orders.values()]) == 180


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 120), st.lists(st.floats(0, 0.5), min_size=1, max_size=300))
def test_pacer_invariant_at_most_n_per_window(rate: int, gaps: list[float]) -> None:
    clock = VirtualClock(T0)
    pacer = MessagePacer(clock, rate)
    stamps = []
    for gap in gaps:
        clock.advance(gap)
        pacer.acquire()
        stamps.append(clock.now().timestamp())
    assert _window_max(stamps) <= rate


def test_execution_notional_is_in_the_base_currency(instruments: InstrumentRegistry) -> None:
    from lib.brokers.fake_script import ScriptedFill
    from lib.fx import FxTable, StaticFxSource
    from lib.supervisor import supervise

    clock = VirtualClock(T0)
    broker = FakeBroker(clock)
    fesx = es_plan("rb:FESX", qty=4, limit=5000.0, collar_low=4999.0, collar_high=5001.0,
                   arrival_mid=5000.0, reprice_ladder=())
    fesx = replace(fesx, intent=replace(fesx.intent, symbol="FESX"))
    broker.script_fills("rb:FESX:s0:a0", ScriptedFill(1, price=5000.0))
    fx = FxTable(clock, [StaticFxSource({"EUR": 1.08}, T0)])
    report = supervise(
        [fesx], transport=broker, clock=clock, config=CFG, rebalance_id="rb",
        instruments=instruments, gate=SupervisionGate(RiskConfig(), CFG, instruments, fx=fx),
    )
    (result,) = report.results
    assert result.filled_quantity == 4
    assert result.notional == pytest.approx(4 * 5000.0 * 10 * 1.08)  # USD, not EUR 200,000


def test_children_of_a_planned_intent_stay_inside_its_checked_collar(
    instruments: InstrumentRegistry,
) -> None:
    # A rerun's plan keeps the first run's arrival mid (6010) but is priced off
    # today's quotes (collar around 6000): its children are held to that collar.
    parent = es_plan(arrival_mid=6010.0)
    g = SupervisionGate(RiskConfig(), CFG, instruments, base_plans=[parent],
                        key=lambda iid: iid.removeprefix("rb:"))
    child = replace(parent, intent=replace(parent.intent, intent_id="ES"))
    assert g.check_submit(child, "rb:ES:s0:a0") is None
    assert g.check_modify(child, 6001.5, "rb:ES:s0:a0") is None
    outside = replace(child, limit_price=6002.0, collar_high=6002.0)
    why = g.check_submit(outside, "rb:ES:s1:a0")
    assert why is not None and why.startswith("price_band") and "planned band" in why
    assert (g.check_modify(child, 6002.0, "rb:ES:s0:a0") or "").startswith("price_band")
    market = replace(child, order_type=OrderType.MKT, limit_price=None)
    assert (g.check_submit(market, "rb:ES:s2:a0") or "").startswith("market_order")


class _CountingSwitch:
    def __init__(self) -> None:
        self.calls = 0
        self.engaged = False

    def is_engaged(self) -> tuple[bool, str]:
        self.calls += 1
        return (self.engaged, "halt" if self.engaged else "")


def test_throttled_kill_switch_asks_every_1s_poll_and_remembers_engagement() -> None:
    from lib.order_risk import ThrottledKillSwitch
    from lib.pipeline.execute import KILL_SWITCH_WALL_SECONDS

    clock = VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))  # stands for the wall clock
    inner = _CountingSwitch()
    every_poll = ThrottledKillSwitch(inner, clock, KILL_SWITCH_WALL_SECONDS)  # IBKR: 1-s polls
    for _ in range(3):
        assert every_poll.is_engaged() == (False, "")
        clock.advance(1)
    assert inner.calls == 3
    inner.engaged = True
    assert every_poll.is_engaged() == (True, "halt")
    inner.engaged = False  # released upstream: this run stays halted
    assert every_poll.is_engaged() == (True, "halt")


def test_throttled_kill_switch_on_the_simulator_asks_once_per_interval() -> None:
    from lib.order_risk import ThrottledKillSwitch

    clock = VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    inner = _CountingSwitch()
    throttled = ThrottledKillSwitch(inner, clock, 5.0)
    for _ in range(10):  # ten 1-s polls
        throttled.is_engaged()
        clock.advance(1)
    assert inner.calls == 2
