"""The internal half of :class:`lib.orders.manager.OrderManager`: per-order mechanics.

:class:`OrderCommands` sends commands to the broker (retrying transient errors
with backoff), runs the per-order reprice and TTL timers, sends the cleanup
cancels for orphans, folds broker updates into the tracked orders (fills from
cumulative quantity deltas, state transitions) and records every
:class:`lib.orders.events.OrderEvent`. The behaviour is described in the
:mod:`lib.orders.manager` docstring; :class:`lib.orders.manager.OrderManager`
holds the state declared here (its ``__init__`` sets every attribute) and adds
the public API and the poll loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TypeVar

from lib.brokers.base import BrokerTransport, OrderUpdate
from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import (
    BrokerError,
    BrokerProtocolError,
    BrokerRejected,
    BrokerTransientError,
    RiskBlocked,
    TooLateToCancel,
    UnknownOrder,
)
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.gate import MessagePacer, OrderGate
from lib.orders.requests import Repricer
from lib.orders.states import (
    CANCELLABLE,
    TERMINAL,
    CancelReason,
    OrderState,
    transition,
)
from lib.orders.tracking import TrackedOrder
from lib.orders.vetting import OVERFILL, vet_update
from lib.types import Fill, MarketDataSnapshot, OrderPlan, OrderTicket

__all__ = ["OrderCommands"]

T = TypeVar("T")
_log = logging.getLogger(__name__)

_EPS = 1e-6  # seconds / price tolerance


class OrderCommands:
    """Broker commands, timers and update folding for tracked orders.

    Not used on its own: the subclass :class:`lib.orders.manager.OrderManager`
    sets every attribute declared below in its ``__init__``.
    """

    _transport: BrokerTransport
    _clock: Clock
    _config: ExecutionConfig
    _repricer: Repricer
    _on_fill: Callable[[OrderTicket, Fill], None] | None
    _on_complete: Callable[[OrderTicket], None] | None
    _on_event: Callable[[OrderEvent], None] | None
    _market_data: Callable[[str], MarketDataSnapshot] | None
    _max_retries: int
    _backoff: float
    _id_factory: Callable[[str, int], str]
    _records: dict[str, TrackedOrder]
    _live: dict[str, TrackedOrder]
    _orphans: dict[str, int]  # FAILED id -> cleanup attempts so far
    _exec_ids: set[str]
    _gate: OrderGate | None
    _pacer: MessagePacer | None
    events: list[OrderEvent]
    protocol_errors: list[BrokerProtocolError]

    @property
    def config(self) -> ExecutionConfig:
        """The execution settings orders are supervised with."""
        return self._config

    def _timers(self, rec: TrackedOrder, now_ts: float) -> bool:
        if rec.ttl_due(now_ts):
            self._cancel(rec, CancelReason.EXPIRE)
            return True
        if rec.replace_due(now_ts):
            return self._replace(rec, now_ts)
        return False

    def _replace(self, rec: TrackedOrder, now_ts: float) -> bool:
        ticket, plan = rec.ticket, rec.ticket.plan
        coid = ticket.client_order_id
        snapshot = None
        if self._market_data is not None:
            try:
                snapshot = self._market_data(ticket.symbol)
            except BrokerError as exc:  # no fresh quote: reprice off the ladder alone
                self._event(rec, OrderEventKind.BROKER_ERROR, detail=f"market data: {exc}")
        attempt = rec.attempt + 1
        price = self._repricer(plan, attempt, snapshot)
        self._check_price(plan, price, coid)  # raises: an out-of-collar price is never sent
        rec.attempt = attempt
        rec.last_submit_ts = now_ts
        if ticket.limit_price is not None and abs(price - ticket.limit_price) < _EPS:
            return False  # same price: a modify would only lose queue priority
        if self._gate_refuses_modify(rec, price):
            return True
        return self._send_modify(rec, price, f"attempt {attempt}")

    def _gate_refuses_modify(self, rec: TrackedOrder, price: float) -> bool:
        """True (and a ``risk_blocked`` event) when the gate refuses this modify."""
        if self._gate is None:
            return False
        why = self._gate.check_modify(rec.ticket.plan, price, rec.ticket.client_order_id)
        if why is None:
            return False
        self._event(rec, OrderEventKind.RISK_BLOCKED, price=price, detail=f"replace blocked: {why}")
        return True

    def _send_modify(self, rec: TrackedOrder, price: float, detail: str) -> bool:
        """Send one modify to ``price`` (already collar-checked) and fold the answer."""
        ticket = rec.ticket
        coid = ticket.client_order_id
        self._set_state(rec, OrderState.PENDING_REPLACE, detail)
        rec.replace_price = price
        ticket.messages += 1
        ticket.replace_count += 1
        self._event(rec, OrderEventKind.MODIFY_SENT, price=price, detail=detail)
        try:
            update = self._call(rec, "modify", lambda: self._transport.modify_order(coid, price))
        except BrokerRejected as exc:
            rec.replace_price = None
            self._event(rec, OrderEventKind.BROKER_ERROR, detail=f"replace refused: {exc.reason}")
            self._set_state(rec, rec.working_state(), "replace refused")
            return True
        except TooLateToCancel:
            self._event(rec, OrderEventKind.BROKER_ERROR, detail="replace too late: order done")
            return True
        except BrokerError as exc:
            self._fail(rec, f"modify: {exc}")
            return True
        self._apply(rec, update)
        return True

    def _cancel(self, rec: TrackedOrder, reason: CancelReason) -> None:
        if rec.state not in CANCELLABLE:
            return
        coid = rec.ticket.client_order_id
        self._set_state(rec, OrderState.PENDING_CANCEL, reason.value)
        rec.cancel_reason = reason
        rec.replace_price = None
        rec.ticket.messages += 1
        self._event(rec, OrderEventKind.CANCEL_SENT, detail=reason.value)
        try:
            update = self._call(rec, "cancel", lambda: self._transport.cancel_order(coid))
        except TooLateToCancel:
            self._event(rec, OrderEventKind.BROKER_ERROR, detail="too late to cancel")
            return
        except BrokerRejected as exc:
            rec.cancel_refusals += 1
            if rec.cancel_refusals > self._max_retries:
                self._fail(rec, f"cancel refused {rec.cancel_refusals} times: {exc.reason}")
                return
            rec.cancel_reason = None  # the TTL timer will ask again next cycle
            self._set_state(rec, rec.working_state(), f"cancel refused: {exc.reason}")
            return
        except BrokerError as exc:
            self._fail(rec, f"cancel: {exc}")
            return
        self._apply(rec, update)

    def _call(self, rec: TrackedOrder, what: str, fn: Callable[[], T]) -> T:
        """Run a broker command (paced), retrying transient errors with backoff."""
        for attempt in range(self._max_retries + 1):
            try:
                if self._pacer is not None:
                    self._pacer.acquire()
                return fn()
            except BrokerTransientError as exc:
                self._event(
                    rec, OrderEventKind.BROKER_ERROR, detail=f"{what} try {attempt + 1}: {exc}"
                )
                if attempt >= self._max_retries:
                    raise
                self._clock.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, rec: TrackedOrder, update: OrderUpdate) -> bool:
        """Fold one broker update into the ticket. True if anything changed."""
        ticket = rec.ticket
        vetted = self._vet(rec, update)
        if vetted is None:
            return False  # refused; the next poll brings the truth
        update = vetted
        fill = self._take_fill(rec, update)
        target = rec.implied_state(update)
        changed = fill is not None
        if target is not rec.state:
            if target in TERMINAL and update.reason:
                ticket.reject_reason = update.reason
            self._set_state(rec, target, update.reason or update.status.value)
            changed = True
        if fill is not None and self._on_fill is not None:
            self._on_fill(ticket, fill)
        if rec.state in TERMINAL:
            self._finalize(rec)
        return changed

    def _vet(self, rec: TrackedOrder, update: OrderUpdate) -> OrderUpdate | None:
        """The update to fold (an overfill capped at the order quantity) or None
        when it is refused; a broken invariant is recorded once per distinct
        report as a :class:`BrokerProtocolError` and a ``protocol_error`` event."""
        vetted, error = vet_update(rec.ticket, update)
        if error is not None and error.detail != rec.protocol_note:
            rec.protocol_note = error.detail
            self.protocol_errors.append(error)
            self._event(
                rec,
                OrderEventKind.PROTOCOL_ERROR,
                quantity=update.filled_quantity,
                price=update.avg_fill_price,
                detail=f"{error.rule}: {error.detail}",
            )
            if error.rule == OVERFILL:
                _log.error("broker overfill: %s", error)
        return vetted

    def _take_fill(self, rec: TrackedOrder, update: OrderUpdate) -> Fill | None:
        exec_id = self._id_factory(rec.client_order_id, update.filled_quantity)
        if exec_id in self._exec_ids:
            return None
        fill = rec.take_fill(update, exec_id, self._clock.now())
        if fill is not None:
            self._exec_ids.add(exec_id)
            self._event(
                rec, OrderEventKind.FILL, price=fill.price, quantity=fill.quantity, detail=exec_id
            )
        return fill

    def _cleanup_orphans(self) -> None:
        """One cancel per FAILED order (no retries: next cycle tries again)."""
        for coid in list(self._orphans):
            rec = self._records[coid]
            self._orphans[coid] += 1
            try:
                try:
                    if self._pacer is not None:
                        self._pacer.acquire()
                    update = self._transport.cancel_order(coid)
                    rec.ticket.messages += 1
                except TooLateToCancel:
                    update = self._transport.get_order_status(coid)
            except UnknownOrder:
                del self._orphans[coid]
                self._event(
                    rec, OrderEventKind.CLEANUP, detail="not at the broker: nothing to cancel"
                )
                continue
            except BrokerError as exc:
                self._event(rec, OrderEventKind.CLEANUP, detail=f"cleanup cancel failed: {exc}")
                continue
            vetted = self._vet(rec, update)
            fill = self._take_fill(rec, vetted) if vetted is not None else None
            if fill is not None and self._on_fill is not None:
                self._on_fill(rec.ticket, fill)
            if update.is_terminal:
                del self._orphans[coid]
            self._event(rec, OrderEventKind.CLEANUP, detail=f"broker says {update.status.value}")

    def _check_price(self, plan: OrderPlan, price: float | None, coid: str) -> None:
        if price is None or not math.isfinite(price) or price <= 0:
            raise RiskBlocked("collar", f"{coid}: invalid limit price {price!r}")
        if not plan.in_collar(price):
            raise RiskBlocked(
                "collar",
                f"{coid}: limit {price} outside collar [{plan.collar_low}, {plan.collar_high}]",
            )

    def _fail(self, rec: TrackedOrder, detail: str) -> None:
        if rec.state in TERMINAL:
            return
        rec.ticket.reject_reason = detail
        self._set_state(rec, OrderState.FAILED, detail)
        self._orphans[rec.ticket.client_order_id] = 0
        self._finalize(rec)

    def _set_state(self, rec: TrackedOrder, target: OrderState, detail: str = "") -> None:
        previous = rec.state
        rec.state = transition(rec.ticket.client_order_id, previous, target)
        rec.ticket.state = target
        rec.ticket.last_update = self._clock.now()
        self._event(rec, OrderEventKind.STATE_CHANGED, previous=previous, detail=detail)

    def _finalize(self, rec: TrackedOrder) -> None:
        if self._live.pop(rec.ticket.client_order_id, None) is not None and self._on_complete:
            self._on_complete(rec.ticket)

    def _event(
        self,
        rec: TrackedOrder | None,
        kind: OrderEventKind,
        *,
        previous: OrderState | None = None,
        price: float | None = None,
        quantity: int | None = None,
        detail: str = "",
    ) -> None:
        event = OrderEvent(
            ts=self._clock.now(),
            client_order_id=rec.ticket.client_order_id if rec is not None else "*",
            kind=kind,
            state=rec.state if rec is not None else None,
            previous=previous,
            price=price,
            quantity=quantity,
            detail=detail,
        )
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)
