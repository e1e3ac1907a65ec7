"""IBKRTransport: the BrokerTransport over ib_async (with its ``ibkr_*.py``
siblings, the only modules importing it).

The connection, its loop thread, reconnects and reconciliation are
:class:`lib.brokers.ibkr_session.IbSession` (the base class); this module is
the BrokerTransport methods on top of it. Statuses map through the one table
in ibkr_codes, IB errors become lib.errors types there too. A resubmit of a
known client order id returns the order IB has (no duplicate, even with a
modify in flight at the drop). Order fields, algos included (Adaptive, and
IB's Twap / Vwap for twap / vwap plans when ``ibkr.algo`` enables them: one IB
algo order per order sent, over the request's window), come from
:mod:`lib.brokers.ibkr_requests`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from ib_async import Order, TagValue

from lib.brokers.base import OrderRequest, OrderUpdate
from lib.brokers.ibkr_codes import error_to_exception
from lib.brokers.ibkr_config import IBKRConfig, with_env_overrides
from lib.brokers.ibkr_orders import IbOrder
from lib.brokers.ibkr_requests import order_fields
from lib.brokers.ibkr_session import IbSession
from lib.brokers.ibkr_sync import positive
from lib.clock import Clock
from lib.errors import (
    BrokerDisconnected,
    BrokerRejected,
    BrokerTimeout,
    TooLateToCancel,
    UnknownOrder,
)
from lib.instruments import InstrumentRegistry
from lib.types import Fill, MarketDataSnapshot, OrderType

__all__ = ["IBKRTransport", "open_ibkr"]

#: Wall seconds a submit waits for IB's ack (or an immediate reject) before returning PendingSubmit.
ACK_WAIT_SECONDS = 2.0
#: Wall seconds get_executions waits for outstanding commission reports.
COMMISSION_WAIT_SECONDS = 1.0


class IBKRTransport(IbSession):
    """BrokerTransport on Interactive Brokers through ib_async 2.1.0."""

    # ------------------------------------------------------------------ BrokerTransport
    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        return self._run(self._ready_then(lambda: self._submit(request)))

    async def _submit(self, request: OrderRequest) -> OrderUpdate:
        coid = request.client_order_id
        known = self.book.get(coid)
        if known is not None:
            return self.book.update(known, self._now())  # idempotent: IB has (or had) it
        if self.cfg.read_only:
            raise BrokerRejected(coid, "IB session is read-only (ibkr.read_only: true)")
        if request.quantity <= 0:
            raise BrokerRejected(coid, f"quantity must be positive, got {request.quantity}")
        contract = await self._qualify(request.symbol)
        try:
            fields = order_fields(request, self.cfg.algo, account=self.cfg.account)
        except ValueError as exc:
            raise BrokerRejected(coid, str(exc)) from None
        fields["algoParams"] = [TagValue(k, v) for k, v in fields.get("algoParams", [])]
        order = Order(**fields)
        await self._pace()
        if not self._ready:
            raise BrokerDisconnected("IB session became uncertain; order not sent")
        order.orderId = self._ib.client.getReqId()
        o = self.book.add(request, order.orderId, self._now())  # before the send: a drop cannot duplicate it
        self.state.orders[coid] = (contract, order)
        self._ib.placeOrder(contract, order)
        waited = 0.0
        while not (o.acked or o.rejected) and waited < ACK_WAIT_SECONDS:
            await asyncio.sleep(0.01)
            waited += 0.01
        if o.rejected:
            raise BrokerRejected(coid, o.reason or "rejected by IB")
        return self.book.update(o, self._now())

    def _order(self, coid: str) -> IbOrder:
        o = self.book.get(coid)
        if o is None:
            raise UnknownOrder(coid)
        return o

    def cancel_order(self, client_order_id: str) -> OrderUpdate:
        return self._run(self._ready_then(lambda: self._cancel(client_order_id)))

    async def _cancel(self, coid: str) -> OrderUpdate:
        o = self._order(coid)
        if o.is_terminal:
            raise TooLateToCancel(coid)
        if o.ib_status == "PendingCancel":
            return self.book.update(o, self._now())
        contract, order = self.state.orders[coid]
        await self._pace()
        trade = self._ib.wrapper.trades.get((order.clientId, order.orderId))
        if trade is not None and trade.isDone():  # a false (error-driven) cancel in ib_async's view
            trade.orderStatus.status = o.ib_status
        self.book.cancel_sent(o)  # first: ib_async echoes a local PendingCancel inside cancelOrder
        self._ib.cancelOrder(order)
        return self.book.update(o, self._now())

    def modify_order(self, client_order_id: str, limit_price: float, quantity: int | None = None) -> OrderUpdate:
        return self._run(self._ready_then(lambda: self._modify(client_order_id, limit_price, quantity)))

    async def _modify(self, coid: str, limit_price: float, quantity: int | None) -> OrderUpdate:
        o = self._order(coid)
        if o.is_terminal or o.ib_status == "PendingCancel":
            raise TooLateToCancel(coid)
        if o.request.order_type in (OrderType.MKT, OrderType.MOC):
            raise BrokerRejected(coid, f"cannot set a limit on a {o.request.order_type.value} order")
        qty = o.quantity if quantity is None else quantity
        if qty <= o.filled:
            raise BrokerRejected(coid, f"new quantity {qty} must exceed the filled {o.filled}")
        contract, order = self.state.orders[coid]
        await self._pace()
        trade = self._ib.wrapper.trades.get((order.clientId, order.orderId))
        if trade is not None and trade.isDone():
            trade.orderStatus.status = o.ib_status  # ib_async asserts a modify targets a live trade
        order.lmtPrice, order.totalQuantity = float(limit_price), float(qty)
        self.book.modify_sent(o, float(limit_price), qty)
        self._ib.placeOrder(contract, order)  # same orderId: IB's modify
        return self.book.update(o, self._now())

    def get_order_status(self, client_order_id: str) -> OrderUpdate:
        got = self.get_order_statuses([client_order_id])
        if client_order_id not in got:
            raise UnknownOrder(client_order_id)
        return got[client_order_id]

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        ids = list(client_order_ids)

        async def go() -> dict[str, OrderUpdate]:
            await self._confirm_provisional()
            now = self._now()
            return {c: self.book.update(o, now) for c in ids if (o := self.book.get(c)) is not None}

        return self._run(self._ready_then(go))

    def get_market_data(self, symbol: str) -> MarketDataSnapshot:
        async def go() -> MarketDataSnapshot:
            contract = await self._qualify(symbol)
            self._md_errors.pop(contract.conId, None)
            (t,) = await asyncio.wait_for(self._ib.reqTickersAsync(contract), self.cfg.request_timeout_seconds)
            bid, ask = positive(t.bid), positive(t.ask)
            err = self._md_errors.get(contract.conId)
            if err is not None and (bid is None or ask is None):
                exc = error_to_exception(err[0], err[1])
                if exc is not None:
                    raise exc
            return MarketDataSnapshot(
                symbol=symbol, bid=bid, ask=ask, last=positive(t.last), close=positive(t.close), ts=self._now(),
                bid_size=positive(t.bidSize), ask_size=positive(t.askSize),
            )  # fmt: skip

        return self._run(self._ready_then(go))

    def get_positions(self) -> dict[str, int]:
        async def go() -> dict[str, int]:
            return self.state.position_map(await self._ib.reqPositionsAsync())

        return self._run(self._ready_then(go))

    def get_account_nav(self) -> float:
        async def go() -> float:
            values = await self._ib.accountSummaryAsync(self.cfg.account)
            for v in values:
                if v.tag == "NetLiquidation" and v.currency not in ("", "BASE_SKIP"):
                    return float(v.value)
            raise BrokerTimeout("IB account summary carried no NetLiquidation")

        return self._run(self._ready_then(go))

    def get_open_orders(self) -> list[OrderUpdate]:
        async def go() -> list[OrderUpdate]:
            trades = await self._ib.reqAllOpenOrdersAsync()
            now = self._now()
            out = []
            for t in trades:
                o = self.state.adopt(t)
                if o is None:
                    continue
                self.book.confirm_alive(o)
                if t.orderStatus.status in ("PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel"):
                    self.book.on_status(o, t.orderStatus.status, int(t.orderStatus.filled),
                                        float(t.orderStatus.avgFillPrice or 0.0), t.order.permId, now,
                                        from_reconcile=True)  # fmt: skip
                if not o.is_terminal:
                    out.append(self.book.update(o, now))
            return out

        return self._run(self._ready_then(go))

    def get_executions(self, client_order_id_prefix: str = "") -> list[Fill]:
        async def go() -> list[Fill]:
            fills = await self._ib.reqExecutionsAsync(self._exec_filter())
            for f in fills:
                self.state.record_execution(f)
            self.execs.with_ref(self.book.order_refs())
            waited = 0.0
            while self.execs.unsettled(client_order_id_prefix) and waited < COMMISSION_WAIT_SECONDS:
                await asyncio.sleep(0.02)
                waited += 0.02
            return self.execs.fills(client_order_id_prefix)

        return self._run(self._ready_then(go), timeout=self.cfg.request_timeout_seconds + COMMISSION_WAIT_SECONDS)

    # ------------------------------------------------------------------ extras
    def get_fx_rate(self, currency: str) -> tuple[float, datetime] | None:
        """IB's rate for ``currency`` in the account's base currency (the
        ``ExchangeRate`` account value; lib.fx's broker source), None if IB sent none."""

        async def go() -> tuple[float, datetime] | None:
            for v in self._ib.accountValues(self.cfg.account):
                if v.tag == "ExchangeRate" and v.currency == currency and positive(v.value):
                    return float(v.value), self._now()
            return None

        return self._run(self._ready_then(go))


def open_ibkr(cfg: IBKRConfig, registry: InstrumentRegistry) -> tuple[Clock, IBKRTransport]:
    """The run's clock and connected transport from the ``ibkr:`` settings with
    the EXEC_IBKR_* environment overrides applied (lib.runtime's ibkr branch)."""
    transport = IBKRTransport(with_env_overrides(cfg), registry)
    return transport.clock, transport
