"""One tiny cell through the real order layer and the peers on the simulator (bench/eq/runner)."""

from __future__ import annotations

import pytest

from bench.eq.grid import BUCKETS, Cell
from bench.eq.policies import policy_specs
from bench.eq.runner import analytic_floor_bps, run_cell
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.types import Side


def _cell() -> Cell:
    return Cell("ES", Side.BUY, "normal", BUCKETS[0], 0, seed=12345, quantity=5, arrival_s=930.0)


def test_tiny_cell_runs_every_main_policy(instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> None:
    specs = policy_specs(exec_config, sensitivity=False)
    r = run_cell(_cell(), specs, instruments)
    assert set(r.outcomes) == {"P0", "P1", "P2", "TWAP", "POV10", "POV25", "AC", "PF"}
    p0 = r.outcomes["P0"]
    # 5 lots <= top of book: the market order pays the half spread (+ fees), nothing else
    assert p0.complete and p0.fill_rate == 1.0 and p0.sweep_bps == 0.0 and p0.cv_bps == 0.0
    assert p0.is_adj_bps == pytest.approx(r.half_spread_bps + p0.fees_bps, abs=1e-6)
    assert p0.is_bps == pytest.approx(p0.is_adj_bps, abs=1e-6)
    for name in ("P1", "P2"):
        o = r.outcomes[name]
        assert o.limits_checked >= 1 and o.collar_violations == 0
        assert o.is_bps == pytest.approx(o.spread_bps + o.impact_bps + o.delay_bps + o.opportunity_bps + o.fees_bps)
    for o in r.outcomes.values():
        assert o.is_cv_bps == pytest.approx(o.is_adj_bps - o.cv_bps)
        if o.complete:
            assert o.sweep_bps == 0.0
    # the floor: half spread + (2/3) x the simulator's impact of 5 lots (linear branch)
    assert r.floor_bps == pytest.approx(r.half_spread_bps + r.analytic_floor_bps)


def test_same_seed_same_result(instruments: InstrumentRegistry, exec_config: ExecutionConfig) -> None:
    specs = [s for s in policy_specs(exec_config, sensitivity=False) if s.name in ("P0", "PF")]
    a = run_cell(_cell(), specs, instruments)
    b = run_cell(_cell(), specs, instruments)
    assert a.outcomes == b.outcomes and a.arrival_mid == b.arrival_mid


def test_analytic_floor() -> None:
    # (2/3) * 0.7 * 1% * sqrt(1%) = 4.667 bps (above the linear branch)
    assert analytic_floor_bps(0.7, 0.01, 15_000, 1_500_000, 1e-3) == pytest.approx(4.6667, abs=1e-4)
    # below 1e-3 of ADV the simulator's law is linear: x / sqrt(x0)
    lin = 2 / 3 * 0.7 * 0.01 * (1e-4 / 1e-3**0.5) * 1e4
    assert analytic_floor_bps(0.7, 0.01, 150, 1_500_000, 1e-3) == pytest.approx(lin)
