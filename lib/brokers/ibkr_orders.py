"""The transport's own order book, fed by IB's messages (no ib_async here).

ib_async's Trade objects are per connection and mark an order Cancelled on
any non-warning error; this book outlives reconnects and keeps IB's *wire*
state per order, keyed by orderRef (our client order id), with orderId and
permId as secondary keys (the reconciliation order: orderRef, then permId,
then execId through :class:`lib.brokers.ibkr_fills.ExecutionBook`).

Rules:

* status comes from IB's orderStatus / openOrder / completedOrders messages,
  mapped by :func:`lib.brokers.ibkr_codes.map_status`; the filled quantity
  never goes backwards (a stale status after a reconnect cannot undo a fill);
* an error on an order not yet acknowledged (only PendingSubmit seen) that IB
  classes as a reject makes it REJECTED with IB's text;
* an error on an acknowledged order (a failed modify, 10349, ...) only marks
  a *provisional* cancel: the order keeps its last wire status until
  openOrder (alive) or completedOrders / orderStatus (dead) confirm it;
  :meth:`OrderBook.needs_confirmation` lists those for the transport;
* a modify in flight is remembered (price, quantity) and folded in when IB
  acknowledges it; after a reconnect the open-orders answer decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib.brokers.base import TERMINAL_BROKER_STATUSES, BrokerOrderStatus, OrderRequest, OrderUpdate
from lib.brokers.ibkr_codes import ErrorKind, classify_error, map_status
from lib.types import OrderType

__all__ = ["IbOrder", "OrderBook"]

_UNACKED = frozenset({"PendingSubmit", "ApiPending", ""})


@dataclass(slots=True)
class IbOrder:
    """One of our orders as IB last described it."""

    request: OrderRequest
    order_id: int
    perm_id: int = 0
    ib_status: str = "PendingSubmit"  # last wire status
    filled: int = 0
    avg_price: float = 0.0
    quantity: int = 0
    limit_price: float | None = None
    updated: datetime | None = None
    reason: str | None = None
    rejected: bool = False
    provisional: str | None = None  # error text of an unconfirmed error-driven cancel
    modify_inflight: tuple[float, int] | None = None  # (limit, quantity) before an unacked modify
    confirm_checks: int = 0
    pre_cancel_status: str | None = None  # wire status before our cancel (restored if IB refuses it)

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def status(self) -> BrokerOrderStatus:
        if self.rejected:
            return BrokerOrderStatus.REJECTED
        return map_status(self.ib_status, self.filled, self.quantity)

    @property
    def acked(self) -> bool:
        return self.ib_status not in _UNACKED or self.perm_id != 0

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_BROKER_STATUSES


class OrderBook:
    """Our orders of this run (and those adopted from IB on reconnect)."""

    def __init__(self) -> None:
        self.by_ref: dict[str, IbOrder] = {}
        self._by_order_id: dict[int, str] = {}
        self._by_perm: dict[int, str] = {}

    # ----- lookups -----
    def get(self, client_order_id: str) -> IbOrder | None:
        return self.by_ref.get(client_order_id)

    def find(self, *, order_ref: str = "", perm_id: int = 0, order_id: int = 0) -> IbOrder | None:
        """By orderRef, then permId, then orderId."""
        if order_ref and order_ref in self.by_ref:
            return self.by_ref[order_ref]
        if perm_id and perm_id in self._by_perm:
            return self.by_ref[self._by_perm[perm_id]]
        if order_id and order_id in self._by_order_id:
            return self.by_ref[self._by_order_id[order_id]]
        return None

    def order_refs(self) -> dict[int, str]:
        return {oid: ref for oid, ref in self._by_order_id.items()}

    # ----- our commands -----
    def add(self, request: OrderRequest, order_id: int, ts: datetime) -> IbOrder:
        o = IbOrder(request, order_id, quantity=request.quantity, limit_price=request.limit_price, updated=ts)
        self.by_ref[request.client_order_id] = o
        self._by_order_id[order_id] = request.client_order_id
        return o

    def adopt(self, request: OrderRequest, order_id: int, perm_id: int, ts: datetime) -> IbOrder:
        """An order of ours IB knows but this process did not send (an earlier run)."""
        o = self.by_ref.get(request.client_order_id)
        if o is None:
            o = self.add(request, order_id, ts)
        self._link(o, order_id, perm_id)
        return o

    def _link(self, o: IbOrder, order_id: int, perm_id: int) -> None:
        if order_id > 0:
            self._by_order_id[order_id] = o.client_order_id
            o.order_id = order_id
        if perm_id:
            o.perm_id = perm_id
            self._by_perm[perm_id] = o.client_order_id

    def cancel_sent(self, o: IbOrder) -> None:
        """Our cancel went out: PendingCancel until IB confirms or refuses it."""
        if o.ib_status != "PendingCancel":
            o.pre_cancel_status = o.ib_status
        o.ib_status = "PendingCancel"

    def modify_sent(self, o: IbOrder, limit_price: float, quantity: int) -> None:
        """A re-place went out: the new price and size apply now (as at IB once
        it accepts); a failed modify restores the previous ones."""
        if o.limit_price is not None:
            o.modify_inflight = (o.limit_price, o.quantity)
        o.limit_price, o.quantity = limit_price, quantity

    # ----- IB's messages -----
    def on_status(
        self, o: IbOrder, status: str, filled: int, avg_price: float, perm_id: int, ts: datetime,
        *, from_reconcile: bool = False,
    ) -> None:  # fmt: skip
        """A wire orderStatus (or the status of an openOrder / completedOrder)."""
        self._link(o, 0, perm_id)
        if o.rejected:
            return
        if o.is_terminal and not from_reconcile:
            return  # IB never revives a dead order; a late duplicate changes nothing
        if filled >= o.filled:
            if filled > o.filled or avg_price > 0:
                o.avg_price = avg_price if avg_price > 0 else o.avg_price
            o.filled = filled
        o.ib_status = status
        o.updated = ts
        if status in ("Cancelled", "ApiCancelled", "Inactive", "Filled"):
            o.provisional = None
            o.modify_inflight = None
        elif status not in _UNACKED:
            o.provisional = None
            o.confirm_checks = 0

    def on_open_order(
        self, o: IbOrder, status: str, limit_price: float | None, quantity: int, perm_id: int, ts: datetime
    ) -> None:
        """An openOrder: the order IB holds now (price and size in force)."""
        self._link(o, 0, perm_id)
        if limit_price is not None and o.request.order_type in (OrderType.LMT, OrderType.LOC):
            o.limit_price = limit_price
        if quantity > 0:
            o.quantity = quantity
        o.modify_inflight = None
        if status:
            self.on_status(o, status, o.filled, o.avg_price, perm_id, ts, from_reconcile=True)

    def on_error(self, o: IbOrder, code: int, message: str, ts: datetime) -> ErrorKind:
        """An IB error on one of our order ids; returns its kind."""
        kind = classify_error(code, order_related=True)
        text = f"IB {code}: {message}"
        if kind in (ErrorKind.REJECT, ErrorKind.DUPLICATE_ID) and not o.acked and o.modify_inflight is None:
            o.rejected = True
            o.reason = text
            o.updated = ts
        elif kind is ErrorKind.CANCEL_REJECTED and o.ib_status == "PendingCancel" and o.pre_cancel_status:
            # IB refused the cancel (e.g. 10148 after the auction cutoff): the order still works
            o.ib_status, o.reason, o.updated = o.pre_cancel_status, text, ts
        elif kind in (ErrorKind.REJECT, ErrorKind.MODIFY_FAILED, ErrorKind.PROVISIONAL):
            if o.modify_inflight is not None:
                # the modify failed; the order works on at its previous price and size
                o.limit_price, o.quantity = o.modify_inflight
                o.modify_inflight = None
                o.reason = text
            if kind is ErrorKind.REJECT and not o.is_terminal:
                o.provisional = text
            o.updated = ts
        return kind

    def confirm_alive(self, o: IbOrder) -> None:
        """openOrders listed it: an error-driven cancel was false."""
        o.provisional = None
        o.confirm_checks = 0

    def confirm_missing(self, o: IbOrder, ts: datetime, max_checks: int = 3) -> None:
        """Neither open nor completed at IB: after ``max_checks`` the
        provisional cancel is believed (IB forgot a never-working order)."""
        o.confirm_checks += 1
        if o.confirm_checks >= max_checks and o.provisional is not None:
            o.ib_status = "Cancelled"
            o.reason = o.provisional
            o.provisional = None
            o.updated = ts

    def needs_confirmation(self) -> list[IbOrder]:
        return [o for o in self.by_ref.values() if o.provisional is not None and not o.is_terminal]

    def live(self) -> list[IbOrder]:
        return [o for o in self.by_ref.values() if not o.is_terminal]

    # ----- views -----
    def update(self, o: IbOrder, now: datetime) -> OrderUpdate:
        limit = o.limit_price
        qty = o.quantity
        return OrderUpdate(
            client_order_id=o.client_order_id, broker_order_id=str(o.perm_id or o.order_id),
            status=o.status, quantity=qty, filled_quantity=min(o.filled, qty),
            avg_fill_price=o.avg_price if o.filled else 0.0, limit_price=limit,
            ts=o.updated or now, reason=o.reason,
        )  # fmt: skip
