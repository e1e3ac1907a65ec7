"""The IB status table and the IB error-code map (pure, no socket)."""

from __future__ import annotations

import pytest

from lib.brokers.base import BrokerOrderStatus as S
from lib.brokers.ibkr_codes import (
    IB_ERROR_CODES,
    IB_STATUS_MAP,
    ErrorKind,
    classify_error,
    error_to_exception,
    map_status,
)
from lib.errors import BrokerDisconnected, BrokerRejected, BrokerTransientError, UnknownOrder

# Every order status ib_async 2.1.0 defines (OrderStatus class attributes).
IB_STATUSES = {
    "PendingSubmit": S.PENDING_SUBMIT,
    "ApiPending": S.PENDING_SUBMIT,
    "PreSubmitted": S.SUBMITTED,
    "Submitted": S.SUBMITTED,
    "ValidationError": S.SUBMITTED,
    "ApiUpdate": S.SUBMITTED,
    "ApiCancelled": S.CANCELLED,
    "PendingCancel": S.PENDING_CANCEL,
    "Cancelled": S.CANCELLED,
    "Inactive": S.INACTIVE,
    "Filled": S.FILLED,
}


def test_table_covers_every_ib_async_status() -> None:
    from ib_async import OrderStatus

    names = {v for k, v in vars(OrderStatus).items() if isinstance(v, str) and k[0].isupper() and k == v}
    assert names <= set(IB_STATUS_MAP), names - set(IB_STATUS_MAP)
    assert set(IB_STATUS_MAP) == set(IB_STATUSES)


@pytest.mark.parametrize(("ib", "ours"), sorted(IB_STATUSES.items()))
def test_every_status_maps(ib: str, ours: S) -> None:
    assert map_status(ib, 0, 100) is ours


def test_fills_make_a_working_order_partial() -> None:
    assert map_status("Submitted", 40, 100) is S.PARTIALLY_FILLED
    assert map_status("PreSubmitted", 1, 100) is S.PARTIALLY_FILLED
    assert map_status("Filled", 100, 100) is S.FILLED
    assert map_status("Filled", 60, 100) is S.FILLED  # IB's Filled is final
    assert map_status("Cancelled", 60, 100) is S.CANCELLED  # filled part is kept by the caller


def test_unknown_status_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="IB_STATUS_MAP"):
        map_status("Held", 0, 1)


EXPECTED_KINDS = {
    201: ErrorKind.REJECT, 202: ErrorKind.REJECT, 110: ErrorKind.REJECT, 113: ErrorKind.REJECT,
    103: ErrorKind.DUPLICATE_ID, 100: ErrorKind.PACING,
    354: ErrorKind.NO_MARKET_DATA, 10167: ErrorKind.NO_MARKET_DATA,
    1100: ErrorKind.CONNECTIVITY_LOST, 2110: ErrorKind.CONNECTIVITY_LOST,
    1101: ErrorKind.CONNECTIVITY_RESTORED, 1102: ErrorKind.CONNECTIVITY_RESTORED,
    326: ErrorKind.CLIENT_ID_IN_USE,
    2103: ErrorKind.INFO, 2104: ErrorKind.INFO, 2106: ErrorKind.INFO, 2158: ErrorKind.INFO,
    10349: ErrorKind.PROVISIONAL, 10147: ErrorKind.MODIFY_FAILED,
}  # fmt: skip


@pytest.mark.parametrize(("code", "kind"), sorted(EXPECTED_KINDS.items()))
def test_brief_codes_classified(code: int, kind: ErrorKind) -> None:
    assert classify_error(code, order_related=True) is kind
    assert IB_ERROR_CODES[code] is kind


@pytest.mark.parametrize("code", sorted(IB_ERROR_CODES))
def test_every_mapped_code_gives_the_right_exception(code: int) -> None:
    exc = error_to_exception(code, "msg", "rb:SPY:s0:a0")
    kind = IB_ERROR_CODES[code]
    if kind in (ErrorKind.REJECT, ErrorKind.DUPLICATE_ID, ErrorKind.NO_MARKET_DATA):
        assert isinstance(exc, BrokerRejected) and f"IB {code}" in exc.reason
    elif kind is ErrorKind.PACING:
        assert isinstance(exc, BrokerTransientError) and not isinstance(exc, BrokerDisconnected)
    elif kind in (ErrorKind.CONNECTIVITY_LOST, ErrorKind.CLIENT_ID_IN_USE):
        assert isinstance(exc, BrokerDisconnected)
    elif kind is ErrorKind.UNKNOWN_ORDER:
        assert isinstance(exc, UnknownOrder)
    else:  # restored, info, provisional, modify failures, cancel rejects: nothing to raise
        assert exc is None


def test_data_farm_notices_are_never_disconnects() -> None:
    for code in (2103, 2104, 2105, 2106, 2107, 2108, 2119, 2158, 2199):
        assert classify_error(code, order_related=False) is ErrorKind.INFO
        assert error_to_exception(code, "farm") is None


def test_unlisted_codes_reject_orders_but_are_info_otherwise() -> None:
    assert classify_error(463, order_related=True) is ErrorKind.REJECT
    assert classify_error(463, order_related=False) is ErrorKind.INFO
