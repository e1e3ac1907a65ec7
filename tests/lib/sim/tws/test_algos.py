"""IB algos through ib_async against the gateway: Twap and Vwap worked over
their window (not filled at once), Adaptive at each priority, the algo fields
arriving as sent (gateway side) and coming back in openOrder / completedOrder
(a second client decodes them), cancels mid-window, and IB-like refusals of
unknown strategies and bad parameters (201 / 145)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from ib_async import IB, LimitOrder, Stock, TagValue, Trade

from lib.brokers.ibkr_requests import ib_time
from lib.sim.tws_gateway import GatewayHandle
from tests.lib.sim.tws.conftest import IbLogGuard
from tests.lib.sim.tws.helpers import connect, wait_until

WINDOW_S = 120.0  # virtual seconds (6 wall seconds at x20)


async def _spy(ib: IB) -> tuple[Stock, float, float]:
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    [tk] = await ib.reqTickersAsync(spy)
    return spy, float(tk.bid), float(tk.ask)


def _window(gw: GatewayHandle, seconds: float = WINDOW_S) -> tuple[datetime, datetime]:
    now = gw.server_time()
    return now, now + timedelta(seconds=seconds)


async def _other_client_sees(port: int, ref: str) -> Trade:
    """A second client decodes the order's openOrder (or completedOrder) with its algo fields."""
    ib = await connect(port, 99)
    try:
        for t in await ib.reqAllOpenOrdersAsync():
            if t.order.orderRef == ref:
                return t
        for t in await ib.reqCompletedOrdersAsync(False):
            if t.order.orderRef == ref:
                return t
        raise AssertionError(f"no order {ref} at the gateway")
    finally:
        ib.disconnect()


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [("Twap", [TagValue("strategyType", "Marketable")]),
     ("Vwap", [TagValue("maxPctVol", "0.25"), TagValue("noTakeLiq", "0")])],
)  # fmt: skip
def test_twap_and_vwap_work_over_their_window(
    gateway: GatewayHandle, ib_errors: IbLogGuard, strategy: str, extra: list[TagValue]
) -> None:
    async def body() -> None:
        ib = await connect(gateway.port, 41)
        try:
            spy, _bid, ask = await _spy(ib)
            start, end = _window(gateway)
            params = [*extra, TagValue("startTime", ib_time(start)), TagValue("endTime", ib_time(end)),
                      TagValue("allowPastEndTime", "1")]  # fmt: skip
            ref = f"algo-{strategy}"
            order = LimitOrder("BUY", 2000, round(ask + 0.5, 2), orderRef=ref, algoStrategy=strategy,
                               algoParams=params)  # fmt: skip
            trade = ib.placeOrder(spy, order)
            await wait_until(lambda: trade.orderStatus.status in ("Submitted", "PreSubmitted"), what="ack")
            [view] = [o for o in gateway.orders() if o.order_ref == ref]
            assert view.algo_strategy == strategy
            assert view.algo_params == tuple((p.tag, p.value) for p in params)
            seen = await _other_client_sees(gateway.port, ref)
            assert seen.order.algoStrategy == strategy
            assert [(p.tag, p.value) for p in seen.order.algoParams] == [(p.tag, p.value) for p in params]
            # A quarter into the window it is partly, not fully, filled: IB's algo slices in time.
            await wait_until(lambda: gateway.server_time() >= start + timedelta(seconds=WINDOW_S / 4), what="t/4")
            part = trade.orderStatus.filled
            assert 0 < part < 2000, part
            await wait_until(lambda: trade.orderStatus.status == "Filled", timeout=30, what="fill")
            fills = trade.fills
            assert sum(f.execution.shares for f in fills) == 2000
            assert len(fills) >= 5  # many children, one parent
            times = sorted(f.execution.time for f in fills)
            assert (times[-1] - times[0]).total_seconds() >= WINDOW_S / 2
            assert times[-1] <= end + timedelta(seconds=30)
            assert {f.execution.permId for f in fills} == {trade.order.permId}
            assert all(f.execution.orderRef == ref and f.execution.price <= order.lmtPrice for f in fills)
            execs = [e for e in gateway.executions() if e.order_ref == ref]
            assert {e.exec_id for e in execs} == {f.execution.execId for f in fills}
            assert gateway.positions()["SPY"] == 2000
            done = await _other_client_sees(gateway.port, ref)
            assert done.orderStatus.status == "Filled" and done.order.algoStrategy == strategy
        finally:
            ib.disconnect()

    asyncio.run(body())


