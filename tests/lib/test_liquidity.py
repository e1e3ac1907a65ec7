"""LiquidityEstimator: profiles, ADV fractions, size buckets, slicing decision."""

from __future__ import annotations

import pytest

from lib.config import ExecutionConfig
from lib.errors import UnknownInstrument
from lib.instruments import InstrumentRegistry
from lib.liquidity import (
    DEFAULT_PROFILES,
    LiquidityEstimator,
    SizeClass,
    get_liquidity_estimator,
)
from lib.types import AssetClass, LiquidityProfile


@pytest.fixture
def est(instruments: InstrumentRegistry) -> LiquidityEstimator:
    return LiquidityEstimator(instruments)


class TestProfiles:
    def test_registry_profile_first(self, est: LiquidityEstimator) -> None:
        assert est.get_adv("SPY") == 70_000_000
        assert est.get_profile("ES", AssetClass.ETF).top_of_book == 300  # registry wins

    def test_asset_class_default(self, est: LiquidityEstimator) -> None:
        assert est.get_profile("XYZ", AssetClass.STK) == DEFAULT_PROFILES[AssetClass.STK]
        assert est.get_adv("XYZ", AssetClass.FUT) == 50_000

    def test_unknown_without_class(self, est: LiquidityEstimator) -> None:
        with pytest.raises(UnknownInstrument):
            est.get_adv("XYZ")

    def test_custom_defaults(self, instruments: InstrumentRegistry) -> None:
        prof = LiquidityProfile(price=10, spread_bps=20, daily_vol=0.03, adv=1_000, top_of_book=10)
        est = LiquidityEstimator(instruments, {AssetClass.STK: prof})
        assert est.get_adv("XYZ", AssetClass.STK) == 1_000
        with pytest.raises(UnknownInstrument):
            est.get_adv("XYZ", AssetClass.ETF)

    def test_bad_default_rejected(self, instruments: InstrumentRegistry) -> None:
        prof = LiquidityProfile(price=10, spread_bps=20, daily_vol=0.03, adv=0, top_of_book=10)
        with pytest.raises(ValueError):
            LiquidityEstimator(instruments, {AssetClass.STK: prof})

    def test_helper_loads_registry(self) -> None:
        assert get_liquidity_estimator().get_adv("6E") == 200_000


class TestSizeClass:
    def test_adv_fraction(self, est: LiquidityEstimator) -> None:
        assert est.adv_fraction("DIS", 30_000) == pytest.approx(0.01)
        assert est.adv_fraction("DIS", -30_000) == pytest.approx(0.01)

    @pytest.mark.parametrize(
        ("symbol", "qty", "expected"),
        [
            ("DIS", 60, SizeClass.TINY),  # 0.2x top of book (300)
            ("DIS", 300, SizeClass.TINY),  # 1x top of book
            ("DIS", 1_500, SizeClass.SMALL),  # 5x top of book = 0.05% ADV
            ("DIS", 3_000, SizeClass.SMALL),  # exactly 0.1% ADV: still linear regime
            ("DIS", 7_500, SizeClass.MEDIUM),  # 0.25% ADV
            ("DIS", 30_000, SizeClass.MEDIUM),  # 1% ADV: at the threshold, not above
            ("DIS", 30_001, SizeClass.LARGE),
            ("DIS", 90_000, SizeClass.LARGE),  # 3% ADV
            ("ES", 1_500, SizeClass.SMALL),  # 5x ES top of book = 0.1% ADV
        ],
    )
    def test_buckets(
        self, est: LiquidityEstimator, symbol: str, qty: int, expected: SizeClass
    ) -> None:
        assert est.classify_order_size(symbol, qty) is expected

    def test_large_checked_before_tiny(self, est: LiquidityEstimator) -> None:
        # CSPX top of book 333 is 0.22% of its 150k ADV: a 0.2% threshold makes it LARGE.
        assert est.classify_order_size("CSPX", 333) is SizeClass.TINY
        assert est.classify_order_size("CSPX", 333, adv_fraction_threshold=0.002) is SizeClass.LARGE


class TestSliceParameters:
    def test_no_slicing_at_threshold(self, est: LiquidityEstimator) -> None:
        assert est.slice_parameters("DIS", 30_000, ExecutionConfig()) is None

    def test_pov_above_threshold(self, est: LiquidityEstimator) -> None:
        s = est.slice_parameters("DIS", 30_001, ExecutionConfig())
        assert s is not None
        # DIS 3M/day over 23,400 s: 20 s -> 2,564.1 shares; 10% -> cap 256.
        assert s.style == "POV"
        assert s.n_slices == 118  # ceil(30,001 / 256)
        assert sum(s.child_quantities) == 30_001
        assert max(s.child_quantities) <= 256
        assert s.interval_seconds == 20
        assert s.participation == 0.10

    def test_unknown_symbol_uses_default_session(self, est: LiquidityEstimator) -> None:
        s = est.slice_parameters("XYZ", 10_000, ExecutionConfig(), AssetClass.STK)
        assert s is not None
        # 500k/day over 23,400 s: 20 s -> 427.4; 10% -> 42 -> 239 children.
        assert max(s.child_quantities) <= 42
        assert s.n_slices == 239
