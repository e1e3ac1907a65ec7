"""Sleeve allocations and positions, risk blocks, daily metrics."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.clock import VirtualClock
from lib.store import AllocationRecord, LedgerRepository
from lib.store import books as books_module
from lib.store.books import apply_delta
from tests.lib.store.helpers import REB

REB2 = "core-2026-11-25-us-open"


@pytest.fixture
def reb(repo: LedgerRepository) -> LedgerRepository:
    repo.create_or_get_rebalance(REB)
    return repo


def test_allocation_updates_sleeve_positions(reb: LedgerRepository) -> None:
    reb.set_sleeve_position("trend", "SPY", 100, 440.0)
    allocs = [
        AllocationRecord("trend", "SPY", 300, 450.0, intent_id="net:SPY"),
        AllocationRecord("carry", "SPY", -200, 450.0, source="internal_cross"),
        AllocationRecord("carry", "ES", 2, 5000.0),
    ]
    assert reb.record_allocation(REB, allocs) == 3
    assert reb.sleeve_positions("trend") == {"SPY": 400}
    assert reb.sleeve_positions("carry") == {"ES": 2, "SPY": -200}
    trend = reb.get_sleeve_position("trend", "SPY")
    assert trend is not None
    assert trend.avg_price == pytest.approx((100 * 440.0 + 300 * 450.0) / 400)
    assert trend.last_rebalance_id == REB
    # applying again (crash recovery, or a repeated call) changes nothing
    assert reb.apply_allocation_to_positions(REB) == 0
    assert reb.record_allocation(REB, allocs) == 0
    assert reb.sleeve_positions("trend") == {"SPY": 400}
    assert [a.applied_quantity for a in reb.allocations_for_rebalance(REB)] == [2, -200, 300]


def test_rerun_with_larger_cumulative_allocation_applies_only_the_difference(
    reb: LedgerRepository,
) -> None:
    reb.record_allocation(REB, [AllocationRecord("trend", "SPY", 200, 450.0)])
    # the rerun traded the residual: the cumulative allocation is now 300
    assert reb.record_allocation(REB, [AllocationRecord("trend", "SPY", 300, 450.5)]) == 1
    assert reb.sleeve_positions("trend") == {"SPY": 300}
    (row,) = reb.allocations_for_rebalance(REB)
    assert (row.quantity, row.applied_quantity, row.price) == (300, 300, 450.5)


def test_record_without_apply_then_apply(reb: LedgerRepository) -> None:
    reb.record_allocation(REB, [AllocationRecord("trend", "SPY", 50, 450.0)], apply=False)
    assert reb.sleeve_positions("trend") == {}
    assert reb.apply_allocation_to_positions(REB) == 1
    assert reb.sleeve_positions("trend") == {"SPY": 50}


def test_positions_net_to_zero_disappear(reb: LedgerRepository) -> None:
    reb.create_or_get_rebalance(REB2)
    reb.record_allocation(REB, [AllocationRecord("trend", "SPY", 100, 450.0)])
    reb.record_allocation(REB2, [AllocationRecord("trend", "SPY", -100, 455.0)])
    assert reb.sleeve_positions("trend") == {}
    pos = reb.get_sleeve_position("trend", "SPY")
    assert pos is not None and (pos.quantity, pos.avg_price) == (0, None)


def test_crash_mid_allocation_leaves_no_rows(
    reb: LedgerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = books_module.apply_delta

    def dying(q: int, a: float | None, d: int, p: float) -> tuple[int, float | None]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(q, a, d, p)

    monkeypatch.setattr(books_module, "apply_delta", dying)
    allocs = [AllocationRecord("a", "SPY", 10, 1.0), AllocationRecord("b", "SPY", 20, 1.0)]
    with pytest.raises(RuntimeError, match="power cut"):
        reb.record_allocation(REB, allocs)
    assert reb.allocations_for_rebalance(REB) == []
    assert reb.sleeve_positions("a") == {} and reb.get_sleeve_position("a", "SPY") is None


@pytest.mark.parametrize(
    ("q", "avg", "delta", "price", "expected"),
    [
        (0, None, 10, 5.0, (10, 5.0)),  # open
        (10, 5.0, 10, 7.0, (20, 6.0)),  # add: re-weight
        (10, 5.0, -4, 9.0, (6, 5.0)),  # reduce: keep cost
        (10, 5.0, -15, 9.0, (-5, 9.0)),  # flip: new cost
        (-10, 5.0, -10, 3.0, (-20, 4.0)),  # add short
        (10, 5.0, -10, 9.0, (0, None)),  # close
    ],
)
def test_apply_delta_cases(
    q: int, avg: float | None, delta: int, price: float, expected: tuple[int, float | None]
) -> None:
    assert apply_delta(q, avg, delta, price) == pytest.approx(expected)


@given(
    st.lists(st.tuples(st.integers(-1000, 1000), st.floats(1.0, 1000.0)), min_size=1, max_size=20)
)
def test_apply_delta_quantity_is_the_sum_and_cost_stays_in_range(
    steps: list[tuple[int, float]],
) -> None:
    qty, avg = 0, None
    for delta, price in steps:
        qty, avg = apply_delta(qty, avg, delta, price)
        assert (avg is None) == (qty == 0)
        if avg is not None:
            prices = [p for _, p in steps]
            assert min(prices) - 1e-9 <= avg <= max(prices) + 1e-9
    assert qty == sum(d for d, _ in steps)


def test_risk_blocks(reb: LedgerRepository, clock: VirtualClock) -> None:
    reb.record_risk_block(REB, "max_order_notional", "SPY 2.1M > 2.0M", "SPY", intent_id="i1")
    clock.advance(1)
    reb.record_risk_block(REB, "kill_switch", "kill switch file present")
    rows = reb.risk_blocks_for_rebalance(REB)
    assert [(r.control, r.symbol, r.intent_id) for r in rows] == [
        ("max_order_notional", "SPY", "i1"),
        ("kill_switch", None, None),
    ]
    assert rows[1].ts == clock.now()


def test_daily_metrics_upsert(reb: LedgerRepository) -> None:
    day = date(2026, 11, 24)
    assert (
        reb.record_daily_metrics(
            day,
            orders=12,
            fills=30,
            fill_rate=0.95,
            total_notional=1.2e6,
            commission=42.5,
            slippage_bps_weighted=3.1,
            slippage_bps_p95=9.0,
            netting_saved_qty=200,
            extras={"orders_by_policy": {"marketable_limit": 12}},
        )
        is True
    )
    assert (
        reb.record_daily_metrics(
            day,
            orders=14,
            fills=33,
            fill_rate=0.97,
            total_notional=1.4e6,
            commission=47.0,
        )
        is False
    )  # recomputed day: last write wins
    row = reb.daily_metrics(day)
    assert row is not None
    assert (row.orders, row.fills, row.total_notional, row.slippage_bps_weighted) == (
        14,
        33,
        1.4e6,
        None,
    )
    assert row.extras == {}
    assert reb.daily_metrics(day, scope="other") is None
    reb.record_daily_metrics(
        day, scope="eu", orders=1, fills=1, fill_rate=1.0, total_notional=1.0, commission=0.0
    )
    eu = reb.daily_metrics(day, scope="eu")
    assert eu is not None and eu.orders == 1
