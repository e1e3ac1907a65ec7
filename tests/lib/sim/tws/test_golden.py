"""Golden messages: every layout the gateway writes, fed to ib_async 2.1.0's
real Decoder at server version 178. A decode must log nothing (ib_async only
logs a wrong field count) and yield the fields the gateway meant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from ib_async.util import UNSET_DOUBLE

from lib.instruments import load_instruments
from lib.sim.tws import encode as enc
from lib.sim.tws.contracts import ContractBook, IbContract
from lib.sim.tws.framing import FrameBuffer, frame, negotiate_version
from lib.sim.tws.model import GatewayExecution, GatewayOrder
from tests.lib.sim.tws.recording import decode

BOOK = ContractBook(load_instruments(), date(2026, 11, 24))
SPY, ES, SIXE = BOOK.by_symbol["SPY"], BOOK.by_symbol["ES"], BOOK.by_symbol["6E"]
T = datetime(2026, 11, 24, 15, 45, 12, tzinfo=UTC)


def _order(c: IbContract = SPY, **kw: object) -> GatewayOrder:
    base: dict[str, object] = dict(
        order_id=7, client_id=3, perm_id=1_234_567_890, account="DU1234567", contract=c, action="BUY",
        total_quantity=300, order_type="LMT", lmt_price=590.01, tif="DAY", order_ref="reb-1|SPY|0|0",
        outside_rth=False, coid="reb-1|SPY|0|0", status="Submitted", filled=100, avg_fill_price=590.0,
    )  # fmt: skip
    base.update(kw)
    return GatewayOrder(**base)  # type: ignore[arg-type]


def _one(calls: list[tuple[str, tuple[object, ...]]], name: str) -> tuple[object, ...]:
    assert [c[0] for c in calls] == [name], calls
    return calls[0][1]


def test_framing_round_trip_and_handshake() -> None:
    msgs = FrameBuffer().feed(frame([1, "a", 2.5, True, None]) + frame([9, 1, 3])[:5])
    assert msgs == [["1", "a", "2.5", "1", ""]]
    assert negotiate_version("v157..178") == 178
    assert negotiate_version("v100..200 +PACEAPI") == 178
    with pytest.raises(ValueError):
        negotiate_version("v100..150")


@pytest.mark.parametrize(
    ("msg", "name", "args"),
    [
        (enc.next_valid_id(42), "nextValidId", (42,)),
        (enc.managed_accounts(("DU1", "DU2")), "managedAccounts", ("DU1,DU2",)),
        (enc.current_time(1_795_000_000), "currentTime", (1_795_000_000,)),
        (enc.contract_details_end(5), "contractDetailsEnd", (5,)),
        (enc.market_data_type(5, 1), "marketDataType", (5, 1)),
        (enc.tick_size(5, 0, 300.0), "tickSize", (5, 0, 300.0)),
        (enc.tick_snapshot_end(5), "tickSnapshotEnd", (5,)),
        (enc.open_order_end(), "openOrderEnd", ()),
        (enc.completed_orders_end(), "completedOrdersEnd", ()),
        (enc.exec_details_end(8), "execDetailsEnd", (8,)),
        (enc.position_end(), "positionEnd", ()),
        (enc.account_summary(9, "DU1", "NetLiquidation", "10000000.00", "USD"), "accountSummary",
         (9, "DU1", "NetLiquidation", "10000000.00", "USD")),
        (enc.account_summary_end(9), "accountSummaryEnd", (9,)),
        (enc.account_value("NetLiquidation", "1.50", "USD", "DU1"), "updateAccountValue",
         ("NetLiquidation", "1.50", "USD", "DU1")),
        (enc.account_time(T), "updateAccountTime", ("10:45",)),
        (enc.account_download_end("DU1"), "accountDownloadEnd", ("DU1",)),
        (enc.account_update_multi(4, "DU1", "NetLiquidation", "2.00", "USD"), "accountUpdateMulti",
         (4, "DU1", "", "NetLiquidation", "2.00", "USD")),
        (enc.account_update_multi_end(4), "accountUpdateMultiEnd", (4,)),
        (enc.tick_price(5, 1, 590.01, 3000.0), "priceSizeTick", (5, 1, 590.01, 3000.0)),
        (enc.tick_price(5, 9, 1.08005, 0.0), "priceSizeTick", (5, 9, 1.08005, 0.0)),
        (enc.error(7, 202, "Order Canceled - reason:", ""), "error", (7, 202, "Order Canceled - reason:", "")),
        (enc.error(-1, 1100, "lost"), "error", (-1, 1100, "lost", "")),
    ],
)  # fmt: skip
def test_simple_layouts(msg: list[object], name: str, args: tuple[object, ...]) -> None:
    assert _one(decode(msg), name) == args  # type: ignore[arg-type]


def test_order_status() -> None:
    args = _one(decode(enc.order_status(_order())), "orderStatus")
    assert args == (7, "Submitted", 100.0, 200.0, 590.0, 1_234_567_890, 0, 0.0, 3, "", 0.0)


@pytest.mark.parametrize("c", [SPY, ES, SIXE], ids=["STK", "FUT", "FXFUT"])
def test_contract_details(c: IbContract) -> None:
    exch = "SMART" if c.sec_type == "STK" else c.exchange
    req_id, cd = _one(decode(enc.contract_details(5, c, exch, "LMT,MKT,MOC,LOC")), "contractDetails")
    assert req_id == 5
    k = cd.contract  # type: ignore[attr-defined]
    assert (k.conId, k.symbol, k.secType, k.exchange, k.currency, k.localSymbol, k.tradingClass) == (
        c.con_id, c.ib_symbol, c.sec_type, exch, c.currency, c.local_symbol, c.trading_class)  # fmt: skip
    assert k.primaryExchange == c.primary_exchange and k.multiplier == c.multiplier
    assert k.lastTradeDateOrContractMonth == c.last_trade
    assert cd.minTick == c.min_tick and cd.longName == c.long_name and cd.timeZoneId == c.time_zone  # type: ignore[attr-defined]
    assert cd.minSize == 1 and cd.sizeIncrement == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "o",
    [
        _order(),
        _order(algo_strategy="Adaptive", algo_params=[("adaptivePriority", "Patient")]),
        _order(algo_strategy="Vwap", algo_params=[("maxPctVol", "0.1"), ("noTakeLiq", "1")]),
        _order(c=ES, order_type="MOC", lmt_price=None, total_quantity=2, filled=0, outside_rth=True),
        _order(c=SIXE, status="PreSubmitted", lmt_price=1.08005),
    ],
    ids=["lmt", "adaptive", "vwap", "moc", "fx"],
)
def test_open_order(o: GatewayOrder) -> None:
    order_id, c, order, state = _one(decode(enc.open_order(o)), "openOrder")
    assert order_id == o.order_id
    assert (c.conId, c.symbol, c.localSymbol) == (o.contract.con_id, o.contract.ib_symbol, o.contract.local_symbol)  # type: ignore[attr-defined]
    assert (order.orderId, order.clientId, order.permId) == (o.order_id, o.client_id, o.perm_id)  # type: ignore[attr-defined]
    assert (order.action, order.totalQuantity, order.orderType) == (o.action, o.total_quantity, o.order_type)  # type: ignore[attr-defined]
    assert order.lmtPrice == (o.lmt_price if o.lmt_price is not None else UNSET_DOUBLE)  # type: ignore[attr-defined]
    assert (order.tif, order.account, order.orderRef, order.outsideRth) == (o.tif, o.account, o.order_ref, o.outside_rth)  # type: ignore[attr-defined]
    assert order.algoStrategy == o.algo_strategy  # type: ignore[attr-defined]
    assert [(p.tag, p.value) for p in order.algoParams or []] == o.algo_params  # type: ignore[attr-defined]
    assert order.whatIf is False and state.status == o.status  # type: ignore[attr-defined]


def test_completed_order() -> None:
    o = _order(status="Filled", filled=300, completed_time=enc.ib_time(T), completed_status="Filled",
               algo_strategy="Adaptive", algo_params=[("adaptivePriority", "Urgent")])  # fmt: skip
    c, order, state = _one(decode(enc.completed_order(o)), "completedOrder")
    assert c.conId == SPY.con_id  # type: ignore[attr-defined]
    assert (order.permId, order.orderRef, order.totalQuantity, order.filledQuantity) == (o.perm_id, o.order_ref, 300, 300)  # type: ignore[attr-defined]
    assert order.algoStrategy == "Adaptive"  # type: ignore[attr-defined]
    assert (state.status, state.completedStatus, state.completedTime) == ("Filled", "Filled", enc.ib_time(T))  # type: ignore[attr-defined]


@pytest.mark.parametrize("req_id", [-1, 8])
def test_exec_details(req_id: int) -> None:
    e = GatewayExecution(
        exec_id="SIM7.abcd.000000003.01", perm_id=1_234_567_890, order_id=7, client_id=3, order_ref="reb-1|SPY|0|0",
        account="DU1234567", symbol="ES", side="SLD", shares=2, price=6001.25, time=T, commission=4.2,
        currency="USD", cum_qty=2, avg_price=6001.25, liquidity=1, exchange="CME",
    )  # fmt: skip
    rid, c, ex = _one(decode(enc.exec_details(req_id, e, ES)), "execDetails")
    assert rid == req_id
    assert (c.conId, c.secType, c.multiplier, c.localSymbol) == (ES.con_id, "FUT", "50", ES.local_symbol)  # type: ignore[attr-defined]
    assert (ex.execId, ex.permId, ex.orderId, ex.clientId, ex.orderRef) == (  # type: ignore[attr-defined]
        e.exec_id, e.perm_id, 7, 3, e.order_ref)  # fmt: skip
    assert (ex.side, ex.shares, ex.price, ex.cumQty, ex.avgPrice, ex.acctNumber) == (  # type: ignore[attr-defined]
        "SLD", 2.0, 6001.25, 2.0, 6001.25, "DU1234567")  # fmt: skip
    assert ex.time == T and ex.lastLiquidity == 1 and ex.pendingPriceRevision is False  # type: ignore[attr-defined]


def test_commission_report() -> None:
    [report] = _one(decode(enc.commission_report("X.01", 1.25, "EUR")), "commissionReport")
    assert (report.execId, report.commission, report.currency, report.realizedPNL) == ("X.01", 1.25, "EUR", 0.0)  # type: ignore[attr-defined]


def test_position_and_portfolio() -> None:
    account, c, qty, cost = _one(decode(enc.position("DU1", SIXE, -3, 135_000.0)), "position")
    assert (account, c.conId, c.symbol, c.tradingClass, qty, cost) == ("DU1", SIXE.con_id, "EUR", "6E", -3.0, 135_000.0)  # type: ignore[attr-defined]
    args = _one(decode(enc.portfolio_value(SPY, 100, 590.0, 59_000.0, 589.0, 100.0, "DU1")), "updatePortfolio")
    assert args[0].conId == SPY.con_id and args[0].primaryExchange == "ARCA"  # type: ignore[attr-defined]
    assert args[1:] == (100.0, 590.0, 59_000.0, 589.0, 100.0, 0.0, "DU1")


def test_ib_time_round_trip() -> None:
    assert enc.parse_ib_time(enc.ib_time(T)) == T
    assert enc.parse_ib_time("20261124-15:45:12") == T
    assert enc.parse_ib_time("20261124 10:45:12") == T
