"""ExecutionAnalytics: hand-computed TCA, daily aggregation, summary text."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.analytics import ExecutionAnalytics, compute_tca, format_summary, percentile
from lib.types import AssetClass, ExecutionResult, Fill, PolicyMode, Side

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def result(
    intent_id: str,
    symbol: str,
    side: Side,
    requested: int,
    filled: int,
    avg_price: float | None,
    arrival_mid: float,
    *,
    multiplier: float = 1.0,
    commission: float = 0.0,
    replaces: int = 0,
    mode: PolicyMode = PolicyMode.MARKETABLE_LIMIT,
    asset_class: AssetClass | None = AssetClass.ETF,
    finished_at: datetime | None = None,
) -> ExecutionResult:
    slip = None
    if filled and avg_price is not None:
        slip = side.sign * (avg_price - arrival_mid) / arrival_mid * 1e4
    return ExecutionResult(
        intent_id=intent_id,
        symbol=symbol,
        side=side,
        requested_quantity=requested,
        filled_quantity=filled,
        avg_price=avg_price,
        arrival_mid=arrival_mid,
        slippage_bps=slip,
        status="filled" if filled == requested else ("partial" if filled else "cancelled"),
        mode=mode,
        replace_count=replaces,
        commission=commission,
        started_at=T0,
        finished_at=finished_at or T0 + timedelta(minutes=2),
        asset_class=asset_class,
        notional=abs((avg_price or 0.0) * filled * multiplier),
    )


def fill(exec_id: str, ts: datetime = T0) -> Fill:
    return Fill(exec_id, "c1", "AAA", Side.BUY, 10, 100.0, ts)


# --- per-order TCA -----------------------------------------------------------


def test_tca_decomposition_partial_buy_hand_computed() -> None:
    # BUY 100 @ arrival mid 100.00; 80 filled at 100.05 while the mid had
    # drifted to 100.02; quoted spread 4 bps; end mid 100.10; commission 0.80.
    r = result("o1", "AAA", Side.BUY, 100, 80, 100.05, 100.0, commission=0.80)
    t = compute_tca(r, day=DAY, arrival_spread_bps=4.0, fill_time_mid=100.02, end_mid=100.10)
    assert t.slippage_bps == pytest.approx(5.0)  # 0.05 / 100 per filled unit
    assert t.delay_bps == pytest.approx(0.8 * 2.0)  # f * (100.02 - 100) / 100
    assert t.spread_bps == pytest.approx(0.8 * 2.0)  # f * half spread
    assert t.impact_bps == pytest.approx(0.8 * 5.0 - 1.6 - 1.6)
    assert t.opportunity_bps == pytest.approx(0.2 * 10.0)  # 20 unfilled marked at +0.10
    assert t.fees_bps == pytest.approx(0.80 / 10_000 * 1e4)
    # In currency: 80 * 0.05 + 20 * 0.10 + 0.80 = 6.80 on a 10,000 paper notional.
    assert t.shortfall_bps == pytest.approx(6.8)
    assert t.commission_bps == pytest.approx(0.80 / (80 * 100.05) * 1e4)
    assert t.paper_notional == pytest.approx(10_000.0)
    assert t.opportunity_marked


def test_tca_futures_sell_uses_multiplier_implied_by_notional() -> None:
    # ES SELL 4 @ mid 6000, all filled at 5999.50, multiplier 50, commission 8.50.
    r = result("es", "ES", Side.SELL, 4, 4, 5999.5, 6000.0, multiplier=50, commission=8.5,
               asset_class=AssetClass.FUT)
    t = compute_tca(r, day=DAY)
    assert t.slippage_bps == pytest.approx(0.5 / 6000 * 1e4)
    assert t.paper_notional == pytest.approx(4 * 6000 * 50)
    assert t.fees_bps == pytest.approx(8.5 / 1_200_000 * 1e4)
    assert (t.delay_bps, t.spread_bps, t.opportunity_bps) == (0.0, 0.0, 0.0)
    assert t.impact_bps == pytest.approx(t.slippage_bps)
    assert t.shortfall_bps == pytest.approx((4 * 0.5 * 50 + 8.5) / 1_200_000 * 1e4)


def test_tca_price_improvement_gives_negative_impact() -> None:
    # SELL filled at 100.01 above a 100.00 mid with a 2 bps spread: we earned
    # 1 bp, having "paid" a 1 bp half-spread, so impact is -2 bps.
    r = result("p", "AAA", Side.SELL, 10, 10, 100.01, 100.0)
    t = compute_tca(r, day=DAY, arrival_spread_bps=2.0)
    assert t.slippage_bps == pytest.approx(-1.0)
    assert t.spread_bps == pytest.approx(1.0)
    assert t.impact_bps == pytest.approx(-2.0)
    assert t.shortfall_bps == pytest.approx(-1.0)


def test_tca_unfilled_sell_opportunity_cost_and_unmarked_remainder() -> None:
    r = result("u", "BBB", Side.SELL, 10, 0, None, 50.0)
    marked = compute_tca(r, day=DAY, end_mid=49.5)  # fell 1% while we failed to sell
    assert marked.slippage_bps is None and marked.commission_bps is None
    assert marked.opportunity_bps == pytest.approx(100.0)
    assert marked.shortfall_bps == pytest.approx(100.0)
    unmarked = compute_tca(r, day=DAY)
    assert unmarked.opportunity_bps == 0.0 and not unmarked.opportunity_marked


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [({"end_mid": float("nan")}, "end_mid"), ({"arrival_spread_bps": -1.0}, "arrival_spread"),
     ({"fill_time_mid": 0.0}, "fill_time_mid")],
)
def test_tca_rejects_invalid_market_inputs(kwargs: dict[str, float], bad: str) -> None:
    r = result("x", "AAA", Side.BUY, 10, 5, 100.0, 100.0)
    with pytest.raises(ValueError, match=bad):
        compute_tca(r, day=DAY, **kwargs)


prices = st.floats(min_value=1.0, max_value=10_000.0, allow_nan=False)


@given(
    side=st.sampled_from(list(Side)),
    requested=st.integers(min_value=1, max_value=10_000),
    frac=st.floats(min_value=0.0, max_value=1.0),
    arrival=prices,
    rel_fill=st.floats(min_value=-0.02, max_value=0.02),
    rel_mid=st.floats(min_value=-0.02, max_value=0.02),
    rel_end=st.floats(min_value=-0.05, max_value=0.05),
    spread_bps=st.floats(min_value=0.0, max_value=50.0),
    mult=st.sampled_from([1.0, 5.0, 50.0, 125_000.0]),
    commission=st.floats(min_value=0.0, max_value=100.0),
)
def test_tca_components_add_up_to_currency_shortfall(
    side: Side, requested: int, frac: float, arrival: float, rel_fill: float, rel_mid: float,
    rel_end: float, spread_bps: float, mult: float, commission: float,
) -> None:
    filled = math.floor(requested * frac)
    avg = arrival * (1 + rel_fill) if filled else None
    end = arrival * (1 + rel_end)
    r = result("h", "AAA", side, requested, filled, avg, arrival, multiplier=mult,
               commission=commission)
    t = compute_tca(r, day=DAY, arrival_spread_bps=spread_bps, fill_time_mid=arrival * (1 + rel_mid),
                    end_mid=end, multiplier=mult)
    parts = t.delay_bps + t.spread_bps + t.impact_bps + t.opportunity_bps + t.fees_bps
    assert t.shortfall_bps == pytest.approx(parts, abs=1e-9)
    cost = side.sign * mult * (filled * ((avg or arrival) - arrival) + (requested - filled) * (end - arrival))
    paper = requested * arrival * mult
    assert t.shortfall_bps == pytest.approx((cost + commission) / paper * 1e4, rel=1e-9, abs=1e-9)


# --- daily aggregation -------------------------------------------------------


@pytest.fixture
def day_book() -> ExecutionAnalytics:
    a = ExecutionAnalytics()
    a.record_order_complete(result("o1", "AAA", Side.BUY, 100, 100, 100.02, 100.0, commission=1.0,
                                   replaces=1))
    a.record_order_complete(result("o2", "ES", Side.SELL, 2, 2, 5999.0, 6000.0, multiplier=50,
                                   commission=4.0, replaces=3, asset_class=AssetClass.FUT))
    a.record_order_complete(result("o3", "XYZ", Side.BUY, 100, 50, 150.15, 150.0, commission=0.5,
                                   replaces=6, mode=PolicyMode.AUCTION_CLOSE,
                                   asset_class=AssetClass.STK))
    a.record_order_complete(result("o4", "BBB", Side.SELL, 10, 0, None, 80.0, replaces=6,
                                   mode=PolicyMode.PASSIVE_FIRST), end_mid=79.92)
    # Next UTC day: must not leak into DAY.
    a.record_order_complete(result("o5", "AAA", Side.BUY, 10, 10, 101.0, 100.0,
                                   finished_at=T0 + timedelta(days=1)))
    for i in range(5):
        a.record_fill(fill(f"e{i}"))
    a.record_fill(fill("e0"))  # re-sent after a reconnect: counted once
    a.record_fill(fill("e9", T0 + timedelta(days=1)))
    a.record_netting(at=T0, saved_qty=1000, saved_notional=80_000.0)
    a.record_netting(at=T0, saved_qty=500, saved_notional=40_000.0)
    return a


def test_daily_summary_hand_computed(day_book: ExecutionAnalytics) -> None:
    assert day_book.days() == [DAY, DAY + timedelta(days=1)]
    d = day_book.daily_summary(DAY)
    assert (d.orders, d.orders_full, d.orders_partial, d.orders_unfilled) == (4, 2, 1, 1)
    assert d.fills == 5
    # Notional: ETF 100*100.02, FUT 2*5999*50, STK 50*150.15; largest first.
    assert list(d.notional_by_asset_class) == ["FUT", "ETF", "STK"]
    assert list(d.notional_by_asset_class.values()) == pytest.approx([599_900.0, 10_002.0, 7_507.5])
    total = 10_002.0 + 599_900.0 + 7_507.5
    assert d.total_notional == pytest.approx(total)
    # Slippage per order: 2.0, 1/6000*1e4, 10.0 bps.
    es = 1 / 6000 * 1e4
    assert d.slippage_bps_weighted == pytest.approx((2.0 * 10_002 + es * 599_900 + 10.0 * 7_507.5) / total)
    assert d.slippage_bps_median == pytest.approx(2.0)
    assert d.slippage_bps_p95 == pytest.approx(2.0 + 0.9 * (10.0 - 2.0))  # linear between 2nd and 3rd
    # Paper notionals 10,000 / 600,000 / 15,000 / 800; fill fractions 1, 1, 0.5, 0.
    paper = 10_000 + 600_000 + 15_000 + 800
    assert d.fill_rate == pytest.approx((10_000 + 600_000 + 7_500) / paper)
    # Shortfall in currency: 2+1 fee, 100+4 fee, 7.5+0.5 fee (rest unmarked), 0.8 opportunity.
    assert d.shortfall_bps == pytest.approx((3.0 + 104.0 + 8.0 + 0.8) / paper * 1e4)
    assert d.opportunity_bps == pytest.approx(0.8 / paper * 1e4)
    assert d.fees_bps == pytest.approx(5.5 / paper * 1e4)
    assert (d.replaces_total, d.replaces_max) == (16, 6)
    assert d.commission == pytest.approx(5.5)
    assert d.commission_bps == pytest.approx(5.5 / total * 1e4)
    assert dict(d.orders_by_policy) == {"marketable_limit": 2, "auction_close": 1, "passive_first": 1}
    assert (d.netting_saved_qty, d.netting_saved_notional) == (1500, 120_000.0)
    assert (d.worst_symbol, d.worst_side) == ("XYZ", Side.BUY)
    assert d.worst_slippage_bps == pytest.approx(10.0)
    nxt = day_book.daily_summary(DAY + timedelta(days=1))
    assert (nxt.orders, nxt.fills, nxt.netting_saved_qty) == (1, 1, 0)
    assert nxt.slippage_bps_median == pytest.approx(100.0)


def test_days_follow_the_configured_timezone() -> None:
    a = ExecutionAnalytics(day_tz="America/New_York")
    late = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 21:00 New York on the 24th
    a.record_order_complete(result("n", "AAA", Side.BUY, 1, 1, 100.0, 100.0, finished_at=late))
    assert a.days() == [DAY]


def test_duplicate_intent_and_naive_timestamps_are_errors() -> None:
    a = ExecutionAnalytics()
    a.record_order_complete(result("o", "AAA", Side.BUY, 1, 1, 100.0, 100.0))
    with pytest.raises(ValueError, match="already recorded"):
        a.record_order_complete(result("o", "AAA", Side.BUY, 1, 1, 100.0, 100.0))
    with pytest.raises(ValueError, match="naive"):
        a.record_fill(Fill("x", "c", "AAA", Side.BUY, 1, 1.0, datetime(2026, 11, 24, 15, 0)))  # noqa: DTZ001
    with pytest.raises(ValueError, match=">= 0"):
        a.record_netting(at=T0, saved_qty=-1, saved_notional=0.0)


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([4.0, 1.0, 3.0, 2.0], 95) == pytest.approx(3.85)
    with pytest.raises(ValueError):
        percentile([], 50)


# --- summary text -------------------------------------------------------------


def test_format_summary_content(day_book: ExecutionAnalytics) -> None:
    text = format_summary(day_book.daily_summary(DAY))
    lines = text.splitlines()
    assert lines[0] == "Execution 2026-11-24 (UTC)"
    assert "Orders 4: 2 full, 1 partial, 1 unfilled | 5 fills" in lines
    assert "Notional 617.4K: FUT 599.9K, ETF 10.0K, STK 7.5K" in lines
    assert "Fill rate 98.7% | replaces 16 (max 6)" in lines  # 617,500 / 625,800
    slip = next(line for line in lines if line.startswith("Slippage bps:"))
    assert "med 2.0" in slip and "p95 9.2" in slip
    is_line = next(line for line in lines if line.startswith("IS "))
    assert is_line.startswith("IS 1.9 bps = delay 0.0")  # 115.8 / 625,800
    assert "Commission 5.50 (0.1 bps)" in lines
    assert "Policy: marketable_limit 2, auction_close 1, passive_first 1" in lines
    assert "Netting saved 1,500 units / 120.0K" in lines
    assert lines[-1] == "Worst: XYZ BUY 10.0 bps"
    # Phone-sized: few, short lines; plain text.
    assert len(lines) <= 11 and max(len(line) for line in lines) <= 72
    assert "<" not in text and "*" not in text


def test_format_summary_empty_day_has_no_stats_lines() -> None:
    text = format_summary(ExecutionAnalytics().daily_summary(DAY), title="Daily")
    assert text == "Daily 2026-11-24 (UTC)\nNo orders"
