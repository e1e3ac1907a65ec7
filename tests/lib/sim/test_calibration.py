"""The calibration gates pass at test-size samples (the benchmark uses bigger ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.instruments import InstrumentRegistry
from lib.sim import calibration as cal


def test_hill_estimator_recovers_a_known_tail() -> None:
    rng = np.random.default_rng(0)
    x = (1.0 - rng.random(200_000)) ** (-1 / 1.5)
    assert cal.hill_estimator(x, 2000) == pytest.approx(1.5, abs=0.07)


def test_gate_result_bounds() -> None:
    assert cal._gate("x", 1.0, 0.9, 1.1).passed
    assert not cal._gate("x", 1.2, 0.9, 1.1).passed
    assert not cal._gate("x", math.nan, -math.inf, 0.0).passed


def test_vol_gates(instruments: InstrumentRegistry) -> None:
    g1 = cal.gate_vol_1min(0, ("SPY", "ES", "6E"), days=10, instruments=instruments)
    g2 = cal.gate_vol_1day(0, ("SPY", "6E"), days=250, instruments=instruments)
    assert g1.passed and g2.passed, (g1, g2)


def test_half_spread_gate(instruments: InstrumentRegistry) -> None:
    g = cal.gate_half_spread(0, trials=10, instruments=instruments)
    assert g.passed and g.measured < 1e-9, g


def test_sqrt_law_gates(instruments: InstrumentRegistry) -> None:
    fit = cal.fit_sqrt_law(0, "ES", fractions=(0.002, 0.005, 0.02), instruments=instruments)
    for g in (cal.gate_impact_exponent(0, fit), cal.gate_impact_y(0, fit), cal.gate_impact_relaxation(0, fit)):
        assert g.passed, g
    assert fit.exponent == pytest.approx(0.5, abs=0.02)
    assert fit.y == pytest.approx(0.7, abs=0.05)


def test_passive_markout_gate(instruments: InstrumentRegistry) -> None:
    g = cal.gate_passive_markout(0, ("SPY", "ES", "DIS"), seconds=1800, instruments=instruments)
    assert g.passed, g


def test_trade_size_tail_gate(instruments: InstrumentRegistry) -> None:
    g = cal.gate_trade_size_tail(0, instruments=instruments)
    assert g.passed and 1.3 <= g.measured <= 1.7, g
