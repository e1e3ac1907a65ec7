from __future__ import annotations

from datetime import timedelta

import pytest

from lib.brokers.base import BrokerOrderStatus, BrokerTransport, OrderRequest
from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.errors import (
    BrokerDisconnected,
    BrokerError,
    BrokerRejected,
    BrokerTimeout,
    TooLateToCancel,
    UnknownOrder,
)
from lib.types import MarketDataSnapshot, OrderType, Side

B = BrokerOrderStatus


def lmt(
    coid: str = "O1", side: Side = Side.BUY, qty: int = 100, price: float = 100.0
) -> OrderRequest:
    return OrderRequest(coid, "SPY", side, qty, OrderType.LMT, price)


@pytest.fixture
def broker(clock: VirtualClock) -> FakeBroker:
    return FakeBroker(clock)


def test_is_a_broker_transport(broker: FakeBroker) -> None:
    assert isinstance(broker, BrokerTransport)


def test_submit_is_idempotent(broker: FakeBroker) -> None:
    first = broker.submit_order(lmt())
    again = broker.submit_order(lmt())
    assert first.status is B.SUBMITTED and again.broker_order_id == first.broker_order_id
    assert len(broker.orders) == 1 and broker.calls["submit_order"] == 2


def test_scripted_fills_follow_the_clock(broker: FakeBroker, clock: VirtualClock) -> None:
    t0 = clock.now()
    broker.script_fills("O1", ScriptedFill(5, 30, 100.01), ScriptedFill(10, None, 100.03))
    broker.submit_order(lmt())
    clock.advance(4.9)
    assert broker.get_order_status("O1").filled_quantity == 0
    clock.advance(0.1)
    upd = broker.get_order_status("O1")
    assert (upd.status, upd.filled_quantity, upd.avg_fill_price) == (B.PARTIALLY_FILLED, 30, 100.01)
    clock.advance(5)
    upd = broker.get_order_statuses(["O1", "nope"])["O1"]
    assert (upd.status, upd.filled_quantity) == (B.FILLED, 100)
    assert upd.avg_fill_price == pytest.approx((30 * 100.01 + 70 * 100.03) / 100)
    assert [(f.quantity, f.ts - t0) for f in broker.executions] == [
        (30, timedelta(seconds=5)),
        (70, timedelta(seconds=10)),
    ]
    assert broker.get_positions() == {"SPY": 100}


def test_min_limit_fill_waits_for_the_reprice(broker: FakeBroker, clock: VirtualClock) -> None:
    broker.submit_order(lmt(side=Side.SELL, price=100.05))
    broker.script_fills("O1", ScriptedFill(min_limit=100.02))
    clock.advance(30)
    assert broker.get_order_status("O1").filled_quantity == 0
    broker.modify_order("O1", 100.02)
    upd = broker.get_order_status("O1")
    assert (upd.status, upd.avg_fill_price, upd.limit_price) == (B.FILLED, 100.02, 100.02)
    assert broker.modifications == [("O1", clock.now(), 100.02)]
    assert broker.get_positions() == {"SPY": -100}


def test_ack_and_cancel_delays(clock: VirtualClock) -> None:
    broker = FakeBroker(clock, ack_delay_seconds=1, cancel_delay_seconds=2)
    assert broker.submit_order(lmt()).status is B.PENDING_SUBMIT
    clock.advance(1)
    assert broker.get_order_status("O1").status is B.SUBMITTED
    broker.script_fills("O1", ScriptedFill(2, 10, 100.0), ScriptedFill(5, 10, 100.0))
    assert broker.cancel_order("O1").status is B.PENDING_CANCEL
    clock.advance(1)
    upd = broker.get_order_status("O1")
    assert (upd.status, upd.filled_quantity) == (
        B.PENDING_CANCEL,
        10,
    )  # fill during the pending cancel
    clock.advance(1)
    upd = broker.get_order_status("O1")
    assert (upd.status, upd.filled_quantity) == (B.CANCELLED, 10)  # the 5 s fill never happens
    clock.advance(10)
    assert broker.get_order_status("O1").filled_quantity == 10
    assert broker.get_open_orders() == []


def test_too_late_to_cancel(broker: FakeBroker) -> None:
    broker.submit_order(lmt())
    broker.fill_before_cancel("O1")
    with pytest.raises(TooLateToCancel):
        broker.cancel_order("O1")
    assert broker.get_order_status("O1").status is B.FILLED
    with pytest.raises(TooLateToCancel):
        broker.modify_order("O1", 100.01)


def test_rejects(broker: FakeBroker) -> None:
    broker.reject("O1", "outside session")
    with pytest.raises(BrokerRejected, match="outside session"):
        broker.submit_order(lmt())
    assert broker.get_order_status("O1").status is B.REJECTED
    with pytest.raises(BrokerRejected, match="needs a limit"):
        broker.submit_order(OrderRequest("O2", "SPY", Side.BUY, 1, OrderType.LMT, None))
    broker.submit_order(lmt("O3"))
    broker.reject_modify("O3", "too many messages")
    with pytest.raises(BrokerRejected, match="too many"):
        broker.modify_order("O3", 100.01)
    assert broker.modify_order("O3", 100.01).limit_price == 100.01  # one-shot


def test_transient_failures(broker: FakeBroker) -> None:
    broker.fail_next("submit_order", times=2, error=BrokerTimeout)
    for _ in range(2):
        with pytest.raises(BrokerTimeout):
            broker.submit_order(lmt())
    assert "O1" not in broker.orders
    broker.submit_order(lmt())
    broker.fail_next("submit_order", reached_broker=True)
    with pytest.raises(BrokerDisconnected):
        broker.submit_order(lmt("O2"))
    assert broker.orders["O2"].status is B.SUBMITTED  # the order exists, the answer was lost
    broker.disconnect()
    with pytest.raises(BrokerDisconnected):
        broker.get_order_statuses(["O1"])
    broker.reconnect()
    assert set(broker.get_order_statuses(["O1", "O2"])) == {"O1", "O2"}
    with pytest.raises(ValueError):
        broker.fail_next("no_such_method")


def test_unknown_orders_and_market_data(broker: FakeBroker, clock: VirtualClock) -> None:
    for call in (broker.cancel_order, broker.get_order_status):
        with pytest.raises(UnknownOrder):
            call("ghost")
    with pytest.raises(BrokerError):
        broker.get_market_data("SPY")
    snap = MarketDataSnapshot("SPY", 99.99, 100.01, ts=clock.now())
    broker.set_quote(snap)
    assert broker.get_market_data("SPY") is snap
    assert broker.get_account_nav() == 1_000_000.0


def test_executions_by_prefix(clock: VirtualClock) -> None:
    broker = FakeBroker(clock, commission_per_unit=0.005)
    for coid in ("RB1:A:s0:a0", "RB1:B:s0:a0", "RB2:A:s0:a0"):
        broker.script_fills(coid, ScriptedFill(price=100.0))
        broker.submit_order(lmt(coid))
    fills = broker.get_executions("RB1:")
    assert [f.client_order_id for f in fills] == ["RB1:A:s0:a0", "RB1:B:s0:a0"]
    assert len({f.exec_id for f in broker.get_executions()}) == 3
    assert fills[0].commission == pytest.approx(0.5)
