"""Shortfall against the decision mid (hand-computed, and the parts always
add up), interval VWAP from tape volume, markouts, prior close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.benchmarks import benchmarks, interval_vwap, mid_at
from lib.store import SampleRecord
from lib.tca import compute_tca
from lib.types import Side
from tests.lib.test_analytics import DAY, T0, result

PARTS = ("delay", "spread", "impact", "opportunity", "fees")


def test_decision_mid_makes_delay_real_hand_computed() -> None:
    # Decided at 100.00, arrived at 100.05, bought 60 of 100 at 100.10, end mid 100.20.
    r = result("i", "AAA", Side.BUY, 100, 60, 100.10, 100.05, commission=1.0)
    t = compute_tca(r, day=DAY, arrival_spread_bps=4.0, end_mid=100.20, decision_mid=100.0)
    assert t.delay_bps == pytest.approx(5.0)  # (100.05 - 100) / 100
    assert t.spread_bps == pytest.approx(0.6 * 2.0)
    assert t.impact_bps == pytest.approx(0.6 * 5.0 - 1.2)  # 0.6 * (100.10 - 100.05) / 100
    assert t.opportunity_bps == pytest.approx(0.4 * 15.0)  # 0.4 * (100.20 - 100.05) / 100
    assert t.fees_bps == pytest.approx(1.0 / 10_000 * 1e4)
    # The whole decision: 0.6*(P-D)/D + 0.4*(E-D)/D + fees.
    assert t.shortfall_bps == pytest.approx(0.6 * 10.0 + 0.4 * 20.0 + 1.0)
    assert t.shortfall_money == pytest.approx(t.shortfall_bps * 10_000 / 1e4)
    assert t.decision_mid == 100.0


@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    req=st.integers(1, 10_000),
    frac=st.floats(0, 1),
    d=st.floats(10, 1000),
    moves=st.tuples(*[st.floats(-0.02, 0.02)] * 3),
    spread=st.floats(0, 50),
    commission=st.floats(0, 100),
)
def test_parts_always_sum_to_the_total(side: Side, req: int, frac: float, d: float,
                                       moves: tuple[float, float, float], spread: float,
                                       commission: float) -> None:
    a, p, e = (d * (1 + m) for m in moves)
    filled = int(req * frac)
    r = result("i", "AAA", side, req, filled, p if filled else None, a, commission=commission)
    t = compute_tca(r, day=DAY, arrival_spread_bps=spread, end_mid=e, decision_mid=d)
    assert sum(getattr(t, f"{x}_bps") for x in PARTS) == pytest.approx(t.shortfall_bps, abs=1e-6)
    assert sum(t.component_money(x) for x in PARTS) == pytest.approx(t.shortfall_money, abs=1e-6)


def s(sec: float, mid: float, vol: int | None = None) -> SampleRecord:
    return SampleRecord("AAA", T0 + timedelta(seconds=sec), "during", mid - 0.01, mid + 0.01, mid,
                        None, vol)


def test_interval_vwap_weights_by_tape_volume_else_time() -> None:
    tape = [s(0, 100.0, 0), s(10, 101.0, 100), s(20, 103.0, 400)]
    # (100+101)/2 * 100 + (101+103)/2 * 300 over 400
    assert interval_vwap(tape, T0, T0 + timedelta(seconds=20)) == (pytest.approx(101.625), "tape")
    quotes = [s(0, 100.0), s(10, 101.0), s(30, 103.0)]
    # (100.5 * 10 + 102 * 20) / 30
    assert interval_vwap(quotes, T0, T0 + timedelta(seconds=30)) == (pytest.approx(101.5), "twap_mid")
    assert interval_vwap(quotes, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == (None, None)


def test_markouts_and_prior_close() -> None:
    fill_t = T0 + timedelta(seconds=30)
    samples = [s(30, 100.0), s(90, 100.05), s(330, 100.20), s(1830, 99.90)]
    b = benchmarks(Side.BUY, 100.0, samples, first_fill=fill_t, last_fill=fill_t, prior_close=99.0)
    assert b.markouts_bps[1] == pytest.approx(5.0)
    assert b.markouts_bps[5] == pytest.approx(20.0)
    assert b.markouts_bps[30] == pytest.approx(-10.0)
    assert b.vs_close_bps == pytest.approx((100.0 - 99.0) / 99.0 * 1e4)
    sell = benchmarks(Side.SELL, 100.0, samples, first_fill=fill_t, last_fill=fill_t)
    assert sell.markouts_bps[5] == pytest.approx(-20.0)
    # No sample near +30 min: None, not a guess.
    short = benchmarks(Side.BUY, 100.0, samples[:3], first_fill=fill_t, last_fill=fill_t)
    assert short.markouts_bps[30] is None
    assert mid_at(samples, T0 + timedelta(seconds=60)) == 100.0  # tie -> earlier one
    unfilled = benchmarks(Side.BUY, None, samples, first_fill=None, last_fill=None, prior_close=99.0)
    assert unfilled.vs_vwap_bps is None and unfilled.markouts_bps == {1: None, 5: None, 30: None}


def test_decision_mid_must_be_positive() -> None:
    r = result("i", "AAA", Side.BUY, 10, 10, 100.0, 100.0)
    with pytest.raises(ValueError, match="decision_mid"):
        compute_tca(r, day=DAY, decision_mid=0.0)
