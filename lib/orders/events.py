"""What happened to an order, as frozen records with clock-supplied timestamps.

The OrderManager appends one :class:`OrderEvent` per command it sends, per
state change, per fill and per broker error it absorbs, so the ledger can store
exactly what happened (and the tests can assert on it). Commands (what we sent)
and events (what we observed) share one record type, told apart by ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lib.orders.states import OrderState

__all__ = ["OrderEvent", "OrderEventKind"]


class OrderEventKind(StrEnum):
    # commands sent to the broker (each counts as one message on the ticket)
    SUBMIT_SENT = "submit_sent"
    MODIFY_SENT = "modify_sent"
    CANCEL_SENT = "cancel_sent"
    # observations
    STATE_CHANGED = "state_changed"
    FILL = "fill"
    BROKER_ERROR = "broker_error"  # an error absorbed (retried, refused replace, ...)
    PROTOCOL_ERROR = "protocol_error"  # a broker report breaking an invariant (overfill, ...)
    CLEANUP = "cleanup"  # best-effort cancel of a FAILED order at the broker
    RISK_BLOCKED = "risk_blocked"  # a replace the pre-send gate refused (nothing sent)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One entry of an order's history.

    ts: the manager's clock (tz-aware UTC). state: the ticket's state after
    the event (None for manager-wide events, client_order_id "*");
    previous: before it (STATE_CHANGED only). price per unit and
    quantity in shares/contracts where they apply.
    """

    ts: datetime
    client_order_id: str
    kind: OrderEventKind
    state: OrderState | None
    previous: OrderState | None = None
    price: float | None = None
    quantity: int | None = None
    detail: str = ""
