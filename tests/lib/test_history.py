"""lib.history: rolling windows by dimension, hand-computed; parts add up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.history import HistoryFrame, HistoryRow, NettingRow, rolling

END = date(2026, 11, 27)


def row(days_ago: int, sym: str = "SPY", *, slip: float | None = 2.0, notional: float = 1e5,
        delay: float = 1.0, impact: float = 1.0, fill: float = 1.0, replaces: int = 1,
        mode: str = "marketable_limit", sleeve: str = "trend", cls: str = "ETF") -> HistoryRow:
    parts = {"delay": delay, "spread": 0.5, "impact": impact, "opportunity": 0.0, "fees": 0.1}
    return HistoryRow(
        day=END - timedelta(days=days_ago), rebalance_id=f"r{days_ago}", instrument=sym,
        asset_class=cls, mode=mode, sleeve=sleeve, currency="USD", slippage_bps=slip,
        shortfall_bps=sum(parts.values()), delay_bps=parts["delay"], spread_bps=parts["spread"],
        impact_bps=parts["impact"], opportunity_bps=parts["opportunity"], fees_bps=parts["fees"],
        paper_notional=notional, fill_fraction=fill, replaces=replaces, commission=1.5,
    )


def pick(stats: list, dim: str, key: str, days: int):  # type: ignore[no-untyped-def,type-arg]
    (s,) = [x for x in stats if x.dimension == dim and x.key == key and x.window_days == days]
    return s


def test_windows_by_instrument_hand_computed() -> None:
    rows = [row(0, slip=1.0, delay=2.0), row(0, slip=3.0, notional=3e5), row(3, slip=10.0),
            row(0, "ES", slip=None, fill=0.5, cls="FUT", mode="auction_close", sleeve="carry"),
            row(30, slip=100.0)]
    nets = [NettingRow(END, "SPY", "ETF", 200), NettingRow(END - timedelta(days=3), "SPY", "ETF", 50)]
    stats = rolling(rows, nets, until=END, windows=(1, 5))
    spy1 = pick(stats, "instrument", "SPY", 1)
    assert spy1.orders == 2 and spy1.slippage_mean_bps == pytest.approx(2.0)
    assert spy1.slippage_median_bps == pytest.approx(2.0)
    assert spy1.delay_bps == pytest.approx((2.0 * 1e5 + 1.0 * 3e5) / 4e5)  # notional weighted
    assert spy1.netting_saved_qty == 200 and spy1.replaces == 2 and spy1.commission == pytest.approx(3.0)
    spy5 = pick(stats, "instrument", "SPY", 5)
    assert spy5.orders == 3 and spy5.netting_saved_qty == 250
    assert spy5.slippage_p95_bps == pytest.approx(3.0 + (10.0 - 3.0) * 0.9)  # linear, numpy's
    es = pick(stats, "asset_class", "FUT", 1)
    assert es.slippage_mean_bps is None and es.fill_rate == pytest.approx(0.5)
    assert pick(stats, "mode", "auction_close", 5).orders == 1
    assert pick(stats, "sleeve", "trend", 5).netting_saved_qty is None  # netting is per symbol
    assert pick(stats, "all", "all", 5).orders == 4  # the 30-day-old row is outside


def test_rows_after_until_are_ignored_and_bad_arguments_raise() -> None:
    assert rolling([row(-1)], until=END) == []
    with pytest.raises(ValueError):
        rolling([row(0)], until=END, dimensions=("colour",))
    with pytest.raises(ValueError):
        rolling([row(0)], until=END, windows=(0,))


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 20), st.floats(-5, 5), st.floats(-5, 5),
                          st.floats(1e3, 1e6)), min_size=1, max_size=40))
def test_weighted_parts_add_up_to_the_shortfall(data: list[tuple[int, float, float, float]]) -> None:
    rows = [row(d, delay=a, impact=b, notional=w) for d, a, b, w in data]
    for s in rolling(HistoryFrame.from_rows(rows), until=END, windows=(1, 5, 20, 60)):
        parts = (s.delay_bps or 0) + (s.spread_bps or 0) + (s.impact_bps or 0) + (
            s.opportunity_bps or 0) + (s.fees_bps or 0)
        assert parts == pytest.approx(s.shortfall_bps, abs=1e-6)
