"""Client -> server: ib_async's own Client serialises each request (at server
version 178) and the gateway's parsers read back what was meant."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ib_async import (
    Contract,
    ExecutionFilter,
    Future,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    TagValue,
)

from lib.sim.tws.decode import (
    DecodeError,
    FieldReader,
    parse_contract,
    parse_exec_filter,
    parse_mkt_data,
    parse_place_order,
)
from tests.lib.sim.tws.recording import CapturingClient


def _sent(call: str, *args: object) -> list[str]:
    c = CapturingClient()
    getattr(c, call)(*args)
    [msg] = c.sent
    return msg


@pytest.mark.parametrize(
    ("contract", "order"),
    [
        (Stock("SPY", "SMART", "USD", primaryExchange="ARCA"),
         LimitOrder("BUY", 100, 590.01, orderRef="reb|SPY|0|0", tif="DAY", outsideRth=True,
                    algoStrategy="Adaptive", algoParams=[TagValue("adaptivePriority", "Urgent")])),
        (Future("ES", "20261218", "CME", multiplier="50", localSymbol="ESZ6"),
         LimitOrder("SELL", 3, 6000.25, orderRef="es-1", tif="GTC", account="DU1234567")),
        (Stock("QQQ", "SMART", "USD"), Order(action="BUY", totalQuantity=10, orderType="MOC", tif="DAY", orderRef="moc")),
        (Future(localSymbol="6EZ6", exchange="CME"), MarketOrder("BUY", 1, orderRef="m")),
        (Stock("SPY", "SMART", "USD"),
         LimitOrder("BUY", 5, 590.0, orderRef="twap", algoStrategy="Twap",
                    algoParams=[TagValue("strategyType", "Marketable"), TagValue("startTime", "10:00:00 US/Eastern"),
                                TagValue("endTime", "11:00:00 US/Eastern"), TagValue("allowPastEndTime", "1")])),
    ],
)  # fmt: skip
def test_place_order(contract: Contract, order: Order) -> None:
    msg = _sent("placeOrder", 17, contract, order)
    p = parse_place_order(msg, 178)
    assert p.order_id == 17
    assert (p.contract.symbol, p.contract.sec_type, p.contract.exchange) == (contract.symbol, contract.secType, contract.exchange)
    assert p.contract.local_symbol == contract.localSymbol and p.contract.last_trade == contract.lastTradeDateOrContractMonth
    assert (p.action, p.total_quantity, p.order_type) == (order.action, order.totalQuantity, order.orderType)
    assert p.lmt_price == (order.lmtPrice if order.orderType == "LMT" else None)
    assert (p.tif, p.order_ref, p.outside_rth, p.account) == (order.tif, order.orderRef, order.outsideRth, order.account)
    assert p.algo_strategy == order.algoStrategy
    assert list(p.algo_params) == [(t.tag, t.value) for t in order.algoParams or []]
    assert p.transmit is True and p.what_if is False


def test_cancel_and_simple_requests() -> None:
    assert _sent("cancelOrder", 17)[:3] == ["4", "1", "17"]
    assert _sent("reqCurrentTime") == ["49", "1"]
    assert _sent("reqIds", 1) == ["8", "1", "1"]
    assert _sent("reqPositions") == ["61", "1"]
    assert _sent("reqCompletedOrders", False) == ["99", "0"]


def test_mkt_data_and_contract_details() -> None:
    spy = Stock("SPY", "SMART", "USD")
    spy.conId = 42
    m = parse_mkt_data(_sent("reqMktData", 9, spy, "", True, False, []))
    assert (m.req_id, m.contract.con_id, m.contract.symbol, m.snapshot) == (9, 42, "SPY", True)
    r = FieldReader(_sent("reqContractDetails", 10, Future("ES", "202612", "CME", multiplier="50")), 2)
    assert r.integer() == 10
    q = parse_contract(r)
    assert (q.symbol, q.sec_type, q.last_trade, q.multiplier, q.exchange) == ("ES", "FUT", "202612", "50", "CME")


def test_exec_filter() -> None:
    f = parse_exec_filter(_sent("reqExecutions", 11, ExecutionFilter(clientId=3, acctCode="DU1", time="20261124 09:30:00",
                                                                     symbol="SPY", secType="STK", side="BUY")))  # fmt: skip
    assert (f.req_id, f.client_id, f.account, f.time, f.symbol, f.sec_type, f.side) == (
        11, 3, "DU1", "20261124 09:30:00", "SPY", "STK", "BUY")  # fmt: skip


@given(st.lists(st.text(alphabet="0123456789abc", max_size=4), max_size=60))
def test_truncated_or_garbage_place_order_raises_decode_error_only(fields: list[str]) -> None:
    try:
        parse_place_order(["3", *fields], 178)
    except DecodeError:
        pass
