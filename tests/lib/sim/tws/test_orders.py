"""Orders through ib_async against the gateway: fills, modify, cancel, executions,
positions, account summary and IB's rejects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ib_async import ExecutionFilter, LimitOrder, Order, Stock, TagValue

from lib.sim.tws_gateway import GatewayHandle, run_gateway_thread
from tests.lib.sim.tws.conftest import IbLogGuard, gateway_config
from tests.lib.sim.tws.helpers import connect, wait_until


def test_limit_fill_with_exec_details_and_commission(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    async def body() -> None:
        ib = await connect(gateway.port, 21)
        try:
            spy = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            [tk] = await ib.reqTickersAsync(spy)
            assert tk.bid > 0 and tk.ask > tk.bid and tk.close > 0
            order = LimitOrder("BUY", 100, tk.ask, orderRef="reb1-SPY-0", tif="DAY", outsideRth=False,
                               algoStrategy="Adaptive", algoParams=[TagValue("adaptivePriority", "Normal")])  # fmt: skip
            trade = ib.placeOrder(spy, order)
            statuses: list[str] = []
            trade.statusEvent += lambda t: statuses.append(t.orderStatus.status)
            await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill")
            await wait_until(lambda: all(f.commissionReport.execId for f in trade.fills), what="commission")
            assert "Submitted" in statuses or statuses[0] == "Filled"
            assert sum(f.execution.shares for f in trade.fills) == 100
            assert trade.orderStatus.clientId == 21
            for f in trade.fills:
                assert f.execution.permId == trade.order.permId == trade.orderStatus.permId > 0
                assert f.execution.orderRef == "reb1-SPY-0"
                assert f.commissionReport.commission > 0 and f.commissionReport.currency == "USD"
            gw_execs = [e for e in gateway.executions() if e.order_ref == "reb1-SPY-0"]
            assert {e.exec_id for e in gw_execs} == {f.execution.execId for f in trade.fills}
            # executions request, filtered
            mine = await ib.reqExecutionsAsync(ExecutionFilter(symbol="SPY"))
            assert {f.execution.execId for f in mine} == {e.exec_id for e in gw_execs}
            assert await ib.reqExecutionsAsync(ExecutionFilter(symbol="QQQ")) == []
            assert await ib.reqExecutionsAsync(ExecutionFilter(clientId=99)) == []
            # positions follow the fill, per account
            await wait_until(lambda: any(p.position == 100 for p in ib.positions("DU1234567")), what="position")
            assert gateway.positions("DU1234567") == {"SPY": 100}
            summary = {v.tag: v for v in await ib.accountSummaryAsync("DU1234567")}
            assert summary["NetLiquidation"].currency == "USD"
            assert 9_990_000 < float(summary["NetLiquidation"].value) < 10_010_000
            assert float(summary["BuyingPower"].value) > float(summary["NetLiquidation"].value)
            assert "TotalCashValue" in summary
            # completed orders carry the fill
            done = await ib.reqCompletedOrdersAsync(False)
            assert [t.orderStatus.status for t in done if t.order.orderRef == "reb1-SPY-0"] == ["Filled"]
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_modify_then_cancel(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(202)  # IB confirms a cancel with "Error 202, Order Canceled - reason:"

    async def body() -> None:
        ib = await connect(gateway.port, 22)
        try:
            spy = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            [tk] = await ib.reqTickersAsync(spy)
            px = round(tk.bid - 3.0, 2)
            trade = ib.placeOrder(spy, LimitOrder("BUY", 50, px, orderRef="reb2-mod"))
            await wait_until(lambda: trade.orderStatus.status == "Submitted", what="ack")
            oid = trade.order.orderId
            trade.order.lmtPrice = round(px - 1.0, 2)
            trade.order.totalQuantity = 70
            again = ib.placeOrder(spy, trade.order)
            assert again is trade and trade.order.orderId == oid
            await wait_until(lambda: any(o.lmt_price == round(px - 1.0, 2) for o in gateway.open_orders()), what="modify")
            [gw_order] = [o for o in gateway.open_orders() if o.order_ref == "reb2-mod"]
            assert gw_order.order_id == oid and gw_order.total_quantity == 70 and gw_order.client_id == 22
            ib.cancelOrder(trade.order)
            await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="cancel")
            await wait_until(lambda: not any(o.order_ref == "reb2-mod" for o in gateway.open_orders()), what="gone")
            done = await ib.reqCompletedOrdersAsync(False)
            assert [t.orderStatus.status for t in done if t.order.orderRef == "reb2-mod"] == ["Cancelled"]
        finally:
            ib.disconnect()

    asyncio.run(body())
    assert 202 in ib_errors.codes()


@pytest.mark.parametrize(
    ("code", "make"),
    [
        (202, lambda bid, ask: LimitOrder("BUY", 10, round(ask * 1.10, 2), orderRef="rej-202")),
        (110, lambda bid, ask: LimitOrder("BUY", 10, round(bid, 2) - 0.005, orderRef="rej-110")),
        (201, lambda bid, ask: LimitOrder("BUY", 0.5, round(bid, 2), orderRef="rej-201")),
        (113, lambda bid, ask: Order(action="BUY", totalQuantity=10, orderType="MOC", tif="GTC", orderRef="rej-113")),
    ],
)
def test_rejects_with_ib_codes(gateway: GatewayHandle, ib_errors: IbLogGuard, code: int, make: object) -> None:
    ib_errors.allow(code)

    async def body() -> None:
        ib = await connect(gateway.port, 23)
        try:
            spy = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            [tk] = await ib.reqTickersAsync(spy)
            trade = ib.placeOrder(spy, make(tk.bid, tk.ask))  # type: ignore[operator]
            await wait_until(lambda: trade.orderStatus.status in ("Cancelled", "Inactive"), what="reject")
            assert [e.errorCode for e in trade.log if e.errorCode] == [code]
            assert not any(o.order_ref == trade.order.orderRef for o in gateway.open_orders())
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_injected_reject_and_duplicate_order_id(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(201, 103)

    async def body() -> None:
        ib = await connect(gateway.port, 24)
        try:
            spy = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            [tk] = await ib.reqTickersAsync(spy)
            gateway.faults.reject_next(201, "Order rejected - reason:margin (simulated)")
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, tk.bid, orderRef="inj-201"))
            await wait_until(lambda: trade.orderStatus.status in ("Cancelled", "Inactive"), what="reject")
            assert any(e.errorCode == 201 and "margin" in e.message for e in trade.log)
            # an order id at or below one already used is a duplicate (103)
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
            ib.client.placeOrder(trade.order.orderId, spy, LimitOrder("BUY", 10, tk.bid, orderRef="dup"))
            await wait_until(lambda: 103 in errors, what="103")
        finally:
            ib.disconnect()

    asyncio.run(body())


@pytest.mark.parametrize(
    ("symbol", "et", "accepted"),
    [("SPY", (15, 49), True), ("SPY", (15, 51), False), ("QQQ", (15, 54), True), ("QQQ", (15, 56), False)],
)
def test_moc_cutoffs(ib_errors: IbLogGuard, symbol: str, et: tuple[int, int], accepted: bool) -> None:
    """NYSE/ARCA MOC entry until 15:50 ET, Nasdaq until 15:55 (2026-11-24, EST = UTC-5)."""
    ib_errors.allow(201)
    start = datetime(2026, 11, 24, et[0] + 5, et[1], tzinfo=UTC)

    async def body(port: int) -> None:
        ib = await connect(port, 25)
        try:
            c = Stock(symbol, "SMART", "USD")
            await ib.qualifyContractsAsync(c)
            trade = ib.placeOrder(c, Order(action="BUY", totalQuantity=10, orderType="MOC", tif="DAY", orderRef="moc"))
            await wait_until(lambda: trade.orderStatus.status not in ("PendingSubmit",), what="answer")
            if accepted:
                assert trade.orderStatus.status in ("Submitted", "PreSubmitted")
            else:
                assert trade.orderStatus.status in ("Cancelled", "Inactive")
                assert any(e.errorCode == 201 for e in trade.log)
        finally:
            ib.disconnect()

    with run_gateway_thread(gateway_config(sim_start=start, speed=1.0)) as gw:
        asyncio.run(body(gw.port))
