"""Child-order schedules: exact sums, no zero children, participation caps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.slicing import (
    NO_PARTICIPATION_CAP,
    even_split,
    expected_volume,
    pov_cap,
    pov_schedule,
    twap_schedule,
)


class TestExpectedVolume:
    def test_flat_profile(self) -> None:
        # SPY: 70M/day over 23,400 s -> 20 s is 59,829.06 shares.
        assert expected_volume(70_000_000, 23_400, 20) == pytest.approx(59_829.0598, rel=1e-9)

    def test_whole_session_is_adv(self) -> None:
        assert expected_volume(1_500_000, 23_400, 23_400) == pytest.approx(1_500_000)

    @pytest.mark.parametrize(
        ("adv", "session", "seconds"),
        [(-1, 23_400, 20), (1e6, 0, 20), (1e6, 23_400, -1), (math.nan, 23_400, 20)],
    )
    def test_bad_inputs(self, adv: float, session: float, seconds: float) -> None:
        with pytest.raises(ValueError):
            expected_volume(adv, session, seconds)


class TestEvenSplit:
    def test_remainder_front_loaded(self) -> None:
        assert even_split(10, 3) == (4, 3, 3)

    def test_n_larger_than_quantity_rejected(self) -> None:
        with pytest.raises(ValueError):
            even_split(2, 3)


class TestTwap:
    def test_one_child_per_interval(self) -> None:
        s = twap_schedule(1_000, 600, 20)
        assert s.style == "TWAP"
        assert s.n_slices == 30
        assert s.interval_seconds == 20
        assert s.child_quantities == (34,) * 10 + (33,) * 20
        assert s.participation == NO_PARTICIPATION_CAP

    def test_small_quantity_widens_spacing(self) -> None:
        s = twap_schedule(5, 600, 20)
        assert s.child_quantities == (1, 1, 1, 1, 1)
        assert s.interval_seconds == 120

    def test_duration_shorter_than_interval_is_one_child(self) -> None:
        s = twap_schedule(7, 10, 20)
        assert s.child_quantities == (7,)

    def test_style_label(self) -> None:
        assert twap_schedule(10, 100, 20, style="VWAP").style == "VWAP"

    @pytest.mark.parametrize("qty", [0, -5])
    def test_non_positive_quantity(self, qty: int) -> None:
        with pytest.raises(ValueError):
            twap_schedule(qty, 600, 20)


class TestPov:
    def test_cap_from_participation(self) -> None:
        # ES: 1.5M/day, 23,400 s, 20 s interval -> 1,282.05 contracts; 10% -> 128.
        assert pov_cap(1_500_000, 23_400, 0.10, 20) == 128

    def test_cap_never_below_one_share(self) -> None:
        # 6E: 200k/day, 50,400 s: 20 s -> 79.4 contracts; 1% -> 0.79 -> 1.
        assert pov_cap(200_000, 50_400, 0.01, 20) == 1

    def test_schedule_respects_cap_and_sums(self) -> None:
        # 3% of ES ADV = 45,000 contracts at cap 128 -> 352 children.
        s = pov_schedule(45_000, 1_500_000, 23_400, 0.10, 20)
        assert s.style == "POV"
        assert s.n_slices == math.ceil(45_000 / 128) == 352
        assert sum(s.child_quantities) == 45_000
        assert max(s.child_quantities) <= 128
        assert min(s.child_quantities) >= 127
        assert s.participation == 0.10
        assert s.interval_seconds == 20

    def test_order_below_cap_is_one_child(self) -> None:
        assert pov_schedule(50, 1_500_000, 23_400, 0.10, 20).child_quantities == (50,)

    @pytest.mark.parametrize("participation", [0.0, 1.5, math.nan])
    def test_bad_participation(self, participation: float) -> None:
        with pytest.raises(ValueError):
            pov_schedule(100, 1e6, 23_400, participation, 20)


@given(
    qty=st.integers(1, 2_000_000),
    duration=st.floats(1, 50_400),
    interval=st.floats(1, 600),
)
def test_twap_invariants(qty: int, duration: float, interval: float) -> None:
    s = twap_schedule(qty, duration, interval)
    assert sum(s.child_quantities) == qty
    assert all(c > 0 for c in s.child_quantities)
    assert max(s.child_quantities) - min(s.child_quantities) <= 1
    assert s.interval_seconds >= interval


@given(
    qty=st.integers(1, 100_000),
    adv=st.floats(1_000, 1e8),
    session=st.integers(3_600, 86_400),
    participation=st.floats(0.001, 1.0),
    interval=st.floats(1, 300),
)
def test_pov_invariants(
    qty: int, adv: float, session: int, participation: float, interval: float
) -> None:
    s = pov_schedule(qty, adv, session, participation, interval)
    assert sum(s.child_quantities) == qty
    assert all(c > 0 for c in s.child_quantities)
    raw_cap = participation * expected_volume(adv, session, interval)
    # Never above the cap, except that a cap rounding below one share allows 1.
    limit = max(1, math.floor(raw_cap + 1e-9))
    assert max(s.child_quantities) <= limit
    assert max(s.child_quantities) <= max(1.0, raw_cap + 1e-6)
