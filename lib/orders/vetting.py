"""Vet one broker update against the order's invariants before it is folded.

A broker (or a buggy adapter) can report a cumulative filled quantity above
the order quantity, a filled quantity that goes back, or a fill price that is
NaN, infinite or not positive. None of those may become a
:class:`lib.types.Fill` beyond the order quantity: :func:`vet_update` returns
the update to fold (possibly capped) and the
:class:`lib.errors.BrokerProtocolError` that describes what was wrong.

Rules (quantities in shares/contracts, prices per unit):

- filled went back (``cum < ticket.filled_quantity``): update refused, the next
  poll brings the truth.
- non-finite or non-positive ``avg_fill_price`` while filled grows, or a
  non-finite / non-positive price of the increment: update refused (no fill,
  no state change) until a sane price arrives.
- overfill (``cum > ticket.quantity``): the update is capped at the order
  quantity (the part we ordered is booked at the broker's VWAP, the excess is
  never booked) and the error is reported so the overfill is alerted.
"""

from __future__ import annotations

import dataclasses
import math

from lib.brokers.base import OrderUpdate
from lib.errors import BrokerProtocolError
from lib.types import OrderTicket

__all__ = ["OVERFILL", "PRICE", "WENT_BACK", "vet_update"]

OVERFILL = "overfill"
WENT_BACK = "filled_went_back"
PRICE = "fill_price"


def _sane(price: float) -> bool:
    return math.isfinite(price) and price > 0


def vet_update(
    ticket: OrderTicket, update: OrderUpdate
) -> tuple[OrderUpdate | None, BrokerProtocolError | None]:
    """(update to fold or None when refused, the protocol error or None)."""
    coid = ticket.client_order_id
    cum, prev = update.filled_quantity, ticket.filled_quantity
    if cum < prev:
        return None, BrokerProtocolError(coid, WENT_BACK, f"filled went back {prev}->{cum}")
    if cum == prev:
        return update, None
    avg = update.avg_fill_price
    if not _sane(avg):
        return None, BrokerProtocolError(
            coid, PRICE, f"avg fill price {avg!r} at filled {cum}; update ignored"
        )
    error: BrokerProtocolError | None = None
    if cum > ticket.quantity:
        error = BrokerProtocolError(
            coid,
            OVERFILL,
            f"filled {cum} of {ticket.quantity}: {cum - ticket.quantity} over the order "
            f"quantity never booked",
        )
        cum = ticket.quantity
        update = dataclasses.replace(update, filled_quantity=cum)
        if cum <= prev:
            return update, error
    increment = (avg * cum - ticket.avg_fill_price * prev) / (cum - prev)
    if not _sane(increment):
        return None, BrokerProtocolError(
            coid, PRICE, f"fill price {increment!r} implied by avg {avg!r} at filled {cum}; "
            "update ignored"
        )
    return update, error
