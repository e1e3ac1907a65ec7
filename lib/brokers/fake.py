"""A tiny, deterministic, in-memory BrokerTransport for unit tests.

Not a market simulator (that is :mod:`lib.brokers.sim`): nothing here moves
prices or queues. Tests *script* what the broker does to each client order id
and the injected :class:`lib.clock.Clock` decides when it happens:

* :meth:`FakeBroker.script_fills` - fills at ``after_seconds`` since the first
  submission, optionally only once the order's limit has reached a price;
* :meth:`FakeBroker.reject` / :meth:`FakeBroker.reject_modify` - permanent refusals;
* :meth:`FakeBroker.fail_next` / :meth:`FakeBroker.disconnect` - transient errors;
* :meth:`FakeBroker.fill_before_cancel` - the fill races our cancel ("too late");
* ``ack_delay_seconds`` / ``cancel_delay_seconds`` - slow acknowledgements.

State is evaluated lazily from ``clock.now()`` whenever an order is touched,
so the same script and the same clock always give the same answers. Every call
is counted in :attr:`FakeBroker.calls`; every modify is logged in
:attr:`FakeBroker.modifications`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from lib.brokers.base import TERMINAL_BROKER_STATUSES, BrokerOrderStatus, OrderRequest, OrderUpdate
from lib.brokers.fake_script import TRANSPORT_METHODS, FakeOrder, ScriptedFailure, ScriptedFill
from lib.clock import Clock
from lib.errors import (
    BrokerDisconnected,
    BrokerError,
    BrokerRejected,
    BrokerTransientError,
    TooLateToCancel,
    UnknownOrder,
)
from lib.types import Fill, MarketDataSnapshot, OrderType, Side

# FakeOrder, ScriptedFill and TRANSPORT_METHODS live in lib.brokers.fake_script;
# re-exported here so callers keep importing them from this module.
__all__ = ["FakeBroker", "FakeOrder", "ScriptedFill", "TRANSPORT_METHODS"]

_EPS = timedelta(microseconds=1)


class FakeBroker:
    """Scripted BrokerTransport (see the module docstring).

    ack_delay_seconds: a new order reports PendingSubmit for this long.
    cancel_delay_seconds: a cancel reports PendingCancel for this long (fills
    due before it completes still happen). commission_per_unit: currency per
    share/contract on every fill. nav: value returned by get_account_nav.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ack_delay_seconds: float = 0.0,
        cancel_delay_seconds: float = 0.0,
        commission_per_unit: float = 0.0,
        nav: float = 1_000_000.0,
    ) -> None:
        self._clock = clock
        self._ack_delay = timedelta(seconds=ack_delay_seconds)
        self._cancel_delay = timedelta(seconds=cancel_delay_seconds)
        self._commission = commission_per_unit
        self._nav = nav
        self.orders: dict[str, FakeOrder] = {}
        self.calls: Counter[str] = Counter()
        self.modifications: list[tuple[str, datetime, float]] = []
        self.executions: list[Fill] = []
        self._scripts: dict[str, list[ScriptedFill]] = {}
        self._rejects: dict[str, str] = {}
        self._modify_rejects: dict[str, str] = {}
        self._races: set[str] = set()
        self._failures: dict[str, ScriptedFailure] = {}
        self._connected = True
        self._quotes: dict[str, MarketDataSnapshot] = {}
        self._next_broker_id = 1

    # ------------------------------------------------------------------ scripting
    def script_fills(self, client_order_id: str, *fills: ScriptedFill) -> None:
        """Queue fills for an order (before or after it is submitted)."""
        target = self.orders[client_order_id].scripts if client_order_id in self.orders else None
        if target is None:
            target = self._scripts.setdefault(client_order_id, [])
        target.extend(fills)
        target.sort(key=lambda f: f.after_seconds)

    def reject(self, client_order_id: str, reason: str = "scripted reject") -> None:
        """Submitting this id raises BrokerRejected."""
        self._rejects[client_order_id] = reason

    def reject_modify(self, client_order_id: str, reason: str = "scripted modify reject") -> None:
        """The next modify of this id raises BrokerRejected (the order works on)."""
        self._modify_rejects[client_order_id] = reason

    def fill_before_cancel(self, client_order_id: str) -> None:
        """The next cancel/modify of this id finds it completely filled at its
        limit and raises TooLateToCancel."""
        self._races.add(client_order_id)

    def fail_next(
        self,
        method: str,
        times: int = 1,
        error: type[BrokerTransientError] = BrokerDisconnected,
        *,
        reached_broker: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` raise ``error``. With
        ``reached_broker`` the call takes effect first and only the answer is
        lost (a submit that timed out but created the order)."""
        if method not in TRANSPORT_METHODS:
            raise ValueError(f"unknown transport method {method!r}")
        self._failures[method] = ScriptedFailure(times, error, reached_broker)

    def disconnect(self) -> None:
        """Every call raises BrokerDisconnected until :meth:`reconnect`."""
        self._connected = False

    def reconnect(self) -> None:
        self._connected = True

    def set_quote(self, snapshot: MarketDataSnapshot) -> None:
        self._quotes[snapshot.symbol] = snapshot

    # ------------------------------------------------------------------ internals
    def _gate(self, method: str) -> ScriptedFailure | None:
        """Count the call; raise (or arm a post-effect raise) if scripted."""
        self.calls[method] += 1
        if not self._connected:
            raise BrokerDisconnected(f"fake broker disconnected ({method})")
        failure = self._failures.get(method)
        if failure is None or failure.remaining <= 0:
            return None
        failure.remaining -= 1
        if failure.reached_broker:
            return failure
        raise failure.error(f"fake broker: scripted {failure.error.__name__} on {method}")

    @staticmethod
    def _after(failure: ScriptedFailure | None, method: str) -> None:
        if failure is not None:
            raise failure.error(f"fake broker: {method} applied but the answer was lost")

    def _order(self, client_order_id: str) -> FakeOrder:
        order = self.orders.get(client_order_id)
        if order is None:
            raise UnknownOrder(client_order_id)
        return order

    def _limit_reached(self, order: FakeOrder, min_limit: float | None) -> bool:
        if min_limit is None or order.limit_price is None:
            return True
        if order.request.side is Side.BUY:
            return order.limit_price >= min_limit - 1e-9
        return order.limit_price <= min_limit + 1e-9

    def _fill(self, order: FakeOrder, quantity: int, price: float, ts: datetime) -> None:
        quantity = min(quantity, order.remaining)
        if quantity <= 0:
            return
        new_filled = order.filled_quantity + quantity
        order.avg_fill_price = (
            order.avg_fill_price * order.filled_quantity + price * quantity
        ) / new_filled
        order.filled_quantity = new_filled
        self.executions.append(
            Fill(
                exec_id=f"FX{len(self.executions) + 1:06d}",
                client_order_id=order.request.client_order_id,
                symbol=order.request.symbol,
                side=order.request.side,
                quantity=quantity,
                price=price,
                ts=ts,
                commission=self._commission * quantity,
            )
        )

    def _advance(self, order: FakeOrder) -> None:
        """Apply everything due by now: ack, scripted fills, cancel completion."""
        if order.status in TERMINAL_BROKER_STATUSES:
            return
        now = self._clock.now()
        horizon = now if order.cancel_due is None else min(now, order.cancel_due)
        if order.scripts:
            kept: list[ScriptedFill] = []
            for script in order.scripts:
                due = order.submitted_at + timedelta(seconds=script.after_seconds)
                if due <= horizon + _EPS and self._limit_reached(order, script.min_limit):
                    qty = order.remaining if script.quantity is None else script.quantity
                    price = script.price if script.price is not None else order.limit_price
                    if price is None:
                        raise BrokerError(
                            f"fake: no price for a fill of {order.request.client_order_id}"
                        )
                    self._fill(order, qty, price, max(due, order.submitted_at))
                else:
                    kept.append(script)
            order.scripts = kept
        if order.remaining <= 0:
            order.status = BrokerOrderStatus.FILLED
        elif order.cancel_due is not None and now + _EPS >= order.cancel_due:
            order.status = BrokerOrderStatus.CANCELLED
        elif order.cancel_due is not None:
            order.status = BrokerOrderStatus.PENDING_CANCEL
        elif (
            order.ack_due is not None and now + _EPS < order.ack_due and order.filled_quantity == 0
        ):
            order.status = BrokerOrderStatus.PENDING_SUBMIT
        elif order.filled_quantity > 0:
            order.status = BrokerOrderStatus.PARTIALLY_FILLED
        else:
            order.status = BrokerOrderStatus.SUBMITTED

    def _update(self, order: FakeOrder) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=order.request.client_order_id,
            broker_order_id=order.broker_order_id,
            status=order.status,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            avg_fill_price=order.avg_fill_price,
            limit_price=order.limit_price,
            ts=self._clock.now(),
            reason=order.reason,
        )

    # ------------------------------------------------------------------ BrokerTransport
    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        failure = self._gate("submit_order")
        coid = request.client_order_id
        if coid in self.orders:  # idempotent: a resend returns the existing order
            order = self.orders[coid]
            self._advance(order)
            self._after(failure, "submit_order")
            return self._update(order)
        reason = self._rejects.get(coid)
        if reason is None and request.quantity <= 0:
            reason = f"quantity must be positive, got {request.quantity}"
        if reason is None and request.order_type in (OrderType.LMT, OrderType.LOC):
            if request.limit_price is None:
                reason = f"{request.order_type} needs a limit price"
        now = self._clock.now()
        order = FakeOrder(
            request=request,
            broker_order_id=f"B{self._next_broker_id}",
            submitted_at=now,
            status=BrokerOrderStatus.PENDING_SUBMIT,
            limit_price=request.limit_price,
            scripts=self._scripts.pop(coid, []),
            ack_due=now + self._ack_delay if self._ack_delay else None,
        )
        self._next_broker_id += 1
        self.orders[coid] = order
        if reason is not None:
            order.status = BrokerOrderStatus.REJECTED
            order.reason = reason
            raise BrokerRejected(coid, reason)
        self._advance(order)
        self._after(failure, "submit_order")
        return self._update(order)

    def cancel_order(self, client_order_id: str) -> OrderUpdate:
        failure = self._gate("cancel_order")
        order = self._order(client_order_id)
        self._race(order)
        self._advance(order)
        if order.status is BrokerOrderStatus.FILLED:
            raise TooLateToCancel(client_order_id)
        if order.status not in TERMINAL_BROKER_STATUSES and order.cancel_due is None:
            order.cancel_due = self._clock.now() + self._cancel_delay
            self._advance(order)
        self._after(failure, "cancel_order")
        return self._update(order)

    def _race(self, order: FakeOrder) -> None:
        coid = order.request.client_order_id
        if coid in self._races and order.status not in TERMINAL_BROKER_STATUSES:
            self._races.discard(coid)
            self._advance(order)
            if order.limit_price is None:
                raise BrokerError(f"fake: cannot race-fill {coid} without a limit")
            self._fill(order, order.remaining, order.limit_price, self._clock.now())
            order.status = BrokerOrderStatus.FILLED

    def modify_order(
        self, client_order_id: str, limit_price: float, quantity: int | None = None
    ) -> OrderUpdate:
        failure = self._gate("modify_order")
        order = self._order(client_order_id)
        self._race(order)
        self._advance(order)
        if order.status is BrokerOrderStatus.FILLED:
            raise TooLateToCancel(client_order_id)
        if order.status in TERMINAL_BROKER_STATUSES or order.cancel_due is not None:
            raise BrokerRejected(client_order_id, f"cannot modify an order in {order.status}")
        reason = self._modify_rejects.pop(client_order_id, None)
        if reason is not None:
            raise BrokerRejected(client_order_id, reason)
        if quantity is not None:
            if quantity < order.filled_quantity:
                raise BrokerRejected(client_order_id, "quantity below filled quantity")
            order.request = replace(order.request, quantity=quantity)
        order.limit_price = limit_price
        self.modifications.append((client_order_id, self._clock.now(), limit_price))
        self._advance(order)
        self._after(failure, "modify_order")
        return self._update(order)

    def get_order_status(self, client_order_id: str) -> OrderUpdate:
        failure = self._gate("get_order_status")
        order = self._order(client_order_id)
        self._advance(order)
        self._after(failure, "get_order_status")
        return self._update(order)

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        failure = self._gate("get_order_statuses")
        out: dict[str, OrderUpdate] = {}
        for coid in client_order_ids:
            order = self.orders.get(coid)
            if order is not None:
                self._advance(order)
                out[coid] = self._update(order)
        self._after(failure, "get_order_statuses")
        return out

    def get_market_data(self, symbol: str) -> MarketDataSnapshot:
        self._gate("get_market_data")
        snap = self._quotes.get(symbol)
        if snap is None:
            raise BrokerError(f"fake broker has no quote for {symbol}")
        return snap

    def get_positions(self) -> dict[str, int]:
        self._gate("get_positions")
        pos: dict[str, int] = {}
        for fill in self.executions:
            pos[fill.symbol] = pos.get(fill.symbol, 0) + fill.side.sign * fill.quantity
        return pos

    def get_account_nav(self) -> float:
        self._gate("get_account_nav")
        return self._nav

    def get_open_orders(self) -> list[OrderUpdate]:
        self._gate("get_open_orders")
        out = []
        for order in self.orders.values():
            self._advance(order)
            if order.status not in TERMINAL_BROKER_STATUSES:
                out.append(self._update(order))
        return out

    def get_executions(self, client_order_id_prefix: str = "") -> list[Fill]:
        self._gate("get_executions")
        for order in self.orders.values():
            self._advance(order)
        return [f for f in self.executions if f.client_order_id.startswith(client_order_id_prefix)]