@pytest.mark.parametrize("priority", ["Urgent", "Normal", "Patient"])
def test_adaptive_fills_at_each_priority(gateway: GatewayHandle, ib_errors: IbLogGuard, priority: str) -> None:
    async def body() -> None:
        ib = await connect(gateway.port, 42)
        try:
            spy, _bid, ask = await _spy(ib)
            ref = f"adaptive-{priority}"
            params = [TagValue("adaptivePriority", priority)]
            trade = ib.placeOrder(spy, LimitOrder("SELL", 300, round(_bid - 0.05, 2), orderRef=ref,
                                                  algoStrategy="Adaptive", algoParams=params))  # fmt: skip
            await wait_until(lambda: trade.orderStatus.status == "Filled", what="fill")
            assert sum(f.execution.shares for f in trade.fills) == 300
            [view] = [o for o in gateway.orders() if o.order_ref == ref]
            assert (view.algo_strategy, view.algo_params) == ("Adaptive", (("adaptivePriority", priority),))
            done = await _other_client_sees(gateway.port, ref)
            assert done.order.algoStrategy == "Adaptive"
            assert [(p.tag, p.value) for p in done.order.algoParams] == [("adaptivePriority", priority)]
            assert ask > 0
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_twap_cancelled_mid_window_keeps_its_fills(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(202)

    async def body() -> None:
        ib = await connect(gateway.port, 43)
        try:
            spy, _bid, ask = await _spy(ib)
            start, end = _window(gateway)
            params = [TagValue("strategyType", "Marketable"), TagValue("startTime", ib_time(start)),
                      TagValue("endTime", ib_time(end)), TagValue("allowPastEndTime", "0")]  # fmt: skip
            trade = ib.placeOrder(spy, LimitOrder("BUY", 2000, round(ask + 0.5, 2), orderRef="twap-cxl",
                                                  algoStrategy="Twap", algoParams=params))  # fmt: skip
            await wait_until(lambda: trade.orderStatus.filled > 0, what="first slice")
            ib.cancelOrder(trade.order)
            await wait_until(lambda: trade.orderStatus.status == "Cancelled", what="cancel")
            filled = int(trade.orderStatus.filled)
            assert 0 < filled < 2000
            await asyncio.sleep(1.0)  # 20 virtual seconds: several slices would have gone out
            execs = [e for e in gateway.executions() if e.order_ref == "twap-cxl"]
            assert sum(e.shares for e in execs) == filled == gateway.positions()["SPY"]
            assert [o for o in gateway.open_orders() if o.order_ref == "twap-cxl"] == []
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_twap_without_allow_past_end_stops_at_its_end_time(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    """A passive Twap whose limit the market never reaches ends at endTime, cancelled."""
    ib_errors.allow(202)

    async def body() -> None:
        ib = await connect(gateway.port, 44)
        try:
            spy, bid, _ask = await _spy(ib)
            start, end = _window(gateway, 20.0)
            params = [TagValue("strategyType", "Matching Same Side"), TagValue("startTime", ib_time(start)),
                      TagValue("endTime", ib_time(end)), TagValue("allowPastEndTime", "0")]  # fmt: skip
            trade = ib.placeOrder(spy, LimitOrder("BUY", 500, round(bid - 2.0, 2), orderRef="twap-end",
                                                  algoStrategy="Twap", algoParams=params))  # fmt: skip
            await wait_until(lambda: trade.orderStatus.status == "Cancelled", timeout=20, what="end time")
            assert gateway.server_time() >= end
            assert trade.orderStatus.filled == 0
        finally:
            ib.disconnect()

    asyncio.run(body())


@pytest.mark.parametrize(
    ("strategy", "params", "code", "text"),
    [("Sniper", [], 201, "Unknown algo strategy"),
     ("Adaptive", [("adaptivePriority", "Fast")], 145, "adaptivePriority"),
     ("Adaptive", [("priority", "Urgent")], 145, "unknown Adaptive parameter"),
     ("Twap", [("strategyType", "Sometimes")], 145, "strategyType"),
     ("Twap", [("endTime", "20200101-00:00:00"), ("allowPastEndTime", "0")], 145, "endTime"),
     ("Vwap", [("maxPctVol", "0.9")], 145, "maxPctVol"),
     ("Vwap", [("startTime", "tomorrow")], 145, "startTime")],
    ids=["unknown", "priority", "tag", "twap-type", "past-end", "pct-vol", "bad-time"],
)  # fmt: skip
def test_bad_algos_are_refused_like_ib(
    gateway: GatewayHandle, ib_errors: IbLogGuard, strategy: str, params: list[tuple[str, str]], code: int, text: str
) -> None:
    ib_errors.allow(code)
    errors: list[tuple[int, str]] = []

    async def body() -> None:
        ib = await connect(gateway.port, 45)
        ib.errorEvent += lambda req_id, c, msg, contract: errors.append((c, msg))
        try:
            spy, _bid, ask = await _spy(ib)
            trade = ib.placeOrder(spy, LimitOrder("BUY", 100, round(ask, 2), orderRef=f"bad-{strategy}",
                                                  algoStrategy=strategy,
                                                  algoParams=[TagValue(k, v) for k, v in params]))  # fmt: skip
            await wait_until(lambda: trade.isDone(), what="refusal")
            await asyncio.sleep(0.3)
            assert trade.fills == []
            assert any(c == code and text in msg for c, msg in errors), errors
            assert gateway.executions() == [] and gateway.open_orders() == []
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_twap_modify_moves_its_cap_and_it_then_fills(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    """A re-place with the same orderId changes the algo's limit; later slices use it."""

    async def body() -> None:
        ib = await connect(gateway.port, 46)
        try:
            spy, bid, ask = await _spy(ib)
            start, end = _window(gateway, 60.0)
            params = [TagValue("strategyType", "Marketable"), TagValue("startTime", ib_time(start)),
                      TagValue("endTime", ib_time(end)), TagValue("allowPastEndTime", "1")]  # fmt: skip
            trade = ib.placeOrder(spy, LimitOrder("BUY", 1000, round(bid - 2.0, 2), orderRef="twap-mod",
                                                  algoStrategy="Twap", algoParams=params))  # fmt: skip
            await wait_until(lambda: gateway.server_time() >= start + timedelta(seconds=15), what="a few slices")
            assert trade.orderStatus.filled == 0  # capped below the market
            trade.order.lmtPrice = round(ask + 0.5, 2)
            assert ib.placeOrder(spy, trade.order) is trade
            await wait_until(lambda: trade.orderStatus.status == "Filled", timeout=20, what="fill")
            assert sum(f.execution.shares for f in trade.fills) == 1000
            assert all(f.execution.price <= trade.order.lmtPrice for f in trade.fills)
            [view] = [o for o in gateway.orders() if o.order_ref == "twap-mod"]
            assert view.lmt_price == round(ask + 0.5, 2) and view.algo_strategy == "Twap"
        finally:
            ib.disconnect()

    asyncio.run(body())
