"""lib.orders.vetting: a broker report breaking an order invariant never
becomes a fill beyond the order quantity, and says which rule it broke."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.brokers.base import BrokerOrderStatus, OrderUpdate
from lib.brokers.fake import FakeBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import BrokerProtocolError
from lib.orders.events import OrderEventKind
from lib.orders.manager import OrderManager
from lib.orders.states import OrderState
from lib.orders.vetting import OVERFILL, PRICE, WENT_BACK, vet_update
from lib.types import OrderTicket
from tests.lib.orders.plans import make_plan

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _ticket(filled: int = 0, avg: float = 0.0, qty: int = 100) -> OrderTicket:
    return OrderTicket("O1", make_plan(quantity=qty), qty, 100.02, "submitted",
                       filled_quantity=filled, avg_fill_price=avg)


def _update(filled: int, avg: float, status: BrokerOrderStatus = BrokerOrderStatus.FILLED,
            qty: int = 100) -> OrderUpdate:
    return OrderUpdate("O1", "B1", status, qty, filled, avg, 100.02, T0)


def test_sane_update_passes_unchanged() -> None:
    up = _update(40, 100.01, BrokerOrderStatus.PARTIALLY_FILLED)
    assert vet_update(_ticket(), up) == (up, None)


def test_overfill_is_capped_at_the_order_quantity_and_reported() -> None:
    vetted, err = vet_update(_ticket(30, 100.0), _update(250, 100.02))
    assert vetted is not None and vetted.filled_quantity == 100
    assert vetted.avg_fill_price == 100.02
    assert isinstance(err, BrokerProtocolError) and err.rule == OVERFILL
    assert "250 of 100" in str(err)


def test_overfill_after_full_fill_books_nothing_more() -> None:
    vetted, err = vet_update(_ticket(100, 100.0), _update(120, 100.0))
    assert vetted is not None and vetted.filled_quantity == 100
    assert err is not None and err.rule == OVERFILL


def test_filled_going_back_is_refused() -> None:
    vetted, err = vet_update(_ticket(50, 100.0), _update(20, 100.0))
    assert vetted is None and err is not None and err.rule == WENT_BACK


@pytest.mark.parametrize("avg", [math.nan, math.inf, -1.0, 0.0])
def test_absurd_avg_price_is_refused(avg: float) -> None:
    vetted, err = vet_update(_ticket(), _update(10, avg, BrokerOrderStatus.PARTIALLY_FILLED))
    assert vetted is None and err is not None and err.rule == PRICE


def test_negative_increment_price_is_refused() -> None:
    # 50 @ 100 then cumulative 60 @ 10: the 10 new would have cost -440 each
    vetted, err = vet_update(_ticket(50, 100.0), _update(60, 10.0))
    assert vetted is None and err is not None and err.rule == PRICE


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(prev=st.integers(0, 100), cum=st.integers(0, 400),
       avg=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                     st.floats(90.0, 110.0)))
def test_vetted_update_never_exceeds_quantity_nor_prices_badly(
    prev: int, cum: int, avg: float
) -> None:
    ticket = _ticket(prev, 100.0 if prev else 0.0)
    vetted, err = vet_update(ticket, _update(cum, avg))
    if vetted is None:
        assert err is not None
        return
    assert prev <= vetted.filled_quantity <= ticket.quantity
    if vetted.filled_quantity > prev:
        d = vetted.filled_quantity - prev
        inc = (vetted.avg_fill_price * vetted.filled_quantity - ticket.avg_fill_price * prev) / d
        assert math.isfinite(inc) and inc > 0
    assert (err is None) == (cum <= 100 and (cum == prev or (math.isfinite(avg) and avg > 0)))


class DistortingBroker(FakeBroker):
    """A FakeBroker whose status answers pass through ``distort`` (a broker bug)."""

    distort: Callable[[OrderUpdate], OrderUpdate] = staticmethod(lambda u: u)

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        out = super().get_order_statuses(client_order_ids)
        return {k: self.distort(v) for k, v in out.items()}


def _manager(distort: Callable[[OrderUpdate], OrderUpdate]) -> tuple[
    OrderManager, VirtualClock, list[int]
]:
    clock = VirtualClock(T0)
    broker = DistortingBroker(clock)
    broker.distort = distort  # type: ignore[method-assign]
    fills: list[int] = []
    manager = OrderManager(broker, clock, ExecutionConfig(),
                           on_fill=lambda _t, f: fills.append(f.quantity))
    return manager, clock, fills


def test_manager_caps_an_overfill_records_it_once_and_completes() -> None:
    manager, clock, fills = _manager(
        lambda u: dataclasses.replace(u, status=BrokerOrderStatus.FILLED,
                                      filled_quantity=250, avg_fill_price=100.02))
    ticket = manager.submit(make_plan(quantity=100), "O1")
    for _ in range(3):
        clock.advance(1)
        manager.poll()
    assert ticket.state is OrderState.FILLED and ticket.filled_quantity == 100
    assert fills == [100] and [f.quantity for f in ticket.fills] == [100]
    assert [e.rule for e in manager.protocol_errors] == [OVERFILL]
    events = [e for e in manager.events if e.kind is OrderEventKind.PROTOCOL_ERROR]
    assert len(events) == 1 and events[0].quantity == 250 and "overfill" in events[0].detail


def test_manager_ignores_a_nan_price_until_a_sane_one_arrives() -> None:
    polls = {"n": 0}

    def distort(u: OrderUpdate) -> OrderUpdate:
        polls["n"] += 1
        price = math.nan if polls["n"] <= 3 else 100.01
        return dataclasses.replace(u, status=BrokerOrderStatus.PARTIALLY_FILLED,
                                   filled_quantity=10, avg_fill_price=price)

    manager, clock, fills = _manager(distort)
    ticket = manager.submit(make_plan(quantity=100), "O1")
    for _ in range(3):
        clock.advance(1)
        manager.poll()
    assert ticket.filled_quantity == 0 and fills == [] and ticket.state is OrderState.SUBMITTED
    assert [e.rule for e in manager.protocol_errors] == [PRICE]  # once, not per poll
    clock.advance(1)
    manager.poll()
    assert ticket.filled_quantity == 10 and fills == [10]
    assert ticket.fills[0].price == pytest.approx(100.01)
