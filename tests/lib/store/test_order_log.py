"""Write-ahead orders, their events, and fills (idempotent by exec_id)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lib.clock import VirtualClock
from lib.errors import LedgerConflict, LedgerError
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.states import OrderState
from lib.store import LedgerRepository
from lib.store.models import FillRow, Order, OrderEventRow
from lib.types import OrderTicket, Side
from tests.lib.store.helpers import REB, fill, intent, later, plan, write_order

COID = f"{REB}:i-SPY:0:0"


@pytest.fixture
def reb(repo: LedgerRepository) -> LedgerRepository:
    repo.create_or_get_rebalance(REB)
    return repo


def _count(repo: LedgerRepository, model: type) -> int:
    with repo._sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_write_ahead_order_then_events_then_fills(
    reb: LedgerRepository, clock: VirtualClock
) -> None:
    repo = reb
    t0 = clock.now()
    row, created = repo.record_order(
        COID,
        rebalance_id=REB,
        intent_id="i-SPY",
        symbol="SPY",
        side=Side.BUY,
        quantity=300,
        order_type="LMT",
        limit_price=450.05,
        mode="marketable_limit",
    )
    assert created
    assert (row.status, row.filled_quantity, row.avg_fill_price) == ("PENDING_SUBMIT", 0, None)
    # committed before any send: a fresh session sees it
    assert repo.get_order(COID) is not None

    repo.record_order_event(COID, None, OrderState.PENDING_SUBMIT, t0, kind="submit_sent")
    repo.update_order_status(
        COID, OrderState.PENDING_SUBMIT, broker_order_id="B-17", submitted_at=t0
    )
    repo.record_order_event(COID, "PENDING_SUBMIT", "SUBMITTED", later(t0, 0.4))
    assert repo.record_fill(fill("E1", COID, 100, 450.02, later(t0, 1), commission=0.5))
    repo.record_order_event(COID, "SUBMITTED", "PARTIALLY_FILLED", later(t0, 1))
    assert repo.record_fill(fill("E2", COID, 200, 450.05, later(t0, 3), commission=1.0))
    repo.record_order_event(COID, "PARTIALLY_FILLED", "FILLED", later(t0, 3), "done")

    order = repo.get_order(COID)
    assert order is not None
    assert (order.status, order.broker_order_id, order.submitted_at) == ("FILLED", "B-17", t0)
    assert order.filled_quantity == 300
    assert order.avg_fill_price == pytest.approx((100 * 450.02 + 200 * 450.05) / 300)
    assert order.commission == pytest.approx(1.5)
    assert order.updated_at == later(t0, 3)

    events = repo.order_events(COID)
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, "PENDING_SUBMIT"),
        ("PENDING_SUBMIT", "SUBMITTED"),
        ("SUBMITTED", "PARTIALLY_FILLED"),
        ("PARTIALLY_FILLED", "FILLED"),
    ]
    assert [e.ts for e in events] == [t0, later(t0, 0.4), later(t0, 1), later(t0, 3)]
    assert events[0].kind == "submit_sent" and events[-1].detail == "done"

    fills = repo.fills_for_rebalance(REB)
    assert [(f.exec_id, f.quantity, f.price, f.ts) for f in fills] == [
        ("E1", 100, 450.02, later(t0, 1)),
        ("E2", 200, 450.05, later(t0, 3)),
    ]
    assert fills[0].side is Side.BUY and fills[0].commission == 0.5
    assert repo.executed_quantity_by_intent(REB) == {"i-SPY": 300}
    assert repo.open_orders_for_rebalance(REB) == []


def test_rerun_gets_the_existing_order_back(reb: LedgerRepository, clock: VirtualClock) -> None:
    write_order(reb, COID)
    first = reb.get_order(COID)
    clock.advance(600)
    # same id, same order (limit price may differ: it is not part of the identity)
    row, created = reb.record_order(
        COID,
        rebalance_id=REB,
        intent_id="i-SPY",
        symbol="SPY",
        side=Side.BUY,
        quantity=300,
        order_type="LMT",
        limit_price=451.00,
    )
    assert created is False
    assert first is not None and (row.id, row.limit_price, row.created_at) == (
        first.id,
        450.05,
        first.created_at,
    )
    assert _count(reb, Order) == 1


def test_conflicting_client_order_id_is_a_clear_error(reb: LedgerRepository) -> None:
    write_order(reb, COID)
    with pytest.raises(LedgerConflict, match=r"orders.*quantity: stored 300 != new 250"):
        reb.record_order(
            COID,
            rebalance_id=REB,
            intent_id="i-SPY",
            symbol="SPY",
            side=Side.BUY,
            quantity=250,
            order_type="LMT",
            limit_price=450.0,
        )
    with pytest.raises(LedgerConflict, match="side: stored 'BUY' != new 'SELL'"):
        reb.record_order(
            COID,
            rebalance_id=REB,
            intent_id="i-SPY",
            symbol="SPY",
            side=Side.SELL,
            quantity=300,
            order_type="LMT",
            limit_price=450.0,
        )
    assert _count(reb, Order) == 1


def test_database_enforces_unique_client_order_id_and_exec_id(
    reb: LedgerRepository, clock: VirtualClock
) -> None:
    write_order(reb, COID)
    reb.record_fill(fill("E1", COID, 10, 450.0, clock.now()))
    base = reb.get_order(COID)
    assert base is not None
    with reb._sessions() as s, pytest.raises(IntegrityError):
        s.add(
            Order(**{c.key: getattr(base, c.key) for c in Order.__table__.columns if c.key != "id"})
        )
        s.commit()
    with reb._sessions() as s, pytest.raises(IntegrityError):
        s.add(
            FillRow(
                exec_id="E1",
                client_order_id=COID,
                rebalance_id=REB,
                symbol="SPY",
                side="BUY",
                quantity=5,
                price=1.0,
                commission=0.0,
                liquidity="",
                ts=clock.now(),
                recorded_at=clock.now(),
            )
        )
        s.commit()


def test_duplicate_fill_is_ignored(reb: LedgerRepository, clock: VirtualClock) -> None:
    write_order(reb, COID)
    f = fill("E1", COID, 100, 450.02, clock.now(), commission=0.5)
    assert reb.record_fill(f) is True
    assert reb.record_fill(f) is False  # redelivered by the broker / a rerun's reconciliation
    order = reb.get_order(COID)
    assert order is not None and (order.filled_quantity, order.commission) == (100, 0.5)
    assert _count(reb, FillRow) == 1


def test_same_exec_id_with_other_content_is_a_conflict(
    reb: LedgerRepository, clock: VirtualClock
) -> None:
    write_order(reb, COID)
    reb.record_fill(fill("E1", COID, 100, 450.02, clock.now()))
    with pytest.raises(LedgerConflict, match="quantity: stored 100 != new 90"):
        reb.record_fill(fill("E1", COID, 90, 450.02, clock.now()))


def test_fill_must_match_a_recorded_order(reb: LedgerRepository, clock: VirtualClock) -> None:
    with pytest.raises(LedgerError, match="record_order must come first"):
        reb.record_fill(fill("E9", "never-written", 1, 1.0, clock.now()))
    write_order(reb, COID)
    with pytest.raises(LedgerConflict, match="does not match order"):
        reb.record_fill(fill("E9", COID, 1, 1.0, clock.now(), side=Side.SELL))
    assert _count(reb, FillRow) == 0


def test_open_orders_and_executed_quantity_across_orders(
    reb: LedgerRepository, clock: VirtualClock
) -> None:
    t = clock.now()
    qqq = intent("i-QQQ", "QQQ", Side.SELL, 50)
    write_order(reb, "o1", limit=450.0)
    write_order(reb, "o2", limit=450.1)  # a second attempt for the same intent
    write_order(reb, "o3", it=qqq, limit=390.0)
    reb.record_fill(fill("A", "o1", 120, 450.0, t))
    reb.record_order_event("o1", "PENDING_SUBMIT", "EXPIRED", later(t, 120))
    reb.record_fill(fill("B", "o2", 80, 450.1, later(t, 130)))
    reb.record_order_event("o2", "PENDING_SUBMIT", "SUBMITTED", later(t, 130))
    assert [o.client_order_id for o in reb.open_orders_for_rebalance(REB)] == ["o2", "o3"]
    assert [o.client_order_id for o in reb.orders_for_rebalance(REB)] == ["o1", "o2", "o3"]
    assert reb.executed_quantity_by_intent(REB) == {"i-SPY": 200}
    # residual for a rerun: intent 300 - executed 200
    assert 300 - reb.executed_quantity_by_intent(REB)["i-SPY"] == 100


def test_record_ticket_and_manager_events(reb: LedgerRepository, clock: VirtualClock) -> None:
    it = intent()
    t0 = clock.now()
    ticket = OrderTicket(
        client_order_id=COID,
        plan=plan(it),
        quantity=300,
        limit_price=450.05,
        state=OrderState.PENDING_SUBMIT,
    )
    row, created = reb.record_ticket(REB, ticket, attempt=1)
    assert created and (row.mode, row.order_type, row.attempt) == ("marketable_limit", "LMT", 1)
    events = [
        OrderEvent(t0, COID, OrderEventKind.SUBMIT_SENT, OrderState.PENDING_SUBMIT),
        OrderEvent(
            later(t0, 1),
            COID,
            OrderEventKind.STATE_CHANGED,
            OrderState.SUBMITTED,
            previous=OrderState.PENDING_SUBMIT,
        ),
        OrderEvent(later(t0, 2), "*", OrderEventKind.BROKER_ERROR, None, detail="pacing"),
        OrderEvent(
            later(t0, 5), COID, OrderEventKind.FILL, OrderState.FILLED, price=450.04, quantity=300
        ),
    ]
    assert reb.record_order_events(events) == 3  # the manager-wide event has no order
    stored = reb.order_events(COID)
    assert [(e.kind, e.to_state, e.price, e.quantity) for e in stored] == [
        ("submit_sent", "PENDING_SUBMIT", None, None),
        ("state_changed", "SUBMITTED", None, None),
        ("fill", "FILLED", 450.04, 300),
    ]
    order = reb.get_order(COID)
    assert order is not None and order.status == "FILLED"


def test_crash_mid_event_batch_leaves_no_partial_rows(
    reb: LedgerRepository, clock: VirtualClock
) -> None:
    write_order(reb, COID)
    t0 = clock.now()
    batch = [
        OrderEvent(
            t0,
            COID,
            OrderEventKind.STATE_CHANGED,
            OrderState.SUBMITTED,
            previous=OrderState.PENDING_SUBMIT,
        ),
        OrderEvent(t0, "unknown-order", OrderEventKind.STATE_CHANGED, OrderState.SUBMITTED),
    ]
    with pytest.raises(LedgerError, match="unknown order 'unknown-order'"):
        reb.record_order_events(batch)
    assert reb.order_events(COID) == []
    order = reb.get_order(COID)
    assert order is not None and order.status == "PENDING_SUBMIT"  # status not half-updated
    assert _count(reb, OrderEventRow) == 0


def test_update_order_status_fields(reb: LedgerRepository, clock: VirtualClock) -> None:
    write_order(reb, COID)
    clock.advance(40)
    row = reb.update_order_status(COID, "PENDING_REPLACE", limit_price=450.15, replace_count=1)
    assert (row.status, row.limit_price, row.replace_count, row.updated_at) == (
        "PENDING_REPLACE",
        450.15,
        1,
        clock.now(),
    )
    row = reb.update_order_status(COID, "REJECTED", reject_reason="Inactive")
    assert (row.reject_reason, row.limit_price) == ("Inactive", 450.15)
    with pytest.raises(LedgerError, match="unknown order"):
        reb.update_order_status("nope", "FILLED")


def test_order_quantity_must_be_positive(reb: LedgerRepository) -> None:
    with pytest.raises(ValueError, match="quantity must be > 0"):
        reb.record_order(
            "z",
            rebalance_id=REB,
            intent_id="i",
            symbol="SPY",
            side=Side.BUY,
            quantity=0,
            order_type="LMT",
            limit_price=1.0,
        )


def test_timestamps_come_back_tz_aware_utc(reb: LedgerRepository) -> None:
    write_order(reb, COID)
    from datetime import timedelta, timezone

    ny = timezone(timedelta(hours=-5))
    reb.record_fill(fill("E1", COID, 1, 450.0, datetime(2026, 11, 24, 10, 0, tzinfo=ny)))
    (f,) = reb.fills_for_rebalance(REB)
    assert f.ts.utcoffset() == timedelta(0)
    assert (f.ts.hour, f.ts.minute) == (15, 0)
