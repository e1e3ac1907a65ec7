"""OrderManager.reprice_now / hold_reprices: immediate, collar-checked moves
outside the ladder timer (used by the PairExecutor), and holding the timer."""

from __future__ import annotations

import math

import pytest

from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import RiskBlocked
from lib.orders.manager import OrderManager
from lib.orders.states import OrderState
from lib.types import PolicyMode, Side
from tests.lib.orders.plans import BUY_LADDER, make_plan

COID = "RB:I1:s0:a0"


@pytest.fixture
def broker(clock: VirtualClock) -> FakeBroker:
    return FakeBroker(clock)


@pytest.fixture
def manager(broker: FakeBroker, clock: VirtualClock, exec_config: ExecutionConfig) -> OrderManager:
    return OrderManager(broker, clock, exec_config)


def run_to(manager: OrderManager, clock: VirtualClock, t0: object, seconds: float) -> None:
    while (clock.now() - t0).total_seconds() < seconds:  # type: ignore[operator]
        clock.sleep(1.0)
        manager.poll()


def mod_times(broker: FakeBroker, clock: VirtualClock, t0: object) -> list[tuple[float, float]]:
    return [((ts - t0).total_seconds(), p) for _, ts, p in broker.modifications]  # type: ignore[operator]


def test_reprice_now_pins_the_price_and_stops_the_ladder(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    ticket = manager.submit(make_plan(Side.BUY, 100), COID)
    run_to(manager, clock, t0, 3)
    assert manager.reprice_now(COID, 100.10) is True  # the collar's aggressive edge
    assert ticket.limit_price == 100.10 and ticket.replace_count == 1 and ticket.messages == 2
    run_to(manager, clock, t0, 130)
    assert mod_times(broker, clock, t0) == [(3.0, 100.10)]  # no ladder step after the pin
    assert ticket.state == OrderState.EXPIRED  # TTL still applies


def test_reprice_now_never_sends_a_price_outside_the_collar(
    manager: OrderManager, broker: FakeBroker
) -> None:
    manager.submit(make_plan(Side.BUY, 100), COID)
    for bad in (100.11, 99.89, math.nan, 0.0):
        with pytest.raises(RiskBlocked, match="collar"):
            manager.reprice_now(COID, bad)
    assert broker.calls["modify_order"] == 0
    assert manager.ticket(COID).limit_price == 100.02


def test_reprice_now_returns_false_when_not_replaceable_or_same_price(
    clock: VirtualClock, exec_config: ExecutionConfig
) -> None:
    broker = FakeBroker(clock, cancel_delay_seconds=5.0)
    manager = OrderManager(broker, clock, exec_config)
    manager.submit(make_plan(Side.BUY, 100), COID)
    assert manager.reprice_now(COID, 100.02) is False  # already there: no message
    manager.cancel(COID)
    assert manager.ticket(COID).state == OrderState.PENDING_CANCEL
    assert manager.reprice_now(COID, 100.10) is False
    broker.script_fills("RB:I2:s0:a0", ScriptedFill(0))
    manager.submit(make_plan(Side.BUY, 100, intent_id="I2"), "RB:I2:s0:a0")
    assert manager.ticket("RB:I2:s0:a0").state == OrderState.FILLED
    assert manager.reprice_now("RB:I2:s0:a0", 100.10) is False
    assert broker.calls["modify_order"] == 0


def test_next_rung_resumes_the_ladder_one_interval_later(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    manager.submit(make_plan(Side.BUY, 100), COID)
    run_to(manager, clock, t0, 5)
    assert manager.reprice_now(COID, 100.04, next_rung=2)
    run_to(manager, clock, t0, 36)
    # rung 3 at 5 + 15 = 20 s, rung 4 at 35 s.
    assert mod_times(broker, clock, t0) == [
        (5.0, 100.04),
        (20.0, BUY_LADDER[2]),
        (35.0, BUY_LADDER[3]),
    ]


def test_hold_reprices_delays_the_first_ladder_step(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    manager.submit(make_plan(Side.BUY, 100), COID)
    manager.hold_reprices(COID, 40.0)
    run_to(manager, clock, t0, 56)
    assert mod_times(broker, clock, t0) == [(40.0, BUY_LADDER[0]), (55.0, BUY_LADDER[1])]


def test_invalid_arguments_and_non_limit_orders(manager: OrderManager) -> None:
    manager.submit(make_plan(Side.BUY, 100), COID)
    with pytest.raises(ValueError, match="next_rung"):
        manager.reprice_now(COID, 100.05, next_rung=-1)
    with pytest.raises(ValueError, match="hold"):
        manager.hold_reprices(COID, -1.0)
    loc = make_plan(Side.BUY, 100, intent_id="I3", mode=PolicyMode.AUCTION_CLOSE, limit=100.10)
    manager.submit(loc, "RB:I3:s0:a0")
    with pytest.raises(RiskBlocked, match="not a limit order"):
        manager.reprice_now("RB:I3:s0:a0", 100.05)
