"""One supervised order's bookkeeping: fills from cumulative deltas, replace
acknowledgement, the state the broker's update implies, and the two timers.

:class:`TrackedOrder` holds what the OrderManager knows beside the public
:class:`lib.types.OrderTicket`. It never talks to a broker and never changes
``state`` itself: the manager applies every change through the transition table.
Times are epoch seconds (floats) so a poll over 1,000 orders stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib.brokers.base import BrokerOrderStatus, OrderUpdate
from lib.orders.states import CANCELLABLE, REPLACEABLE, CancelReason, OrderState, state_from_broker
from lib.types import Fill, OrderTicket

__all__ = ["TrackedOrder"]

_EPS = 1e-6  # seconds / price tolerance


@dataclass(slots=True)
class TrackedOrder:
    """Manager-private state of one order.

    first_ts / last_submit_ts: epoch seconds of the first submission and of the
    last (re)submission (submit or modify). attempt: ladder rungs consumed (a
    rung equal to the working price is consumed without a message).
    replace_price: the limit of an unacknowledged modify. misses: consecutive
    polls the broker omitted this id. protocol_note: detail of the last
    broker protocol error recorded for it (so a repeated report alerts once).
    """

    ticket: OrderTicket
    state: OrderState
    first_ts: float
    last_submit_ts: float
    reprices: bool
    attempt: int = 0
    cancel_reason: CancelReason | None = None
    cancel_refusals: int = 0
    replace_price: float | None = None
    last_status: BrokerOrderStatus | None = None
    misses: int = 0
    protocol_note: str | None = None  # the last broken invariant recorded (once each)

    @property
    def client_order_id(self) -> str:
        return self.ticket.client_order_id

    def is_news(self, update: OrderUpdate) -> bool:
        """False when the update cannot change anything (the steady state)."""
        return (
            update.status is not self.last_status
            or update.filled_quantity != self.ticket.filled_quantity
            or self.replace_price is not None
        )

    def take_fill(self, update: OrderUpdate, exec_id: str, now: datetime) -> Fill | None:
        """Record the fill that brought the cumulative filled quantity to
        ``update.filled_quantity`` (None when it did not grow). Its price is the
        exact increment of the broker's cumulative VWAP."""
        ticket = self.ticket
        cum, prev = update.filled_quantity, ticket.filled_quantity
        if cum <= prev:
            return None
        price = (update.avg_fill_price * cum - ticket.avg_fill_price * prev) / (cum - prev)
        fill = Fill(
            exec_id=exec_id,
            client_order_id=ticket.client_order_id,
            symbol=ticket.symbol,
            side=ticket.side,
            quantity=cum - prev,
            price=round(price, 10),
            ts=update.ts,
        )
        ticket.fills.append(fill)
        ticket.filled_quantity = cum
        ticket.avg_fill_price = update.avg_fill_price
        ticket.last_update = now
        return fill

    def implied_state(self, update: OrderUpdate) -> OrderState:
        """Note the broker's id, status and any replace ack; return the state
        the update implies (``self.state`` or a change the table allows)."""
        if update.broker_order_id:
            self.ticket.broker_order_id = update.broker_order_id
        if (
            self.replace_price is not None
            and update.limit_price is not None
            and abs(update.limit_price - self.replace_price) < _EPS
        ):
            self.ticket.limit_price = self.replace_price  # replace acknowledged
            self.replace_price = None
        self.last_status = update.status
        return state_from_broker(
            update.status,
            self.state,
            filled_quantity=self.ticket.filled_quantity,
            quantity=self.ticket.quantity,
            cancel_reason=self.cancel_reason,
            replace_pending=self.replace_price is not None,
        )

    def working_state(self) -> OrderState:
        """Where a refused replace or cancel leaves the order."""
        if self.ticket.filled_quantity > 0:
            return OrderState.PARTIALLY_FILLED
        return OrderState.SUBMITTED

    def ttl_due(self, now_ts: float) -> bool:
        return (
            self.cancel_reason is None
            and self.state in CANCELLABLE
            and now_ts - self.first_ts >= self.ticket.plan.ttl_seconds - _EPS
        )

    def replace_due(self, now_ts: float) -> bool:
        plan = self.ticket.plan
        return (
            self.reprices
            and self.state in REPLACEABLE
            and self.attempt < plan.max_replace_attempts
            and now_ts - self.last_submit_ts >= plan.replace_interval_seconds - _EPS
        )
