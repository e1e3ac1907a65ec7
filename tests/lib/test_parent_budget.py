"""lib.parent_budget: the parent risk budget and the urgency rules."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.instruments import InstrumentRegistry, load_instruments
from lib.parent_budget import budget_band, fits_book, fitted_participation, parent_budget_bps
from lib.types import MarketDataSnapshot, Side

TS = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ES = load_instruments()["ES"]


def test_budget_grows_with_the_square_root_of_the_span() -> None:
    assert parent_budget_bps(0.0, 0.01, 600, 23_400) == 0.0
    one = parent_budget_bps(1.0, 0.01, 23_400, 23_400)
    assert one == pytest.approx(100.0)  # k = 1 over a whole session: one daily sigma
    assert parent_budget_bps(2.0, 0.01, 23_400 / 4, 23_400) == pytest.approx(one)


@given(mid=st.floats(10, 10_000), width=st.floats(0, 500))
def test_band_is_on_the_grid_and_inside_the_width(mid: float, width: float) -> None:
    low, high = budget_band(ES, mid, width)
    assert ES.on_tick(low) and ES.on_tick(high) and low <= high
    if low != high:  # snapped inward: never wider than the width
        assert low >= mid * (1 - width / 1e4) - 1e-9 and high <= mid * (1 + width / 1e4) + 1e-9
    else:  # no tick inside the band: the tick nearest the mid
        assert low == ES.round_to_tick(mid) or ES.ceil_to_tick(mid * (1 - width / 1e4)) == low


def test_fits_book(instruments: InstrumentRegistry) -> None:
    snap = MarketDataSnapshot("ES", 1.0, 1.25, ts=TS, bid_size=10, ask_size=5)
    assert fits_book(20, Side.BUY, snap, 4.0, pair_leg=False)
    assert not fits_book(21, Side.BUY, snap, 4.0, pair_leg=False)
    assert fits_book(40, Side.SELL, snap, 4.0, pair_leg=False)
    assert fits_book(10_000, Side.BUY, snap, 4.0, pair_leg=True)
    assert fits_book(10_000, Side.BUY, snap, 0.0, pair_leg=False)
    nan = MarketDataSnapshot("ES", 1.0, 1.25, ts=TS, ask_size=math.nan)
    assert fits_book(10_000, Side.BUY, nan, 4.0, pair_leg=False)


def test_fitted_participation_ends_before_the_close() -> None:
    # 7,200 s at 10 % with 3,600 s left and 600 s kept clear: 24 %
    assert fitted_participation(0.10, 7_200, 3_600, 600, 20) == pytest.approx(0.24)
    assert fitted_participation(0.10, 100_000, 100, 600, 20) == 1.0  # capped at 100 %
