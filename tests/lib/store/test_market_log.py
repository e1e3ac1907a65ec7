"""Audit columns and TCA inputs in the ledger: submitted_at and broker ids,
wall-clock stamps beside the virtual ones, decision mids, market samples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from lib.clock import VirtualClock
from lib.orders.events import OrderEvent, OrderEventKind
from lib.orders.states import OrderState
from lib.store import LedgerRepository, SampleRecord, make_session_factory
from tests.lib.store.helpers import REB, fill, later, write_order

WALL0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # far from the virtual clock on purpose


@pytest.fixture
def wall() -> VirtualClock:
    return VirtualClock(WALL0)


@pytest.fixture
def ledger(engine: Engine, clock: VirtualClock, wall: VirtualClock) -> LedgerRepository:
    repo = LedgerRepository(make_session_factory(engine), clock, wall_clock=wall)
    repo.create_or_get_rebalance(REB)
    return repo


def test_submit_sent_event_stamps_submitted_at_in_both_clocks(
    ledger: LedgerRepository, clock: VirtualClock, wall: VirtualClock
) -> None:
    write_order(ledger, "c1")
    row = ledger.get_order("c1")
    assert row is not None and row.submitted_at is None and row.wall_created_at == WALL0
    clock.advance(2)
    wall.advance(7)
    sent = clock.now()
    ledger.record_order_events([
        OrderEvent(sent, "c1", OrderEventKind.SUBMIT_SENT, OrderState.PENDING_SUBMIT),
        OrderEvent(later(sent, 1), "c1", OrderEventKind.STATE_CHANGED, OrderState.SUBMITTED,
                   previous=OrderState.PENDING_SUBMIT),
    ])
    row = ledger.get_order("c1")
    assert row is not None
    assert row.submitted_at == sent and row.wall_submitted_at == WALL0 + timedelta(seconds=7)
    events = ledger.order_events("c1")
    assert [e.wall_ts for e in events] == [WALL0 + timedelta(seconds=7)] * 2
    # A later submit event (a replace) does not move the first send time.
    ledger.record_order_events([OrderEvent(later(sent, 30), "c1", OrderEventKind.SUBMIT_SENT,
                                           OrderState.SUBMITTED)])
    row = ledger.get_order("c1")
    assert row is not None and row.submitted_at == sent


def test_broker_ids_fill_only_what_is_missing(ledger: LedgerRepository, clock: VirtualClock) -> None:
    write_order(ledger, "c1")
    write_order(ledger, "c2")
    t = clock.now()
    assert ledger.record_broker_ids({"c1": ("B17", t), "c2": (None, None), "other": ("B9", t)}) == 1
    assert ledger.record_broker_ids({"c1": ("B99", later(t, 5))}) == 0  # never overwritten
    c1, c2 = ledger.get_order("c1"), ledger.get_order("c2")
    assert c1 is not None and c1.broker_order_id == "B17" and c1.submitted_at == t
    assert c2 is not None and c2.broker_order_id is None


def test_fill_and_rebalance_carry_wall_stamps(ledger: LedgerRepository, clock: VirtualClock,
                                              wall: VirtualClock) -> None:
    write_order(ledger, "c1")
    wall.advance(60)
    ledger.record_fill(fill("e1", "c1", 100, 450.1, clock.now()))
    ledger.set_rebalance_status(REB, "done", finished=True)
    reb = ledger.get_rebalance(REB)
    assert reb is not None and reb.wall_created_at == WALL0
    assert reb.wall_finished_at == WALL0 + timedelta(seconds=60)
    assert reb.finished_at == clock.now()


def test_decisions_first_write_wins(ledger: LedgerRepository, clock: VirtualClock) -> None:
    t = clock.now()
    assert ledger.record_decisions(REB, {"SPY": 450.0, "ES": 6000.25}, t) == 2
    assert ledger.record_decisions(REB, {"SPY": 451.0, "TLT": 90.0}, later(t, 60)) == 1
    got = ledger.decisions_for_rebalance(REB)
    assert got == {"SPY": (450.0, t), "ES": (6000.25, t), "TLT": (90.0, later(t, 60))}


def test_samples_round_trip_and_duplicates_are_ignored(ledger: LedgerRepository,
                                                       clock: VirtualClock) -> None:
    t = clock.now()
    rows = [SampleRecord("SPY", later(t, k), "during", 449.99, 450.01, 450.0, 450.0, 1000 + k)
            for k in range(3)]
    rows.append(SampleRecord("ES", t, "after", 6000.0, 6000.5, 6000.25))
    assert ledger.record_samples(REB, rows) == 4
    assert ledger.record_samples(REB, rows[:2]) == 0
    assert ledger.samples_for_rebalance(REB, "SPY") == rows[:3]
    assert [s.symbol for s in ledger.samples_for_rebalance(REB)] == ["ES", "SPY", "SPY", "SPY"]
    with pytest.raises(ValueError, match="phase"):
        ledger.record_samples(REB, [SampleRecord("SPY", t, "sometime", None, None, None)])


def test_list_rebalances_newest_first_and_by_date(ledger: LedgerRepository,
                                                  clock: VirtualClock) -> None:
    clock.advance(10)
    ledger.create_or_get_rebalance("r-b", session_date=date(2026, 11, 25))
    clock.advance(10)
    ledger.create_or_get_rebalance("r-c", session_date=date(2026, 11, 26))
    assert [r.rebalance_id for r in ledger.list_rebalances()] == ["r-c", "r-b", REB]
    assert [r.rebalance_id for r in ledger.list_rebalances(limit=1)] == ["r-c"]
    got = ledger.list_rebalances(since=date(2026, 11, 25), until=date(2026, 11, 25))
    assert [r.rebalance_id for r in got] == ["r-b"]
