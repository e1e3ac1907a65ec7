"""Order states, the one transition table, and broker-status mapping.

Every state change of an :class:`lib.types.OrderTicket` is looked up in
:data:`TRANSITIONS`; a change the table does not list raises
:class:`lib.errors.InvalidStateTransition`. The table lists *changes* only: a
poll that leaves an order in the state it was in is not a transition (the
OrderManager never asks for ``a -> a``), so the diagonal is empty.

No state beyond the ten below is needed. In particular there is no
``PENDING_EXPIRE``: a TTL expiry is an ordinary cancel whose *reason* is
remembered by the manager (:class:`CancelReason`); the broker answers
"Cancelled" and :func:`state_from_broker` turns that into ``EXPIRED``. Keeping
the reason as context rather than as a state keeps the table small and the same
for every cancel path.
"""

from __future__ import annotations

from enum import StrEnum

from lib.brokers.base import BrokerOrderStatus
from lib.errors import InvalidStateTransition

__all__ = [
    "CANCELLABLE",
    "LIVE",
    "REPLACEABLE",
    "TERMINAL",
    "TRANSITIONS",
    "CancelReason",
    "OrderState",
    "can_transition",
    "state_from_broker",
    "transition",
]


class OrderState(StrEnum):
    """Where one order is in its life. A StrEnum, so it *is* the ``str`` that
    :attr:`lib.types.OrderTicket.state` holds."""

    PENDING_SUBMIT = "PENDING_SUBMIT"  # sent (or being sent), no ack yet
    SUBMITTED = "SUBMITTED"  # acknowledged and working, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"  # working, some quantity filled
    PENDING_REPLACE = "PENDING_REPLACE"  # modify sent, new price not yet acknowledged
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel sent, not yet confirmed
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"  # cancelled by us (not for TTL) or by the broker
    EXPIRED = "EXPIRED"  # cancelled by us because its TTL ran out
    REJECTED = "REJECTED"  # the broker refused it
    FAILED = "FAILED"  # we lost track (transient errors exhausted); see OrderManager


class CancelReason(StrEnum):
    """Why we asked the broker to cancel; decides CANCELLED vs EXPIRED."""

    USER = "user"  # explicit cancel / cancel_all / shutdown
    EXPIRE = "expire"  # order_ttl_seconds ran out


_S = OrderState

# fmt: off
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    _S.PENDING_SUBMIT: frozenset({
        _S.SUBMITTED,
        _S.PARTIALLY_FILLED,  # a marketable order can fill before we ever see the ack
        _S.FILLED,            # ditto, completely
        _S.PENDING_CANCEL,    # cancel_all / TTL before the ack arrived
        _S.CANCELLED,         # the broker dropped it before acking (e.g. unroutable)
        _S.REJECTED,
        _S.FAILED,            # submit retries exhausted: it may or may not exist at the broker
    }),
    _S.SUBMITTED: frozenset({
        _S.PARTIALLY_FILLED,
        _S.FILLED,
        _S.PENDING_REPLACE,
        _S.PENDING_CANCEL,
        _S.CANCELLED,         # unsolicited: exchange/broker cancel (LOC not crossed, DAY end)
        _S.REJECTED,          # late reject after the ack (IB "Inactive")
        _S.FAILED,            # status polls or a command exhausted their retries
    }),
    _S.PARTIALLY_FILLED: frozenset({
        _S.FILLED,
        _S.PENDING_REPLACE,
        _S.PENDING_CANCEL,
        _S.CANCELLED,         # unsolicited cancel; also a reject of a part-filled order (fills kept)
        _S.FAILED,
    }),
    _S.PENDING_REPLACE: frozenset({
        _S.SUBMITTED,         # replace acknowledged, or refused (order works on at the old price)
        _S.PARTIALLY_FILLED,  # ditto, with some quantity filled
        _S.FILLED,            # filled before the replace took effect
        _S.PENDING_CANCEL,    # TTL / cancel_all while the replace is still pending
        _S.CANCELLED,
        _S.REJECTED,          # the replace made the broker kill the whole order (IB "Inactive")
        _S.FAILED,
    }),
    _S.PENDING_CANCEL: frozenset({
        _S.SUBMITTED,         # cancel refused, order still working (not "too late": that fills)
        _S.PARTIALLY_FILLED,  # ditto, with fills
        _S.FILLED,            # too late to cancel: it filled first
        _S.CANCELLED,
        _S.EXPIRED,           # the only way into EXPIRED: our TTL cancel, confirmed
        _S.FAILED,
    }),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.FAILED: frozenset(),   # terminal for the ticket; the manager still cleans up at the broker
}
# fmt: on

