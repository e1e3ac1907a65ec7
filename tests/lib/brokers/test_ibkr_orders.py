"""The transport's order book: wire statuses, rejects, provisional cancels, modifies."""

from __future__ import annotations

from datetime import UTC, datetime

from lib.brokers.base import BrokerOrderStatus as S
from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_codes import ErrorKind
from lib.brokers.ibkr_orders import OrderBook
from lib.types import OrderType, Side

T = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
REQ = OrderRequest("rb:SPY:s0:a0", "SPY", Side.BUY, 100, OrderType.LMT, 590.0)


def new() -> tuple[OrderBook, object]:
    book = OrderBook()
    return book, book.add(REQ, 11, T)


def test_lookups_by_ref_perm_and_order_id() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 9001, T)  # type: ignore[arg-type]
    assert book.find(order_ref="rb:SPY:s0:a0") is o
    assert book.find(perm_id=9001) is o
    assert book.find(order_id=11) is o
    assert book.find(order_ref="nope") is None


def test_wire_statuses_and_fills_never_go_backwards() -> None:
    book, o = new()
    assert book.update(o, T).status is S.PENDING_SUBMIT  # type: ignore[arg-type]
    book.on_status(o, "Submitted", 40, 590.0, 1, T)  # type: ignore[arg-type]
    assert book.update(o, T).status is S.PARTIALLY_FILLED  # type: ignore[arg-type]
    book.on_status(o, "Submitted", 10, 590.0, 1, T)  # type: ignore[arg-type]  # stale
    assert book.update(o, T).filled_quantity == 40  # type: ignore[arg-type]
    book.on_status(o, "Filled", 100, 590.01, 1, T)  # type: ignore[arg-type]
    book.on_status(o, "Submitted", 100, 590.01, 1, T)  # type: ignore[arg-type]  # late duplicate
    u = book.update(o, T)  # type: ignore[arg-type]
    assert (u.status, u.filled_quantity, u.avg_fill_price) == (S.FILLED, 100, 590.01)


def test_error_before_ack_is_a_reject() -> None:
    book, o = new()
    kind = book.on_error(o, 201, "Order rejected - reason: margin", T)  # type: ignore[arg-type]
    assert kind is ErrorKind.REJECT
    u = book.update(o, T)  # type: ignore[arg-type]
    assert u.status is S.REJECTED and u.reason and "IB 201" in u.reason


def test_error_after_ack_is_only_a_provisional_cancel() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 5, T)  # type: ignore[arg-type]
    book.on_error(o, 10349, "Order TIF was set to DAY", T)  # type: ignore[arg-type]
    book.on_error(o, 202, "Order cancelled - reason: ...", T)  # type: ignore[arg-type]
    assert book.update(o, T).status is S.SUBMITTED  # type: ignore[arg-type]
    assert book.needs_confirmation() == [o]
    book.confirm_alive(o)  # type: ignore[arg-type]
    assert book.needs_confirmation() == []
    book.on_status(o, "Filled", 100, 590.0, 5, T)  # type: ignore[arg-type]  # it fills anyway
    assert book.update(o, T).status is S.FILLED  # type: ignore[arg-type]


def test_provisional_cancel_confirmed_by_absence_after_the_checks() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 5, T)  # type: ignore[arg-type]
    book.on_error(o, 202, "Order cancelled", T)  # type: ignore[arg-type]
    book.confirm_missing(o, T, max_checks=2)  # type: ignore[arg-type]
    assert book.update(o, T).status is S.SUBMITTED  # type: ignore[arg-type]
    book.confirm_missing(o, T, max_checks=2)  # type: ignore[arg-type]
    assert book.update(o, T).status is S.CANCELLED  # type: ignore[arg-type]


def test_failed_modify_restores_price_and_size() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 5, T)  # type: ignore[arg-type]
    book.modify_sent(o, 590.5, 120)  # type: ignore[arg-type]
    assert (book.update(o, T).limit_price, book.update(o, T).quantity) == (590.5, 120)  # type: ignore[arg-type]
    book.on_error(o, 110, "price does not conform to the minimum price variation", T)  # type: ignore[arg-type]
    u = book.update(o, T)  # type: ignore[arg-type]
    assert (u.limit_price, u.quantity, u.status) == (590.0, 100, S.SUBMITTED)


def test_modify_acknowledged_by_open_order() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 5, T)  # type: ignore[arg-type]
    book.modify_sent(o, 590.5, 100)  # type: ignore[arg-type]
    book.on_open_order(o, "", 590.5, 100, 5, T)  # type: ignore[arg-type]
    book.on_error(o, 110, "late warning", T)  # type: ignore[arg-type]
    assert book.update(o, T).limit_price == 590.5  # type: ignore[arg-type]


def test_adopt_from_an_earlier_run() -> None:
    book = OrderBook()
    o = book.adopt(REQ, 44, 7777, T)
    book.on_status(o, "PreSubmitted", 0, 0.0, 7777, T, from_reconcile=True)
    assert book.find(perm_id=7777) is o and book.live() == [o]


def test_a_refused_cancel_leaves_the_order_working() -> None:
    book, o = new()
    book.on_status(o, "Submitted", 0, 0.0, 5, T)  # type: ignore[arg-type]
    book.cancel_sent(o)  # type: ignore[arg-type]
    assert book.update(o, T).status is S.PENDING_CANCEL  # type: ignore[arg-type]
    assert book.on_error(o, 10148, "OrderId 11 that needs to be cancelled cannot be cancelled", T) is ErrorKind.CANCEL_REJECTED  # type: ignore[arg-type]
    u = book.update(o, T)  # type: ignore[arg-type]
    assert u.status is S.SUBMITTED and u.reason and "10148" in u.reason
