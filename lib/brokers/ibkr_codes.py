"""IB's vocabulary mapped into the project's: order statuses and error codes.

ONE table per concept, nothing else decides:

* :data:`IB_STATUS_MAP`: every order status ib_async 2.1.0 can report ->
  :class:`BrokerOrderStatus` (with the filled quantity deciding Submitted vs
  PartiallyFilled, see :func:`map_status`).
* :data:`IB_ERROR_CODES`: every IB error code the transport acts on -> an
  :class:`ErrorKind`, and :func:`error_to_exception` builds the
  :mod:`lib.errors` exception for it at this edge.

ib_async marks a trade Cancelled on any error it does not class as a warning
(a failed modify, TIF notice 10349, 10147) while the order may still be live;
such error-driven cancels are *provisional* (:data:`PROVISIONAL_CANCEL_CODES`
never make an order terminal by themselves; only IB's own orderStatus /
openOrder / completedOrders "Cancelled" do).
"""

from __future__ import annotations

from enum import StrEnum

from lib.brokers.base import BrokerOrderStatus
from lib.errors import (
    BrokerDisconnected,
    BrokerError,
    BrokerRejected,
    BrokerTransientError,
    UnknownOrder,
)

__all__ = [
    "ErrorKind",
    "IB_ERROR_CODES",
    "IB_STATUS_MAP",
    "ORDER_REJECT_CODES",
    "classify_error",
    "error_to_exception",
    "map_status",
]

#: IB order status (ib_async ``OrderStatus``) -> ours. ``Submitted`` becomes
#: PartiallyFilled once something filled (see map_status). ``ValidationError``
#: is ib_async's state after a warning code on a live order (the order works on).
#: ``ApiCancelled`` is a cancel of a not-yet-transmitted order; ``Inactive``
#: is IB's rejected/held state (terminal in ib_async's DoneStates).
IB_STATUS_MAP: dict[str, BrokerOrderStatus] = {
    "PendingSubmit": BrokerOrderStatus.PENDING_SUBMIT,
    "ApiPending": BrokerOrderStatus.PENDING_SUBMIT,
    "PreSubmitted": BrokerOrderStatus.SUBMITTED,
    "Submitted": BrokerOrderStatus.SUBMITTED,
    "ValidationError": BrokerOrderStatus.SUBMITTED,
    "ApiUpdate": BrokerOrderStatus.SUBMITTED,  # an update of a working order is in progress
    "PendingCancel": BrokerOrderStatus.PENDING_CANCEL,
    "ApiCancelled": BrokerOrderStatus.CANCELLED,
    "Cancelled": BrokerOrderStatus.CANCELLED,
    "Filled": BrokerOrderStatus.FILLED,
    "Inactive": BrokerOrderStatus.INACTIVE,
}


def map_status(ib_status: str, filled: int, quantity: int) -> BrokerOrderStatus:
    """Our status for IB's ``ib_status`` with ``filled`` of ``quantity`` done.

    Unknown strings raise ValueError (a new IB status must be added to the table,
    never guessed). A working order with fills is PartiallyFilled; IB's
    ``Filled`` is final whatever the counts say (``quantity`` is for callers'
    symmetry and future rules).
    """
    try:
        status = IB_STATUS_MAP[ib_status]
    except KeyError:
        raise ValueError(f"IB order status {ib_status!r} is not in IB_STATUS_MAP") from None
    if status is BrokerOrderStatus.SUBMITTED and filled > 0:
        return BrokerOrderStatus.PARTIALLY_FILLED
    return status


class ErrorKind(StrEnum):
    """What an IB error code means for the transport."""

    REJECT = "reject"  # the order is refused: BrokerRejected
    DUPLICATE_ID = "duplicate_id"  # 103: our order id clashed (a reconnect race): reconcile
    PACING = "pacing"  # 100: too many messages: BrokerTransientError
    NO_MARKET_DATA = "no_market_data"  # 354 / 10167 / 10168: no subscription
    CONNECTIVITY_LOST = "connectivity_lost"  # 1100 / 2110 / 504 / 502: session uncertain
    CONNECTIVITY_RESTORED = "connectivity_restored"  # 1101 (data lost) / 1102 (kept): reconcile
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: retry the connect with backoff
    CANCEL_REJECTED = "cancel_rejected"  # 161 / 10148: cannot cancel (already done)
    UNKNOWN_ORDER = "unknown_order"  # 135: order id not known
    MODIFY_FAILED = "modify_failed"  # 105 / 329 / 10147: the order works on unchanged
    PROVISIONAL = "provisional"  # 10349 etc.: a notice, the order may live on
    INFO = "info"  # data farm notices and other informational messages


