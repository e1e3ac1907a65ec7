"""Paired bootstrap, summaries, efficiency and the grid (bench/eq)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.eq.aggregate import efficiency
from bench.eq.grid import BUCKETS, EDGE_SECONDS, bucket_quantity, build_grid, cell_seed
from bench.eq.stats import paired_bootstrap, summarize
from lib.instruments import InstrumentRegistry
from lib.types import Side


def test_constant_shift_gives_a_degenerate_interval() -> None:
    x = [1.5, 2.5, 3.5, 10.0]
    ci = paired_bootstrap(x, [v - 2.0 for v in x])
    assert ci.n == 4
    assert ci.mean == pytest.approx(2.0)
    assert ci.low == pytest.approx(2.0) and ci.high == pytest.approx(2.0)
    assert ci.significant_above_zero and not ci.significant_below_zero


def test_pairing_removes_shared_noise() -> None:
    rng = np.random.default_rng(1)
    market = rng.normal(0.0, 50.0, 200)  # shared by both policies
    x = market + 1.0 + rng.normal(0.0, 0.1, 200)
    ci = paired_bootstrap(list(x), list(market))
    assert 0.95 < ci.low < ci.mean < ci.high < 1.05


def test_bootstrap_is_deterministic_and_seeded() -> None:
    x, y = [0.1, 2.0, -1.0, 4.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]
    a = paired_bootstrap(x, y, seed=3)
    assert a == paired_bootstrap(x, y, seed=3)
    assert a.mean == pytest.approx(1.12)
    assert a.low < a.mean < a.high


def test_edge_cases() -> None:
    one = paired_bootstrap([3.0], [1.0])
    assert (one.n, one.mean, one.low, one.high) == (1, 2.0, 2.0, 2.0)
    none = paired_bootstrap([], [])
    assert none.n == 0 and math.isnan(none.mean)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0], level=1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=2, max_size=30))
def test_interval_brackets_the_mean_within_the_sample_range(pairs: list[tuple[float, float]]) -> None:
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    ci = paired_bootstrap(x, y, resamples=300)
    d = [a - b for a, b in pairs]
    assert min(d) - 1e-9 <= ci.low <= ci.high <= max(d) + 1e-9
    assert min(d) - 1e-9 <= ci.mean <= max(d) + 1e-9


def test_summarize() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.n, s.mean, s.median) == (5, 22.0, 3.0)
    assert s.p95 == pytest.approx(80.8)  # linear interpolation between 4 and 100
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)


def test_efficiency() -> None:
    assert efficiency(10.0, 4.0, 2.0) == pytest.approx(0.75)
    assert efficiency(10.0, 12.0, 2.0) == pytest.approx(-0.25)
    assert efficiency(2.05, 1.0, 2.0) is None  # no room above the floor


def test_bucket_quantities(instruments: InstrumentRegistry) -> None:
    es = instruments["ES"].profile
    got = [bucket_quantity(b, es.top_of_book, es.adv) for b in BUCKETS]
    assert got == [60, 300, 1500, 750, 3750, 18000, 45000]  # 1.2 % ADV: off the 1 % slicing threshold
    mes = instruments["MES"].profile
    assert bucket_quantity(BUCKETS[0], mes.top_of_book, mes.adv) == 5


def test_grid_shape_seeds_and_arrivals(instruments: InstrumentRegistry) -> None:
    cells = build_grid(instruments, symbols=("SPY", "FESX"), regimes=("normal",), seeds=3)
    assert len(cells) == 2 * 2 * len(BUCKETS) * 3
    assert len({c.seed for c in cells}) == len(cells)  # every cell its own market
    for c in cells:
        session = instruments[c.symbol].session_seconds
        assert EDGE_SECONDS <= c.arrival_s <= session - EDGE_SECONDS
    quick = build_grid(instruments, symbols=("ES",), regimes=("normal",), seeds=2, arrival_window_s=600,
                       alternate_sides=True)  # fmt: skip
    assert len(quick) == len(BUCKETS) * 2
    assert {c.side for c in quick if c.seed_index == 0} == {Side.BUY}
    assert all(EDGE_SECONDS <= c.arrival_s <= EDGE_SECONDS + 600 for c in quick)
    assert cell_seed(0, "ES", Side.BUY, "normal", "1xTOB", 0) == cell_seed(0, "ES", Side.BUY, "normal", "1xTOB", 0)
    assert cell_seed(0, "ES", Side.BUY, "normal", "1xTOB", 0) != cell_seed(1, "ES", Side.BUY, "normal", "1xTOB", 0)
