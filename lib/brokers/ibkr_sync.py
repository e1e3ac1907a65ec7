"""Folding IB's answers into the transport's books (no ib_async import here).

ib_async's objects (Trade, Fill, Position, Contract) are read by attribute
only. :class:`IbState` owns the :class:`OrderBook` and :class:`ExecutionBook`
of one transport and applies what IB reports: live events, the
reconciliation after a (re)connect or 1101/1102 (open orders, completed
orders, executions, positions: matched by orderRef, then permId, then execId)
and the confirmation of error-driven cancels. It runs on the transport's
event loop thread only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_contracts import IB_SYMBOLS
from lib.brokers.ibkr_fills import ExecutionBook, ExecutionReport
from lib.brokers.ibkr_orders import IbOrder, OrderBook
from lib.instruments import InstrumentRegistry
from lib.types import AssetClass, OrderType, Side

__all__ = ["IbState", "positive"]

_REVERSE_SYMBOLS = {v: k for k, v in IB_SYMBOLS.items()}


def positive(x: Any) -> float | None:
    """A positive finite number, or None (IB's UNSET_DOUBLE, NaN, 0, None)."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) and 0 < v < 1e300 else None


class IbState:
    """The books of one transport and how IB's reports change them.

    ``now()`` timestamps updates; ``account`` filters positions ("" = all)."""

    def __init__(self, registry: InstrumentRegistry, account: str, now: Callable[[], datetime]) -> None:
        self.registry = registry
        self.account = account
        self.now = now
        self.book = OrderBook()
        self.execs = ExecutionBook()
        self.symbol_by_con: dict[int, str] = {}
        self.orders: dict[str, tuple[Any, Any]] = {}  # client order id -> (Contract, Order) to re-place/cancel
        self.positions: dict[str, int] = {}

    # ----- identification -----
    def symbol_of(self, c: Any) -> str | None:
        """Our symbol for an IB contract (conId if qualified, else its names)."""
        if c.conId in self.symbol_by_con:
            return self.symbol_by_con[c.conId]
        for cand in (c.tradingClass, c.symbol, _REVERSE_SYMBOLS.get(c.symbol, "")):
            if cand and cand in self.registry:
                is_stock = self.registry[cand].asset_class in (AssetClass.ETF, AssetClass.STK)
                if (c.secType == "STK") == is_stock:
                    return str(cand)
        return None

    def adopt(self, trade: Any) -> IbOrder | None:
        """The book's order for an IB trade, adopting ours from earlier runs (by orderRef)."""
        od = trade.order
        o = self.book.find(order_ref=od.orderRef, perm_id=od.permId, order_id=od.orderId)
        if o is not None or not od.orderRef:
            return o
        symbol = self.symbol_of(trade.contract)
        if symbol is None:
            return None
        otype = OrderType(od.orderType) if od.orderType in OrderType.__members__ else OrderType.LMT
        req = OrderRequest(
            od.orderRef, symbol, Side(od.action), int(od.totalQuantity), otype,
            positive(od.lmtPrice), od.tif or "DAY", bool(od.outsideRth),
        )  # fmt: skip
        o = self.book.adopt(req, od.orderId, od.permId, self.now())
        self.orders[od.orderRef] = (trade.contract, od)
        return o

    # ----- live events -----
    def on_order_status(self, trade: Any) -> None:
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's error-driven status: handled (provisionally) from the error itself
        od = trade.order
        o = self.book.find(order_ref=od.orderRef, perm_id=od.permId, order_id=od.orderId)
        if o is None:
            return
        st = trade.orderStatus
        self.book.on_status(o, st.status, int(st.filled), float(st.avgFillPrice or 0.0), st.permId, self.now())

    def on_open_order(self, trade: Any) -> None:
        o = self.adopt(trade)
        if o is not None:
            od = trade.order
            self.book.on_open_order(o, "", positive(od.lmtPrice), int(od.totalQuantity), od.permId, self.now())

    def record_execution(self, fill: Any) -> None:
        ex = fill.execution
        t = ex.time
        rep = ExecutionReport(
            exec_id=ex.execId, perm_id=ex.permId, order_id=ex.orderId, order_ref=ex.orderRef,
            symbol=self.symbol_of(fill.contract) or fill.contract.symbol,
            side=Side.BUY if ex.side in ("BOT", "BUY") else Side.SELL, shares=int(ex.shares), price=float(ex.price),
            time=t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC),
            liquidity={1: "add", 2: "remove"}.get(ex.lastLiquidity, ""),
        )  # fmt: skip
        self.execs.add_execution(rep)
        cr = fill.commissionReport
        if cr is not None and cr.execId:
            self.execs.add_commission(cr.execId, cr.commission)

    def position_map(self, positions: Iterable[Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            sym = self.symbol_of(p.contract) or p.contract.localSymbol or p.contract.symbol
            if p.position:
                out[sym] = out.get(sym, 0) + int(p.position)
        self.positions = out
        return dict(out)

    # ----- reconciliation -----
    def reconcile(
        self, open_trades: Iterable[Any], completed: Iterable[Any], fills: Iterable[Any], positions: Iterable[Any]
    ) -> None:
        """Fold a full re-read of IB into the books (after a connect or 1101/1102).

        Orders of ours IB holds are adopted/updated; executions fill in what
        happened while disconnected (a floor under each order's filled
        quantity); an order we sent that IB knows neither as open nor as
        completed never reached it and is closed as Cancelled."""
        now = self.now()
        seen: set[str] = set()
        for t in open_trades:
            o = self.adopt(t)
            if o is None:
                continue
            seen.add(o.client_order_id)
            self.book.confirm_alive(o)
            status = t.orderStatus.status if t.orderStatus.status not in ("", "ValidationError") else "Submitted"
            od = t.order
            self.book.on_open_order(o, status, positive(od.lmtPrice), int(od.totalQuantity), od.permId, now)
            self.book.on_status(o, status, int(t.orderStatus.filled), float(t.orderStatus.avgFillPrice or 0.0),
                                od.permId, now, from_reconcile=True)  # fmt: skip
        for t in completed:
            o = self.adopt(t)
            if o is None or o.client_order_id in seen:
                continue
            seen.add(o.client_order_id)
            filled = int(positive(t.order.filledQuantity) or o.filled)
            self.book.on_status(o, t.orderStatus.status, filled, o.avg_price, t.order.permId, now, from_reconcile=True)
        for f in fills:
            self.record_execution(f)
        self.execs.with_ref(self.book.order_refs())
        for ref, (qty, vwap) in self.execs.filled_by_ref().items():
            o = self.book.get(ref)
            if o is not None and qty > o.filled:
                o.filled, o.avg_price = qty, vwap
                if o.filled >= o.quantity and not o.is_terminal:
                    o.ib_status = "Filled"
        for o in self.book.live():
            if o.client_order_id not in seen:
                if o.provisional is not None:
                    self.book.confirm_missing(o, now, max_checks=1)
                else:  # sent before the drop, never reached IB
                    o.ib_status, o.reason, o.updated = "Cancelled", "not known to IB after reconnect", now
        self.position_map(positions)

    def confirm(self, open_trades: Iterable[Any], completed: Iterable[Any]) -> None:
        """Settle provisional (error-driven) cancels against IB's open and completed orders."""
        alive = {t.order.orderRef for t in open_trades}
        done = {t.order.orderRef: t for t in completed}
        now = self.now()
        for o in self.book.needs_confirmation():
            if o.client_order_id in alive:
                self.book.confirm_alive(o)
            elif o.client_order_id in done:
                t = done[o.client_order_id]
                self.book.on_status(o, t.orderStatus.status, o.filled, o.avg_price, t.order.permId, now,
                                    from_reconcile=True)  # fmt: skip
            else:
                self.book.confirm_missing(o, now)