#: States with no exit. on_complete fires when a ticket enters one of these.
TERMINAL: frozenset[OrderState] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Not terminal: the manager polls these.
LIVE: frozenset[OrderState] = frozenset(OrderState) - TERMINAL
#: We may send a cancel (-> PENDING_CANCEL). PENDING_CANCEL itself is excluded: one cancel suffices.
CANCELLABLE: frozenset[OrderState] = frozenset(
    s for s in LIVE if _S.PENDING_CANCEL in TRANSITIONS[s]
)
#: We may send a modify (-> PENDING_REPLACE): acknowledged and no request outstanding.
REPLACEABLE: frozenset[OrderState] = frozenset(
    s for s in LIVE if _S.PENDING_REPLACE in TRANSITIONS[s]
)


def can_transition(current: OrderState, target: OrderState) -> bool:
    """True if the table allows ``current -> target``."""
    return target in TRANSITIONS[current]


def transition(order_id: str, current: OrderState, target: OrderState) -> OrderState:
    """Return ``target`` if the table allows the change, else raise
    :class:`InvalidStateTransition` naming the order."""
    if target not in TRANSITIONS[current]:
        raise InvalidStateTransition(order_id, current, target)
    return target


_WORKING_STATUSES = frozenset(
    {
        BrokerOrderStatus.PENDING_SUBMIT,
        BrokerOrderStatus.SUBMITTED,
        BrokerOrderStatus.PARTIALLY_FILLED,
    }
)


def _cancelled(current: OrderState, cancel_reason: CancelReason | None) -> OrderState:
    if current is _S.PENDING_CANCEL and cancel_reason is CancelReason.EXPIRE:
        return _S.EXPIRED
    return _S.CANCELLED


def state_from_broker(
    status: BrokerOrderStatus,
    current: OrderState,
    *,
    filled_quantity: int,
    quantity: int,
    cancel_reason: CancelReason | None = None,
    replace_pending: bool = False,
) -> OrderState:
    """The state an order should be in given the broker's ``status``.

    Context decides what the broker's vocabulary cannot say: a cancel we sent
    for TTL (``cancel_reason=EXPIRE``) confirmed as "Cancelled" is EXPIRED; a
    working status while our cancel is outstanding stays PENDING_CANCEL; while a
    replace is unacknowledged (``replace_pending``) it stays PENDING_REPLACE; a
    reject or "Inactive" of an order that already has fills is CANCELLED (the
    fills stand). Quantities are shares/contracts, ``filled_quantity``
    cumulative. The result is ``current`` or a state the table allows from
    ``current`` (terminal states return themselves: late updates change nothing).
    """
    if current in TERMINAL:
        return current
    if status is BrokerOrderStatus.FILLED or (quantity > 0 and filled_quantity >= quantity):
        return _S.FILLED
    if status is BrokerOrderStatus.CANCELLED:
        return _cancelled(current, cancel_reason)
    if status in (BrokerOrderStatus.REJECTED, BrokerOrderStatus.INACTIVE):
        if current is _S.PENDING_CANCEL:
            return _cancelled(current, cancel_reason)  # we wanted it dead; it is
        if filled_quantity > 0 or current is _S.PARTIALLY_FILLED:
            return _S.CANCELLED
        return _S.REJECTED
    if status is BrokerOrderStatus.PENDING_CANCEL:
        return _S.PENDING_CANCEL
    if status not in _WORKING_STATUSES:  # pragma: no cover - enum is exhaustive above
        raise InvalidStateTransition("?", current, status)
    # A working status.
    if current is _S.PENDING_CANCEL:
        return current  # our cancel is not processed yet
    if replace_pending and current is not _S.PENDING_SUBMIT:
        return _S.PENDING_REPLACE
    if filled_quantity > 0 or current is _S.PARTIALLY_FILLED:
        return _S.PARTIALLY_FILLED
    if status is BrokerOrderStatus.PENDING_SUBMIT and current is _S.PENDING_SUBMIT:
        return current
    return _S.SUBMITTED
