"""IBKRTransport over the socket: every BrokerTransport method through ib_async
against the simulated gateway, and every IB status the gateway produces."""

from __future__ import annotations

import pytest

from lib.brokers.base import BrokerOrderStatus as S
from lib.brokers.base import BrokerTransport, OrderRequest
from lib.brokers.ibkr import IBKRTransport
from lib.errors import BrokerRejected, TooLateToCancel, UnknownInstrument, UnknownOrder
from lib.sim.tws_gateway import GatewayHandle
from lib.types import OrderType, Side
from tests.lib.brokers.ibkr_support import (
    SESSION_START,
    IbLogGuard,
    make_transport,
    wait_until,
)


def req(coid: str, symbol: str, side: Side, qty: int, price: float | None, otype: OrderType = OrderType.LMT) -> OrderRequest:
    return OrderRequest(coid, symbol, side, qty, otype, price)


def test_it_is_a_broker_transport_following_the_gateway_clock(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    assert isinstance(transport, BrokerTransport)
    t0 = transport.clock.now()
    assert abs((t0 - gateway.server_time()).total_seconds()) < 5
    assert t0 >= SESSION_START
    transport.clock.sleep(20)  # 20 virtual seconds, ~1 wall second at x20
    assert (gateway.server_time() - t0).total_seconds() >= 19


def test_market_data_for_every_asset_class(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    for symbol in ("SPY", "QQQ", "CSPX", "DIS", "ES", "MES", "FESX", "6E"):
        snap = transport.get_market_data(symbol)
        assert snap.symbol == symbol and snap.bid and snap.ask and snap.bid < snap.ask, snap
        # virtual seconds at x20: a busy machine's wall lag is amplified 20 times
        assert snap.ts is not None and abs((snap.ts - gateway.server_time()).total_seconds()) < 120
    with pytest.raises(UnknownInstrument):
        transport.get_market_data("NOPE")


def test_nav_positions_fill_and_executions(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    assert transport.get_account_nav() == pytest.approx(10_000_000.0)
    rate = transport.get_fx_rate("EUR")  # IB's ExchangeRate account value (the simulator's FX)
    assert rate is not None and rate[0] == pytest.approx(1.08)
    assert transport.get_fx_rate("JPY") is None  # no value sent: lib.fx falls back
    assert transport.get_positions() == {}
    snap = transport.get_market_data("SPY")
    assert snap.ask is not None
    u = transport.submit_order(req("t1:SPY:s0:a0", "SPY", Side.BUY, 200, snap.ask))
    assert u.client_order_id == "t1:SPY:s0:a0" and u.quantity == 200
    assert wait_until(transport.clock, lambda: transport.get_order_status("t1:SPY:s0:a0").status is S.FILLED)
    done = transport.get_order_status("t1:SPY:s0:a0")
    assert done.filled_quantity == 200 and done.avg_fill_price > 0
    fills = transport.get_executions("t1:")
    gw = [e for e in gateway.executions() if e.order_ref == "t1:SPY:s0:a0"]
    assert sorted((f.exec_id, f.quantity, f.price, f.commission) for f in fills) == sorted(
        (e.exec_id, e.shares, e.price, e.commission) for e in gw
    )
    assert sum(f.quantity for f in fills) == 200
    assert transport.get_executions("other:") == []
    assert transport.get_positions() == gateway.positions() == {"SPY": 200}
    assert transport.get_open_orders() == []
    with pytest.raises(TooLateToCancel):
        transport.cancel_order("t1:SPY:s0:a0")
    with pytest.raises(UnknownOrder):
        transport.get_order_status("t1:nope:s0:a0")
    assert set(transport.get_order_statuses(["t1:SPY:s0:a0", "t1:nope:s0:a0"])) == {"t1:SPY:s0:a0"}


def test_resubmitting_a_known_id_sends_no_second_order(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard
) -> None:
    ib_errors.allow(202)  # IB confirms a cancel with "202 Order Canceled - reason:"
    snap = transport.get_market_data("QQQ")
    assert snap.bid is not None
    r = req("t2:QQQ:s0:a0", "QQQ", Side.BUY, 10, round(snap.bid - 0.50, 2))
    first = transport.submit_order(r)
    again = transport.submit_order(r)
    assert again.broker_order_id == first.broker_order_id
    assert [o.order_ref for o in gateway.open_orders()].count("t2:QQQ:s0:a0") == 1
    transport.cancel_order("t2:QQQ:s0:a0")


def test_passive_order_submitted_modified_in_place_then_cancelled(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard
) -> None:
    ib_errors.allow(202)  # IB confirms a cancel with "202 Order Canceled - reason:"
    snap = transport.get_market_data("IWM")
    assert snap.bid is not None
    price = round(snap.bid - 0.40, 2)
    transport.submit_order(req("t3:IWM:s0:a0", "IWM", Side.BUY, 100, price))
    assert wait_until(transport.clock, lambda: transport.get_order_status("t3:IWM:s0:a0").status is S.SUBMITTED)
    (before,) = [o for o in gateway.open_orders() if o.order_ref == "t3:IWM:s0:a0"]
    u = transport.modify_order("t3:IWM:s0:a0", round(price - 0.05, 2), 150)
    assert (u.limit_price, u.quantity) == (round(price - 0.05, 2), 150)

    def modified() -> bool:
        mine = [o for o in gateway.open_orders() if o.order_ref == "t3:IWM:s0:a0"]
        return bool(mine) and mine[0].lmt_price == round(price - 0.05, 2) and mine[0].total_quantity == 150

    assert wait_until(transport.clock, modified, seconds=30)
    (after,) = [o for o in gateway.open_orders() if o.order_ref == "t3:IWM:s0:a0"]
    assert (after.order_id, after.perm_id) == (before.order_id, before.perm_id)  # re-placed, same ids
    assert [o.client_order_id for o in transport.get_open_orders()] == ["t3:IWM:s0:a0"]
    u = transport.cancel_order("t3:IWM:s0:a0")
    assert u.status in (S.PENDING_CANCEL, S.CANCELLED)
    assert wait_until(transport.clock, lambda: transport.get_order_status("t3:IWM:s0:a0").status is S.CANCELLED)
    assert gateway.open_orders() == [] and transport.get_open_orders() == []
    with pytest.raises(TooLateToCancel):
        transport.modify_order("t3:IWM:s0:a0", price)


def test_partial_fill_shows_partially_filled(transport: IBKRTransport, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(202)
    snap = transport.get_market_data("DIS")
    assert snap.ask is not None
    # far above the displayed size at the touch: it fills in pieces
    transport.submit_order(req("t4:DIS:s0:a0", "DIS", Side.BUY, 20_000, snap.ask))
    seen: set[S] = set()

    def watch() -> bool:
        u = transport.get_order_status("t4:DIS:s0:a0")
        seen.add(u.status)
        return u.status is S.PARTIALLY_FILLED or u.is_terminal

    assert wait_until(transport.clock, watch, seconds=60, step=0.5)
    assert S.PARTIALLY_FILLED in seen, seen
    u = transport.cancel_order("t4:DIS:s0:a0")
    assert wait_until(transport.clock, lambda: transport.get_order_status("t4:DIS:s0:a0").is_terminal)
    final = transport.get_order_status("t4:DIS:s0:a0")
    assert final.filled_quantity == sum(f.quantity for f in transport.get_executions("t4:DIS:s0:a0"))
    assert u.quantity == 20_000


@pytest.mark.parametrize(
    ("code", "message"),
    [(201, "Order rejected - reason:margin"), (202, "Order cancelled - reason:precautionary settings"),
     (103, "Duplicate order id"), (113, "The TIF and the order type are incompatible.")],
)  # fmt: skip
def test_rejects_raise_broker_rejected(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard, code: int, message: str
) -> None:
    ib_errors.allow(code)
    snap = transport.get_market_data("SPY")
    assert snap.bid is not None
    gateway.faults.reject_next(code=code, message=message)
    with pytest.raises(BrokerRejected, match=f"IB {code}"):
        transport.submit_order(req(f"t5:SPY:s0:a{code}", "SPY", Side.BUY, 10, snap.bid))
    u = transport.get_order_status(f"t5:SPY:s0:a{code}")
    assert u.status is S.REJECTED and u.is_terminal


def test_gateway_checks_off_tick_and_too_far_limits(transport: IBKRTransport, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(110, 202)
    snap = transport.get_market_data("SPY")
    assert snap.bid is not None and snap.ask is not None
    with pytest.raises(BrokerRejected, match="IB 110"):
        transport.submit_order(req("t6:SPY:s0:a0", "SPY", Side.BUY, 10, snap.bid + 0.003))
    with pytest.raises(BrokerRejected, match="IB 202"):
        transport.submit_order(req("t6:SPY:s0:a1", "SPY", Side.BUY, 10, round(snap.ask * 1.2, 2)))


def test_commission_reports_twice_zero_first_and_late(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    for i, mode in enumerate(("duplicate", "zero_first", "delayed")):
        gateway.faults.commissions(mode=mode, delay_s=3.0)
        snap = transport.get_market_data("TLT")
        assert snap.ask is not None
        coid = f"t7:TLT:s0:a{i}"
        transport.submit_order(req(coid, "TLT", Side.BUY, 100, snap.ask))
        assert wait_until(transport.clock, lambda c=coid: transport.get_order_status(c).status is S.FILLED)  # type: ignore[misc]
        assert wait_until(transport.clock, lambda c=coid: all(f.commission > 0 for f in transport.get_executions(c)),  # type: ignore[misc]
                          seconds=30)  # fmt: skip
        ours = transport.get_executions(coid)
        theirs = [e for e in gateway.executions() if e.order_ref == coid]
        assert sorted((f.exec_id, f.quantity, f.commission) for f in ours) == sorted(
            (e.exec_id, e.shares, e.commission) for e in theirs
        ), mode


def test_data_farm_notices_are_not_disconnects(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    gateway.faults.datafarm_notices()
    transport.clock.sleep(2)
    assert transport.connected and transport.reconnects == 0
    assert {c for _, c, _ in transport.errors} >= {2104, 2106, 2158}
    assert transport.get_market_data("SPY").bid


def test_a_second_session_with_the_same_client_id_is_refused_with_326(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard
) -> None:
    from lib.brokers.ibkr_config import IBKRReconnectConfig
    from lib.errors import BrokerDisconnected

    ib_errors.allow(326)
    ib_errors.forgive("API connection failed", "Peer closed connection", "connect attempt")
    with pytest.raises(BrokerDisconnected, match="after 2 attempts"):
        make_transport(
            gateway, client_id=transport.cfg.client_id,
            reconnect=IBKRReconnectConfig(initial_seconds=0.1, max_seconds=0.2, attempts=2),
        )  # fmt: skip
    assert transport.get_market_data("SPY").bid  # the first session is untouched


def test_an_execution_correction_replaces_the_original(transport: IBKRTransport, gateway: GatewayHandle) -> None:
    snap = transport.get_market_data("GLD")
    assert snap.ask is not None
    coid = "t8:GLD:s0:a0"
    transport.submit_order(req(coid, "GLD", Side.BUY, 100, snap.ask))
    assert wait_until(transport.clock, lambda: transport.get_order_status(coid).status is S.FILLED)
    (first, *_) = transport.get_executions(coid)
    new_id = gateway.faults.correct_execution(first.exec_id, round(first.price - 0.01, 2))
    assert new_id != first.exec_id
    after = {f.exec_id: f for f in transport.get_executions(coid)}
    assert first.exec_id in after and new_id not in after  # replaced under the original key, not added
    assert after[first.exec_id].price == round(first.price - 0.01, 2)
    assert sum(f.quantity for f in after.values()) == 100


def test_no_market_data_permission_raises_broker_rejected(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard
) -> None:
    ib_errors.allow(354)
    gateway.faults.no_market_data("EFA")
    with pytest.raises(BrokerRejected, match="IB 354"):
        transport.get_market_data("EFA")
    gateway.faults.no_market_data("EFA", on=False)
    assert transport.get_market_data("EFA").bid


def test_a_place_lost_in_a_drop_is_found_once_after_the_reconnect(
    transport: IBKRTransport, gateway: GatewayHandle, ib_errors: IbLogGuard
) -> None:
    ib_errors.allow(202)
    ib_errors.forgive("Peer closed connection")
    snap = transport.get_market_data("IWM")
    assert snap.bid is not None
    r = req("t9:IWM:s0:a0", "IWM", Side.BUY, 100, round(snap.bid - 0.40, 2))
    gateway.faults.drop_on_next("place")  # the gateway takes the order, then the socket dies unanswered
    try:
        transport.submit_order(r)
    except Exception:  # noqa: BLE001 - the caller sees a transient failure or a pending order
        pass
    u = transport.submit_order(r)  # the OrderManager's retry: returns IB's order, sends no second one
    assert [o.order_ref for o in gateway.open_orders()].count("t9:IWM:s0:a0") == 1
    assert u.status in (S.PENDING_SUBMIT, S.SUBMITTED)
    transport.cancel_order("t9:IWM:s0:a0")
    assert wait_until(transport.clock, lambda: gateway.open_orders() == [])


def test_a_cancel_refused_after_the_nasdaq_cutoff_leaves_the_moc_working(ib_errors: IbLogGuard) -> None:
    from datetime import UTC, datetime

    from lib.sim.tws_gateway import GatewayConfig, run_gateway_thread

    ib_errors.allow(10148, 161)
    start = datetime(2026, 11, 24, 20, 48, tzinfo=UTC)  # 15:48 New York, before the 15:50 cutoff
    with run_gateway_thread(GatewayConfig(port=0, seed=7, speed=20.0, sim_start=start)) as gw:
        t = make_transport(gw)
        try:
            t.submit_order(req("t10:QQQ:s0:a0", "QQQ", Side.BUY, 100, None, OrderType.MOC))
            assert wait_until(t.clock, lambda: t.get_order_status("t10:QQQ:s0:a0").status is S.SUBMITTED, seconds=30)
            assert wait_until(t.clock, lambda: gw.server_time() > datetime(2026, 11, 24, 20, 50, 30, tzinfo=UTC))
            t.cancel_order("t10:QQQ:s0:a0")
            assert wait_until(t.clock, lambda: t.get_order_status("t10:QQQ:s0:a0").status is S.SUBMITTED, seconds=30)
            u = t.get_order_status("t10:QQQ:s0:a0")
            assert u.reason is not None and ("10148" in u.reason or "161" in u.reason)
            assert [o.order_ref for o in gw.open_orders()] == ["t10:QQQ:s0:a0"]  # it still works at IB
        finally:
            t.close()