#: IB error code -> kind. Codes not listed are INFO when 2100-2199, else REJECT
#: for an order (IB's errors on an order id refuse it) and INFO otherwise.
IB_ERROR_CODES: dict[int, ErrorKind] = {
    # order rejects
    201: ErrorKind.REJECT,  # Order rejected - reason: (size, margin, ...)
    202: ErrorKind.REJECT,  # Order cancelled - reason: (price too far from market / precautionary)
    110: ErrorKind.REJECT,  # price does not conform to the minimum price variation (tick)
    113: ErrorKind.REJECT,  # MOC/LOC orders require TIF DAY (or after the cutoff)
    103: ErrorKind.DUPLICATE_ID,  # duplicate order id
    # pacing
    100: ErrorKind.PACING,  # max rate of messages per second exceeded
    # market data
    354: ErrorKind.NO_MARKET_DATA,  # requested market data is not subscribed
    10167: ErrorKind.NO_MARKET_DATA,  # displaying delayed market data (no live subscription)
    10168: ErrorKind.NO_MARKET_DATA,  # market data not subscribed, delayed disabled
    # connectivity
    1100: ErrorKind.CONNECTIVITY_LOST,  # connectivity between IB and TWS lost
    2110: ErrorKind.CONNECTIVITY_LOST,  # connectivity between TWS and server is broken
    502: ErrorKind.CONNECTIVITY_LOST,  # couldn't connect to TWS
    504: ErrorKind.CONNECTIVITY_LOST,  # not connected
    1101: ErrorKind.CONNECTIVITY_RESTORED,  # restored, data lost (resubscribe)
    1102: ErrorKind.CONNECTIVITY_RESTORED,  # restored, data maintained
    326: ErrorKind.CLIENT_ID_IN_USE,  # unable to connect: client id already in use
    # cancels / modifies
    161: ErrorKind.CANCEL_REJECTED,  # cancel attempted when order is not in a cancellable state
    10148: ErrorKind.CANCEL_REJECTED,  # order cannot be cancelled: state (filled / cancelled)
    135: ErrorKind.UNKNOWN_ORDER,  # can't find order with id
    105: ErrorKind.MODIFY_FAILED,  # order being modified does not match the original
    329: ErrorKind.MODIFY_FAILED,  # cannot change to the new order type
    10147: ErrorKind.MODIFY_FAILED,  # order id to cancel/modify not found (race); never a cancel
    10349: ErrorKind.PROVISIONAL,  # TIF set to DAY notice: the order lives on
    399: ErrorKind.PROVISIONAL,  # order message warning
    404: ErrorKind.PROVISIONAL,  # shares held for a locate
    # data farm notices: never a disconnect
    2103: ErrorKind.INFO,  # market data farm connection is broken (farm, not the session)
    2104: ErrorKind.INFO,  # market data farm connection is OK
    2105: ErrorKind.INFO,  # historical data farm connection is broken
    2106: ErrorKind.INFO,  # historical data farm connection is OK
    2107: ErrorKind.INFO,  # historical data farm inactive
    2108: ErrorKind.INFO,  # market data farm inactive
    2119: ErrorKind.INFO,  # market data farm is connecting
    2158: ErrorKind.INFO,  # sec-def data farm connection is OK
}

#: Codes that refuse an order outright.
ORDER_REJECT_CODES = frozenset(c for c, k in IB_ERROR_CODES.items() if k is ErrorKind.REJECT)


def classify_error(code: int, *, order_related: bool) -> ErrorKind:
    """The kind of IB error ``code``; ``order_related``: its reqId is one of our order ids."""
    kind = IB_ERROR_CODES.get(code)
    if kind is not None:
        return kind
    if 2100 <= code < 2200:
        return ErrorKind.INFO
    return ErrorKind.REJECT if order_related else ErrorKind.INFO


def error_to_exception(code: int, message: str, client_order_id: str = "") -> BrokerError | None:
    """The lib.errors exception for IB error ``code`` (None: nothing to raise).

    Rejects carry the code and IB's text (``"IB 202: Order cancelled - ..."``)."""
    kind = classify_error(code, order_related=bool(client_order_id))
    text = f"IB {code}: {message}"
    if kind in (ErrorKind.REJECT, ErrorKind.DUPLICATE_ID):
        return BrokerRejected(client_order_id or "?", text)
    if kind is ErrorKind.PACING:
        return BrokerTransientError(f"pacing violation ({text})")
    if kind is ErrorKind.NO_MARKET_DATA:
        return BrokerRejected(client_order_id or "market-data", f"no market data permission ({text})")
    if kind in (ErrorKind.CONNECTIVITY_LOST, ErrorKind.CLIENT_ID_IN_USE):
        return BrokerDisconnected(text)
    if kind is ErrorKind.UNKNOWN_ORDER:
        return UnknownOrder(client_order_id or "?")
    return None
