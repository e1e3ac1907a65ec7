"""VWAP children on a U-shaped intraday volume profile (lib.slicing.vwap_schedule)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.slicing import U_SHAPE_AMPLITUDE, twap_schedule, u_shape_weight, vwap_schedule


def test_u_shape_weight_has_mean_one_and_a_u() -> None:
    a = 2.0
    n = 10_000
    mean = sum(u_shape_weight((i + 0.5) / n, a) for i in range(n)) / n
    assert mean == pytest.approx(1.0, abs=1e-6)
    assert u_shape_weight(0.0, a) == pytest.approx(3 * u_shape_weight(0.5, a))  # 1 + a at the edges
    assert u_shape_weight(0.5, 0.0) == 1.0
    with pytest.raises(ValueError):
        u_shape_weight(0.5, -1.0)


def test_whole_session_vwap_is_heavier_at_open_and_close() -> None:
    s = vwap_schedule(23_400, 23_400, 600, session_seconds=23_400, start_offset_seconds=0, exchange="NYSE")
    q = s.child_quantities
    assert s.style == "VWAP" and sum(q) == 23_400 and len(q) == 39
    mid = q[len(q) // 2]
    assert q[0] > 2 * mid and q[-1] > 2 * mid
    assert q == tuple(reversed(q)) or abs(q[0] - q[-1]) <= 1  # symmetric profile


def test_same_spacing_as_twap_and_flat_for_a_flat_exchange() -> None:
    v = vwap_schedule(1000, 3000, 20, session_seconds=23_400, start_offset_seconds=11_000, exchange="XXX")
    t = twap_schedule(1000, 3000, 20)
    assert v.n_slices == t.n_slices and v.interval_seconds == t.interval_seconds
    assert "CME" in U_SHAPE_AMPLITUDE
    # midday: the U is almost flat, children within a share or two of the TWAP split
    assert max(abs(a - b) for a, b in zip(v.child_quantities, t.child_quantities, strict=True)) <= 2


@settings(max_examples=80, deadline=None)
@given(
    qty=st.integers(1, 500_000),
    duration=st.floats(20, 30_000),
    start=st.floats(0, 30_000),
    exchange=st.sampled_from(["NYSE", "LSE", "EUREX", "CME", None]),
)
def test_vwap_children_sum_exactly_and_are_positive(qty: int, duration: float, start: float, exchange: str | None) -> None:
    s = vwap_schedule(qty, duration, 20, session_seconds=30_600, start_offset_seconds=start, exchange=exchange)
    assert sum(s.child_quantities) == qty and min(s.child_quantities) >= 1
