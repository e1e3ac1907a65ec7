"""Streaming market data, account updates and portfolio, positions per
account, and the Nasdaq closing-auction cancel cutoff, through ib_async."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ib_async import LimitOrder, Order, Stock

from lib.instruments import load_instruments
from lib.sim.tws import rules
from lib.sim.tws_gateway import GatewayHandle, run_gateway_thread
from tests.lib.sim.tws.conftest import IbLogGuard, gateway_config
from tests.lib.sim.tws.helpers import connect, wait_until


def test_streaming_ticks_update_the_ticker(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    async def body() -> None:
        ib = await connect(gateway.port, 41)
        try:
            es = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(es)
            ticker = ib.reqMktData(es, "", False, False)
            updates: list[float] = []
            ticker.updateEvent += lambda t: updates.append(t.bid)
            await wait_until(lambda: ticker.bid > 0 and ticker.ask > ticker.bid, what="first ticks")
            n = len(updates)
            await wait_until(lambda: len(updates) > n + 2, what="streamed updates")
            ib.cancelMktData(es)
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_account_updates_and_positions_per_account(ib_errors: IbLogGuard) -> None:
    async def body(gw: GatewayHandle) -> None:
        ib = await connect(gw.port, 42, account="DU2")
        try:
            values = {v.tag: v for v in ib.accountValues("DU2")}
            assert values["NetLiquidation"].currency == "USD" and float(values["NetLiquidation"].value) == 5_000_000.0
            spy = Stock("SPY", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            [tk] = await ib.reqTickersAsync(spy)
            trade = ib.placeOrder(spy, LimitOrder("SELL", 40, tk.bid, orderRef="acct2", account="DU2"))
            await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill")
            await wait_until(lambda: any(p.position == -40 for p in ib.portfolio("DU2")), what="portfolio")
            assert gw.positions("DU2") == {"SPY": -40} and gw.positions("DU1") == {}
            positions = await ib.reqPositionsAsync()
            assert [(p.account, p.contract.symbol, p.position) for p in positions] == [("DU2", "SPY", -40.0)]
            assert all(e.account == "DU2" for e in gw.executions())
        finally:
            ib.disconnect()

    with run_gateway_thread(gateway_config(accounts=("DU1", "DU2"), nav_usd=5_000_000.0)) as gw:
        asyncio.run(body(gw))


def test_nasdaq_moc_cancel_refused_after_1550(ib_errors: IbLogGuard) -> None:
    """Entered 15:49:40 ET; at x20 the 15:50 cancel cutoff passes within a second of wall time."""
    ib_errors.allow(10148)

    async def body(gw: GatewayHandle) -> None:
        ib = await connect(gw.port, 43)
        try:
            qqq = Stock("QQQ", "SMART", "USD")
            await ib.qualifyContractsAsync(qqq)
            trade = ib.placeOrder(qqq, Order(action="BUY", totalQuantity=10, orderType="MOC", tif="DAY", orderRef="nq"))
            await wait_until(lambda: trade.orderStatus.status == "Submitted", what="ack")
            cutoff = datetime(2026, 11, 24, 20, 50, tzinfo=UTC)
            await wait_until(lambda: gw.server_time() > cutoff, what="15:50 ET")
            ib.cancelOrder(trade.order)
            await wait_until(lambda: any(e.errorCode == 10148 for e in trade.log), what="10148")
            # ib_async calls it Cancelled; the gateway still holds it for the auction (a false cancel)
            assert [o.status for o in gw.open_orders() if o.order_ref == "nq"] == ["Submitted"]
            opened = await ib.reqAllOpenOrdersAsync()
            assert [t.orderStatus.status for t in opened if t.order.orderRef == "nq"] == ["Submitted"]
        finally:
            ib.disconnect()

    with run_gateway_thread(gateway_config(sim_start=datetime(2026, 11, 24, 20, 49, 40, tzinfo=UTC))) as gw:
        asyncio.run(body(gw))


def test_auction_cutoffs_follow_the_days_close() -> None:
    reg = load_instruments()
    spy, qqq = reg["SPY"], reg["QQQ"]
    regular = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    half_day = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # day after Thanksgiving: NYSE closes 13:00 ET
    assert rules.auction_cutoff(spy, regular, entry=True) == datetime(2026, 11, 24, 20, 50, tzinfo=UTC)
    assert rules.auction_cutoff(spy, regular, entry=False) == datetime(2026, 11, 24, 20, 58, tzinfo=UTC)
    assert rules.auction_cutoff(qqq, regular, entry=True) == datetime(2026, 11, 24, 20, 55, tzinfo=UTC)
    assert rules.auction_cutoff(qqq, regular, entry=False) == datetime(2026, 11, 24, 20, 50, tzinfo=UTC)
    assert rules.auction_cutoff(spy, half_day, entry=True) == datetime(2026, 11, 27, 17, 50, tzinfo=UTC)
    late = datetime(2026, 11, 27, 17, 51, tzinfo=UTC)
    refusal = rules.check_auction(spy, "LOC", late, entry=True)
    assert refusal is not None and refusal.code == 201 and "12:50 ET" in refusal.message
    assert rules.check_auction(spy, "LMT", late, entry=True) is None
