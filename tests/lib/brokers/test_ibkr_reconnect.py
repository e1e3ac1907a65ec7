"""Disconnects through the socket: a dropped connection and IB's 1100 -> 1101/1102.

After each: the transport reconnected (or resumed), reconciled IB's orders and
executions into its books before sending anything, no order was duplicated
(even with a modify in flight at the drop), executions that happened while
disconnected are reported exactly once, and nothing is left working."""

from __future__ import annotations

import pytest

from lib.brokers.base import BrokerOrderStatus as S
from lib.brokers.base import OrderRequest
from lib.brokers.ibkr import IBKRTransport
from lib.errors import BrokerDisconnected
from lib.sim.tws_gateway import GatewayHandle
from lib.types import OrderType, Side
from tests.lib.brokers.ibkr_support import (
    IbLogGuard,
    wait_until,
)


@pytest.fixture(autouse=True)
def _expected_logs(ib_errors: IbLogGuard) -> None:
    ib_errors.allow(202, 1100, 1101, 1102)
    ib_errors.forgive("Peer closed connection")


def passive(t: IBKRTransport, coid: str, symbol: str = "IWM", qty: int = 100) -> float:
    snap = t.get_market_data(symbol)
    assert snap.bid is not None
    price = round(snap.bid - 0.40, 2)
    t.submit_order(OrderRequest(coid, symbol, Side.BUY, qty, OrderType.LMT, price))
    assert wait_until(t.clock, lambda: t.get_order_status(coid).status is S.SUBMITTED)
    return price


def refs(gw: GatewayHandle, coid: str) -> list[object]:
    return [o for o in gw.open_orders() if o.order_ref == coid]


def test_socket_drop_reconnects_reconciles_and_never_duplicates(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    price = passive(transport, "r1:IWM:s0:a0")
    gateway.faults.drop_connections()
    # the next call waits for the reconnect and the reconciliation, then answers
    u = transport.get_order_status("r1:IWM:s0:a0")
    assert transport.reconnects == 1 and transport.connected
    assert u.status is S.SUBMITTED and u.limit_price == price
    again = transport.submit_order(OrderRequest("r1:IWM:s0:a0", "IWM", Side.BUY, 100, OrderType.LMT, price))
    assert again.broker_order_id == u.broker_order_id
    assert len(refs(gateway, "r1:IWM:s0:a0")) == 1
    transport.cancel_order("r1:IWM:s0:a0")
    assert wait_until(transport.clock, lambda: transport.get_order_status("r1:IWM:s0:a0").is_terminal)
    assert gateway.open_orders() == []


def test_fills_during_the_drop_are_reported_exactly_once(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    snap = transport.get_market_data("DIS")
    assert snap.ask is not None
    coid = "r2:DIS:s0:a0"
    transport.submit_order(OrderRequest(coid, "DIS", Side.BUY, 3000, OrderType.LMT, round(snap.ask + 0.05, 2)))
    gateway.faults.drop_connections()  # fills go on at the gateway while we reconnect
    assert wait_until(transport.clock, lambda: transport.get_order_status(coid).is_terminal, seconds=120)
    transport.get_order_status(coid)
    ours = transport.get_executions(coid)
    theirs = [e for e in gateway.executions() if e.order_ref == coid]
    assert sorted((f.exec_id, f.quantity, f.price) for f in ours) == sorted((e.exec_id, e.shares, e.price) for e in theirs)
    assert len({f.exec_id for f in ours}) == len(ours)
    final = transport.get_order_status(coid)
    assert final.filled_quantity == sum(f.quantity for f in ours) == sum(e.shares for e in theirs)
    assert transport.get_positions() == gateway.positions()
    assert transport.reconnects >= 1


def test_modify_in_flight_at_the_drop_leaves_one_order_at_ibs_price(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    price = passive(transport, "r3:IWM:s0:a0")
    transport.modify_order("r3:IWM:s0:a0", round(price - 0.02, 2))
    gateway.faults.drop_connections()
    u = transport.get_order_status("r3:IWM:s0:a0")
    (held,) = refs(gateway, "r3:IWM:s0:a0")
    assert u.limit_price == held.lmt_price  # type: ignore[attr-defined]  # what IB holds, old or new
    assert u.status is S.SUBMITTED
    transport.submit_order(OrderRequest("r3:IWM:s0:a0", "IWM", Side.BUY, 100, OrderType.LMT, price))
    assert len(refs(gateway, "r3:IWM:s0:a0")) == 1
    transport.cancel_order("r3:IWM:s0:a0")
    assert wait_until(transport.clock, lambda: gateway.open_orders() == [])
    assert transport.get_open_orders() == []


@pytest.mark.parametrize("restore", [1102, 1101])
def test_1100_holds_sends_and_1101_1102_reconcile(transport: IBKRTransport, gateway: GatewayHandle, restore: int) -> None:
    price = passive(transport, "r4:IWM:s0:a0")
    gateway.faults.connectivity_lost()
    assert wait_until(transport.clock, lambda: not transport.connected, seconds=20, step=0.5)
    with pytest.raises(BrokerDisconnected):  # nothing new is sent while uncertain
        transport.modify_order("r4:IWM:s0:a0", round(price - 0.01, 2))
    assert refs(gateway, "r4:IWM:s0:a0")[0].lmt_price == price  # type: ignore[attr-defined]
    gateway.faults.connectivity_restored(code=restore)
    u = transport.get_order_status("r4:IWM:s0:a0")
    assert transport.connected and u.status is S.SUBMITTED and u.limit_price == price
    assert transport.reconnects == 0  # the socket stayed up: reconciled in place
    transport.cancel_order("r4:IWM:s0:a0")
    assert wait_until(transport.clock, lambda: gateway.open_orders() == [])
    assert transport.get_order_status("r4:IWM:s0:a0").status is S.CANCELLED
