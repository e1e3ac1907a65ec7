"""Rebalances, intents, netting results and plans: first write wins on rerun."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from lib.clock import VirtualClock
from lib.errors import LedgerError
from lib.store import LedgerRepository, NettingRecord
from lib.store.models import Intent
from lib.types import AssetClass, OrderIntent, PolicyMode, Side, SliceSchedule
from tests.lib.store.helpers import REB, intent, plan


def test_create_or_get_rebalance_is_idempotent(repo: LedgerRepository, clock: VirtualClock) -> None:
    row, created = repo.create_or_get_rebalance(
        REB,
        portfolio="core",
        schedule="us-open",
        session_date=date(2026, 11, 24),
        params={"drift_pct": 0.5},
    )
    assert created is True
    assert (row.status, row.params, row.session_date) == (
        "running",
        {"drift_pct": 0.5},
        date(2026, 11, 24),
    )
    assert row.created_at == clock.now()
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0

    clock.advance(3600)
    again, created_again = repo.create_or_get_rebalance(REB, portfolio="other", params={"x": 1})
    assert created_again is False
    # the stored row is returned unchanged
    assert (again.portfolio, again.params) == ("core", {"drift_pct": 0.5})
    assert again.created_at == row.created_at


def test_rebalance_status_and_finish(repo: LedgerRepository, clock: VirtualClock) -> None:
    repo.create_or_get_rebalance(REB)
    clock.advance(90)
    repo.set_rebalance_status(REB, "done", finished=True)
    row = repo.get_rebalance(REB)
    assert row is not None
    assert (row.status, row.finished_at) == ("done", clock.now())
    with pytest.raises(LedgerError, match="unknown rebalance"):
        repo.set_rebalance_status("nope", "done")


def test_record_intents_round_trip_and_rerun_keeps_originals(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance(REB)
    sleeve = [
        intent("trend:SPY", "SPY", Side.BUY, 500, sleeve="trend"),
        intent("carry:SPY", "SPY", Side.SELL, 200, sleeve="carry"),
    ]
    assert repo.record_intents(REB, sleeve, kind="sleeve") == 2
    netted = [intent("net:SPY", "SPY", Side.BUY, 300)]
    assert repo.record_intents(REB, netted, kind="netted") == 1

    # rerun with a residual quantity: the original intent stays, nothing new
    assert repo.record_intents(REB, [intent("net:SPY", "SPY", Side.BUY, 120)], kind="netted") == 0
    got = repo.intents_for_rebalance(REB, kind="netted")
    assert [(i.intent_id, i.quantity) for i in got] == [("net:SPY", 300)]
    assert [
        (i.sleeve, i.side, i.quantity) for i in repo.intents_for_rebalance(REB, kind="sleeve")
    ] == [("trend", Side.BUY, 500), ("carry", Side.SELL, 200)]
    assert len(repo.intents_for_rebalance(REB)) == 3


def test_intent_enums_round_trip(repo: LedgerRepository) -> None:

    repo.create_or_get_rebalance(REB)
    it = OrderIntent(
        "fx:6E",
        "6E",
        Side.SELL,
        4,
        sleeve="fx",
        asset_class=AssetClass.FX_FUT,
        pair_group="g1",
        urgency="high",
        mode=PolicyMode.AUCTION_CLOSE,
    )
    repo.record_intents(REB, [it])
    assert repo.intents_for_rebalance(REB) == [it]


def test_record_intents_needs_the_rebalance(repo: LedgerRepository) -> None:
    with pytest.raises(LedgerError, match="constraint"):
        repo.record_intents("missing-rebalance", [intent()])
    with pytest.raises(ValueError, match="kind"):
        repo.record_intents(REB, [intent()], kind="bogus")


def test_crash_mid_record_intents_leaves_no_rows(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance(REB)

    def exploding() -> Iterator[OrderIntent]:
        yield intent("a", "SPY")
        yield intent("b", "QQQ")
        raise RuntimeError("worker killed mid-step")

    with pytest.raises(RuntimeError, match="killed"):
        repo.record_intents(REB, exploding())
    assert repo.intents_for_rebalance(REB) == []
    with repo._sessions() as s:
        assert s.scalar(select(func.count()).select_from(Intent)) == 0


def test_record_netting(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance(REB)
    results = [
        NettingRecord(
            "SPY",
            gross_buy=500,
            gross_sell=200,
            net_quantity=300,
            crossed_quantity=200,
            net_intent_id="net:SPY",
            benefit_notional=90_000.0,
        ),
        NettingRecord(
            "IWM",
            gross_buy=10,
            gross_sell=0,
            net_quantity=0,
            crossed_quantity=0,
            dropped_reason="min_notional",
            detail={"notional": 2_000.0},
        ),
    ]
    assert repo.record_netting(REB, results) == 2
    assert repo.record_netting(REB, results) == 0
    rows = repo.netting_for_rebalance(REB)
    assert [(r.symbol, r.net_quantity, r.crossed_quantity, r.dropped_reason) for r in rows] == [
        ("IWM", 0, 0, "min_notional"),
        ("SPY", 300, 200, None),
    ]
    assert rows[0].detail == {"notional": 2_000.0}
    assert rows[1].benefit_notional == 90_000.0
    with pytest.raises(ValueError, match=">= 0"):
        NettingRecord("X", gross_buy=-1, gross_sell=0, net_quantity=0, crossed_quantity=0)


def test_record_plan_round_trip_and_rerun(repo: LedgerRepository, clock: VirtualClock) -> None:
    repo.create_or_get_rebalance(REB)
    it = intent()
    p = plan(it, created_at=datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    row, created = repo.record_plan(REB, p)
    assert created
    assert (row.limit_price, row.collar_low, row.collar_high, row.arrival_mid) == (
        450.05,
        447.75,
        452.25,
        450.0,
    )
    assert row.reprice_ladder == [450.10, 450.15, 450.20]
    assert (row.mode, row.order_type, row.quantity, row.slices) == (
        "marketable_limit",
        "LMT",
        300,
        None,
    )
    assert row.created_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)

    again, created_again = repo.record_plan(REB, plan(it, limit=451.0))
    assert (created_again, again.id, again.limit_price) == (False, row.id, 450.05)

    sliced = plan(it, limit=451.0)
    object.__setattr__(sliced, "slices", SliceSchedule("TWAP", (100, 100, 100), 60.0, 0.1))
    second, created_second = repo.record_plan(REB, sliced, attempt=1)
    assert created_second and second.id != row.id
    assert second.slices == {
        "style": "TWAP",
        "child_quantities": [100, 100, 100],
        "interval_seconds": 60.0,
        "participation": 0.1,
    }
    assert second.created_at == clock.now()  # plan had no created_at: the clock's


def test_naive_datetimes_are_refused(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance(REB)
    naive = plan(intent(), created_at=datetime(2026, 11, 24, 15, 0))  # noqa: DTZ001
    with pytest.raises(LedgerError, match="naive datetime"):
        repo.record_plan(REB, naive)
