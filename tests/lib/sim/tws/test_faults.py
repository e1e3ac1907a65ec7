"""Fault injection through the socket: drops, 1100/1101/1102, delayed acks,
commission-report quirks and data-farm notices, each seen by ib_async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from ib_async import IB, CommissionReport, ExecutionFilter, Fill, LimitOrder, Stock, Trade

from lib.sim.tws_gateway import GatewayHandle, run_gateway_thread
from tests.lib.sim.tws.conftest import IbLogGuard, gateway_config
from tests.lib.sim.tws.helpers import connect, wait_until


@pytest.fixture
def fast_gateway() -> Iterator[GatewayHandle]:
    with run_gateway_thread(gateway_config(speed=100.0)) as gw:
        yield gw


async def _spy(ib: IB) -> tuple[Stock, float, float]:
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    [tk] = await ib.reqTickersAsync(spy)
    return spy, tk.bid, tk.ask


def test_socket_drop_mid_order_then_reconcile(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway
    ib_errors.forgive("Peer closed connection", "Socket disconnected")

    async def body() -> None:
        ib = await connect(gw.port, 31)
        spy, bid, ask = await _spy(ib)
        resting = ib.placeOrder(spy, LimitOrder("BUY", 20, round(bid - 2.0, 2), orderRef="drop-rest"))
        await wait_until(lambda: resting.orderStatus.status == "Submitted", what="ack")
        gw.faults.drop_connections()
        await wait_until(lambda: not ib.isConnected(), what="disconnect")
        ib.disconnect()
        # the order lives on at the gateway, like at IB
        [live] = [o for o in gw.open_orders() if o.order_ref == "drop-rest"]
        assert live.status == "Submitted" and live.client_id == 31
        again = await connect(gw.port, 31)
        try:
            opened = await again.reqAllOpenOrdersAsync()
            [t] = [t for t in opened if t.order.orderRef == "drop-rest"]
            assert t.order.permId == live.perm_id and t.orderStatus.status == "Submitted"
            assert t.order.orderId == resting.order.orderId
            # the reconnected client's new ids do not collide with the old order's
            assert again.client.getReqId() > resting.order.orderId
            again.cancelOrder(t.order)
            await wait_until(lambda: t.orderStatus.status == "Cancelled", what="cancel after reconnect")
        finally:
            again.disconnect()

    ib_errors.allow(202)
    asyncio.run(body())


def test_1100_holds_updates_and_1102_delivers_them(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway
    ib_errors.allow(1100, 1102)

    async def body() -> None:
        ib = await connect(gw.port, 32)
        try:
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            spy, bid, ask = await _spy(ib)
            gw.faults.connectivity_lost()
            await wait_until(lambda: 1100 in codes, what="1100")
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, ask, orderRef="lost-1"))
            await wait_until(lambda: any(e.order_ref == "lost-1" for e in gw.executions()), what="fill at gateway")
            await asyncio.sleep(0.2)
            assert trade.orderStatus.status == "PendingSubmit" and not trade.fills  # held
            gw.faults.connectivity_restored(1102)
            await wait_until(lambda: trade.orderStatus.status == "Filled" and len(trade.fills) > 0, what="delivery")
            assert codes.index(1102) > codes.index(1100)
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_1101_drops_held_updates_and_executions_reconcile(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway
    ib_errors.allow(1100, 1101)

    async def body() -> None:
        ib = await connect(gw.port, 33)
        try:
            spy, bid, ask = await _spy(ib)
            gw.faults.connectivity_lost()
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, ask, orderRef="lost-2"))
            await wait_until(lambda: any(e.order_ref == "lost-2" for e in gw.executions()), what="fill at gateway")
            gw.faults.connectivity_restored(1101)
            await asyncio.sleep(0.3)
            assert not trade.fills  # data lost: the client must reconcile
            fills = await ib.reqExecutionsAsync(ExecutionFilter(clientId=33))
            assert {f.execution.execId for f in fills} == {e.exec_id for e in gw.executions() if e.order_ref == "lost-2"}
            assert all(f.execution.permId == fills[0].execution.permId for f in fills)
            done = await ib.reqCompletedOrdersAsync(False)
            assert [t.orderStatus.status for t in done if t.order.orderRef == "lost-2"] == ["Filled"]
        finally:
            ib.disconnect()

    asyncio.run(body())


@pytest.mark.parametrize("mode", ["duplicate", "zero_first", "delayed"])
def test_commission_report_modes(fast_gateway: GatewayHandle, ib_errors: IbLogGuard, mode: str) -> None:
    gw = fast_gateway

    async def body() -> None:
        ib = await connect(gw.port, 34)
        try:
            reports: list[tuple[str, float]] = []
            execs_at_report: list[int] = []

            def on_report(trade: Trade, fill: Fill, report: CommissionReport) -> None:
                reports.append((report.execId, report.commission))
                execs_at_report.append(len(trade.fills))

            ib.commissionReportEvent += on_report
            spy, bid, ask = await _spy(ib)
            gw.faults.commissions(mode, delay_s=3.0)
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, ask, orderRef=f"comm-{mode}"))
            await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill")
            exec_ids = {f.execution.execId for f in trade.fills}
            per_exec = 2 if mode in ("duplicate", "zero_first") else 1
            await wait_until(lambda: len(reports) >= per_exec * len(exec_ids), what="reports")
            assert {e for e, _ in reports} == exec_ids
            assert all(n >= 1 for n in execs_at_report)  # every report came after its execution
            if mode == "zero_first":
                first = {e: c for e, c in reversed(reports)}
                assert all(c == 0.0 for c in first.values())
            final = {f.execution.execId: f.commissionReport.commission for f in trade.fills}
            assert all(c > 0 for c in final.values())
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_delayed_acks_and_datafarm_notices(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway

    async def body() -> None:
        ib = await connect(gw.port, 35)
        try:
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            gw.faults.datafarm_notices()
            await wait_until(lambda: {2104, 2106, 2158} <= set(codes), what="notices")
            assert ib.isConnected()
            spy, bid, ask = await _spy(ib)
            gw.faults.delay_acks(seconds=30.0)  # virtual seconds: 0.3 s wall at x100
            t0 = gw.server_time()
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, round(bid - 1.0, 2), orderRef="slow-ack"))
            await wait_until(lambda: trade.orderStatus.status == "Submitted", what="delayed ack")
            assert (gw.server_time() - t0).total_seconds() >= 30.0
            gw.faults.delay_acks(0.0)
        finally:
            ib.disconnect()

    asyncio.run(body())


@pytest.mark.parametrize("kind", ["place", "modify"])
def test_drop_after_the_gateway_acted_no_duplicate_on_reconnect(
    fast_gateway: GatewayHandle, ib_errors: IbLogGuard, kind: str
) -> None:
    """The request reaches the gateway, the socket dies before any answer: on
    reconnect the client finds exactly one order under its orderRef."""
    gw = fast_gateway
    ib_errors.forgive("Peer closed connection", "Socket disconnected")
    ib_errors.allow(202)

    async def body() -> None:
        ib = await connect(gw.port, 36)
        spy, bid, ask = await _spy(ib)
        px = round(bid - 2.0, 2)
        order = LimitOrder("BUY", 20, px, orderRef=f"inflight-{kind}")
        if kind == "modify":
            trade = ib.placeOrder(spy, order)
            await wait_until(lambda: trade.orderStatus.status == "Submitted", what="ack")
            gw.faults.drop_on_next("modify")
            order.lmtPrice = round(px - 1.0, 2)
            ib.placeOrder(spy, order)
        else:
            gw.faults.drop_on_next("place")
            trade = ib.placeOrder(spy, order)
        await wait_until(lambda: not ib.isConnected(), what="drop")
        ib.disconnect()
        assert trade.orderStatus.status in ("PendingSubmit", "Submitted")
        again = await connect(gw.port, 36)
        try:
            opened = [t for t in await again.reqAllOpenOrdersAsync() if t.order.orderRef == f"inflight-{kind}"]
            assert len(opened) == 1
            [t] = opened
            assert t.order.lmtPrice == (round(px - 1.0, 2) if kind == "modify" else px)
            assert [o.perm_id for o in gw.open_orders() if o.order_ref == f"inflight-{kind}"] == [t.order.permId]
            again.cancelOrder(t.order)
            await wait_until(lambda: t.orderStatus.status == "Cancelled", what="cancel")
        finally:
            again.disconnect()

    asyncio.run(body())


def test_no_market_data_354_and_delayed_ticks(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway
    ib_errors.allow(354)

    async def body() -> None:
        ib = await connect(gw.port, 37)
        try:
            spy, qqq = Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD")
            await ib.qualifyContractsAsync(spy, qqq)
            gw.faults.no_market_data("QQQ")
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            [tk] = await ib.reqTickersAsync(qqq)
            assert 354 in codes and not tk.bid > 0
            ib.reqMarketDataType(3)
            [tk] = await ib.reqTickersAsync(spy)
            assert tk.marketDataType == 3 and tk.bid > 0 and tk.ask > tk.bid
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_execution_correction_replaces_by_exec_id(fast_gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    gw = fast_gateway

    async def body() -> None:
        ib = await connect(gw.port, 38)
        try:
            spy, bid, ask = await _spy(ib)
            trade = ib.placeOrder(spy, LimitOrder("BUY", 10, ask, orderRef="corr"))
            await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill")
            first = trade.fills[0].execution
            assert first.execId.endswith(".01")
            fixed_id = gw.faults.correct_execution(first.execId, round(first.price - 0.01, 2))
            assert fixed_id == first.execId[:-3] + ".02"
            await wait_until(lambda: any(f.execution.execId == fixed_id for f in trade.fills), what="correction")
            [fixed] = [f.execution for f in trade.fills if f.execution.execId == fixed_id]
            assert fixed.permId == first.permId and fixed.price == round(first.price - 0.01, 2)
            ids = {e.exec_id for e in gw.executions() if e.order_ref == "corr"}
            assert fixed_id in ids and first.execId not in ids
            again = {f.execution.execId for f in await ib.reqExecutionsAsync(ExecutionFilter(clientId=38))}
            assert again == ids
        finally:
            ib.disconnect()

    asyncio.run(body())
