"""Server -> client messages at server version 178, field for field as
ib_async 2.1.0's decoder.py reads them (the oracle: each builder names the
decoder method it feeds). Every builder returns the field list of one
message; :func:`lib.sim.tws.framing.frame` turns it into bytes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from lib.sim.tws.contracts import IbContract
from lib.sim.tws.framing import Field
from lib.sim.tws.model import GatewayExecution, GatewayOrder

__all__ = [
    "account_download_end", "account_summary", "account_summary_end", "account_update_multi",
    "account_update_multi_end", "account_value", "commission_report", "completed_order",
    "completed_orders_end", "contract_details", "contract_details_end", "current_time", "error",
    "exec_details", "exec_details_end", "ib_time", "managed_accounts", "market_data_type",
    "next_valid_id", "open_order", "open_order_end", "order_status", "portfolio_value", "position",
    "position_end", "tick_price", "tick_size", "tick_snapshot_end", "account_time",
]  # fmt: skip

_NY = ZoneInfo("America/New_York")
Msg = list[Field]


def ib_time(t: datetime) -> str:
    """``YYYYMMDD HH:MM:SS America/New_York`` (ib_async's parseIBDatetime form)."""
    return f"{t.astimezone(_NY):%Y%m%d %H:%M:%S} America/New_York"


def _contract11(c: IbContract, exchange: str | None = None) -> Msg:
    """conId..tradingClass as the server sends them (no primaryExchange)."""
    return [c.con_id, c.ib_symbol, c.sec_type, c.last_trade, 0.0, "", c.multiplier,
            exchange if exchange is not None else c.exchange, c.currency, c.local_symbol, c.trading_class]  # fmt: skip


def _price(p: float | None) -> Field:
    return "" if p is None else p


def next_valid_id(order_id: int) -> Msg:
    return [9, 1, order_id]


def managed_accounts(accounts: tuple[str, ...]) -> Msg:
    return [15, 1, ",".join(accounts)]


def current_time(epoch_s: int) -> Msg:
    return [49, 1, epoch_s]


def error(req_id: int, code: int, message: str, advanced_json: str = "") -> Msg:
    """decoder.errorMsg (server version >= 166 carries advancedOrderRejectJson)."""
    return [4, 2, req_id, code, message, advanced_json]


def contract_details(req_id: int, c: IbContract, exchange: str, order_types: str) -> Msg:
    """decoder.contractDetails at >= 164 (no version field, no mdSizeMultiplier)."""
    valid = "SMART," + c.primary_exchange if c.sec_type == "STK" else c.exchange
    return [
        10, req_id, c.ib_symbol, c.sec_type, c.last_trade, 0.0, "", exchange, c.currency, c.local_symbol,
        c.trading_class, c.trading_class, c.con_id, c.min_tick,
        c.multiplier, order_types, valid, 1, 0, c.long_name, c.primary_exchange, c.last_trade[:6],
        "", "", "", c.time_zone, "", "", "", "", 0,  # industry..evMultiplier, numSecIds
        1, "", "", "26" if c.sec_type == "STK" else "32", c.last_trade, "ETF" if c.sec_type == "STK" else "",
        1, 1, 1,  # minSize, sizeIncrement, suggestedSizeIncrement
    ]  # fmt: skip


def contract_details_end(req_id: int) -> Msg:
    return [52, 1, req_id]


def market_data_type(req_id: int, data_type: int) -> Msg:
    return [58, 1, req_id, data_type]


def tick_price(req_id: int, tick_type: int, price: float, size: float, attr_mask: int = 0) -> Msg:
    """decoder.priceSizeTick: exactly 7 fields (1 bid, 2 ask, 4 last, 9 close)."""
    return [1, 6, req_id, tick_type, price, size, attr_mask]


def tick_size(req_id: int, tick_type: int, size: float) -> Msg:
    """tickSize (0 bid size, 3 ask size, 5 last size, 8 volume)."""
    return [2, 6, req_id, tick_type, size]


def tick_snapshot_end(req_id: int) -> Msg:
    return [57, 1, req_id]


def order_status(o: GatewayOrder) -> Msg:
    """decoder 3 (wrap skip=1: no version field), 12 fields."""
    return [3, o.order_id, o.status, float(o.filled), float(o.remaining), o.avg_fill_price, o.perm_id, 0,
            o.last_fill_price, o.client_id, o.why_held, 0.0]  # fmt: skip


def _algo(o: GatewayOrder) -> Msg:
    if not o.algo_strategy:
        return [""]
    out: Msg = [o.algo_strategy, len(o.algo_params)]
    for tag, value in o.algo_params:
        out += [tag, value]
    return out


def open_order(o: GatewayOrder) -> Msg:
    """decoder.openOrder at server version 178 (no faProfile; duration, postToAts,
    autoCancelParent and the five 170+ fields present)."""
    return [
        5, o.order_id, *_contract11(o.contract),
        o.action, float(o.total_quantity), o.order_type, _price(o.lmt_price), "", o.tif, "", o.account, "", 0,
        o.order_ref, o.client_id, o.perm_id, o.outside_rth, False, 0.0, "", "", "", "", "",
        # modelCode .. deltaNeutralAuxPrice (29)
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", "", False, False, False, "", "", False, False, "",
        0, 0, "", "", "", "",
        # continuousUpdate .. comboLegsDescrip, numLegs, numOrderLegs, numParams
        False, "", "", "", "", "", "", 0, 0, 0,
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        False, "", "", False, False,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        *_algo(o),
        False, False, o.status, "", "", "", "", "", "", "", "", "", "", "", "", "", "", False, False,
        0,  # numConditions
        "", "", "", "", "", "", "", 0, "", "", "", "", False, False, "", False,  # adjustedOrderType ..
        "", "", False,  # duration, postToAts, autoCancelParent
        "", "", "", "", "",  # minTradeQty .. midOffsetAtHalf
    ]  # fmt: skip


def open_order_end() -> Msg:
    return [53, 1]


def completed_order(o: GatewayOrder) -> Msg:
    """decoder.completedOrder at server version 178 (no version, no orderId)."""
    return [
        101, *_contract11(o.contract),
        o.action, float(o.total_quantity), o.order_type, _price(o.lmt_price), "", o.tif, "", o.account, "", 0,
        o.order_ref, o.perm_id, o.outside_rth, False, 0.0, "", "", "", "",
        # modelCode .. deltaNeutralAuxPrice (23)
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", False, False, "", 0, 0, "", "", "", "",
        False, "", "", "", "", 0, 0, 0,  # continuousUpdate .. comboLegsDescrip, legs, order legs, params
        "", "", "",  # scale
        "",  # hedgeType
        "", "", False, False,  # clearingAccount, clearingIntent, notHeld, dnc
        *_algo(o),
        False, o.status, False, False,  # solicited, status, randomizeSize, randomizePrice
        0,  # numConditions
        "", "", "", False, False, "", float(o.filled), 0, False, "", False, False, 0,
        o.completed_time, o.completed_status,
        "", "", "", "", "",
    ]  # fmt: skip


def completed_orders_end() -> Msg:
    return [102]


def exec_details(req_id: int, e: GatewayExecution, c: IbContract) -> Msg:
    """decoder.execDetails at 178 (pendingPriceRevision last); ``req_id`` -1 when live."""
    return [
        11, req_id, e.order_id, *_contract11(c), e.exec_id, ib_time(e.time), e.account, e.exchange,
        e.side, float(e.shares), e.price, e.perm_id, e.client_id, 0, float(e.cum_qty), e.avg_price,
        e.order_ref, "", "", "", e.liquidity, False,
    ]  # fmt: skip


def exec_details_end(req_id: int) -> Msg:
    return [55, 1, req_id]


def commission_report(exec_id: str, commission: float, currency: str, realized_pnl: float = 0.0) -> Msg:
    """decoder.commissionReport: exactly 8 fields."""
    return [59, 1, exec_id, commission, currency, realized_pnl, "", ""]


def position(account: str, c: IbContract, qty: int, avg_cost: float) -> Msg:
    """decoder.position: exactly 16 fields; avgCost per unit times the multiplier (IB's)."""
    return [61, 3, account, *_contract11(c), float(qty), avg_cost]


def position_end() -> Msg:
    return [62, 1]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Msg:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Msg:
    return [64, 1, req_id]


def account_value(key: str, value: str, currency: str, account: str) -> Msg:
    """updateAccountValue (reqAccountUpdates)."""
    return [6, 2, key, value, currency, account]


def portfolio_value(c: IbContract, qty: int, mkt_price: float, mkt_value: float, avg_cost: float,
                    unrealized: float, account: str) -> Msg:  # fmt: skip
    """decoder.updatePortfolio: exactly 20 fields (primaryExchange in place of exchange)."""
    return [7, 8, c.con_id, c.ib_symbol, c.sec_type, c.last_trade, 0.0, "", c.multiplier, c.primary_exchange,
            c.currency, c.local_symbol, c.trading_class, float(qty), mkt_price, mkt_value, avg_cost,
            unrealized, 0.0, account]  # fmt: skip


def account_time(t: datetime) -> Msg:
    return [8, 1, f"{t.astimezone(_NY):%H:%M}"]


def account_download_end(account: str) -> Msg:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> Msg:
    return [73, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Msg:
    return [74, 1, req_id]


def parse_ib_time(s: str) -> datetime:
    """``YYYYMMDD HH:MM:SS [zone]`` or ``YYYYMMDD-HH:MM:SS`` (UTC) as sent in an
    execution filter; no zone means New York (the gateway's time zone)."""
    s = s.strip()
    if "-" in s[:9]:
        d, t = s.split("-", 1)
        return datetime.strptime(d + t[:8], "%Y%m%d%H:%M:%S").replace(tzinfo=ZoneInfo("UTC"))
    parts = s.split()
    tz = ZoneInfo(parts[2]) if len(parts) > 2 else _NY
    return datetime.strptime(parts[0] + parts[1], "%Y%m%d%H:%M:%S").replace(tzinfo=tz)
