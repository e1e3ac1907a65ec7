"""Presets, the U-shaped intraday profile and closing-auction orders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.brokers.base import BrokerOrderStatus, OrderRequest
from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry
from lib.sim.config import LatencyProfile, Regime, SimConfig
from lib.sim.market import InstrumentMarket
from lib.sim.presets import DEMO_SYMBOLS, bench_config, demo_config, make_sim_broker, preset_config
from lib.types import OrderType, Side


def test_demo_and_bench_presets(instruments: InstrumentRegistry) -> None:
    d = demo_config(3)
    assert d.seed == 3 and d.symbols == DEMO_SYMBOLS and d.regime is Regime.NORMAL
    assert d.latency_median == 0.050 and d.random_reject_rate == 0.0
    assert all(s in instruments for s in DEMO_SYMBOLS)
    b = bench_config(1, regime="stressed", latency="retail", impact_y=1.0)
    assert b.symbols is None and b.stress and b.latency is LatencyProfile.RETAIL
    assert b.latency_median == 0.150 and b.impact_y == 1.0
    assert preset_config("demo", 5, latency="zero").latency_median == 0.0
    with pytest.raises(ValueError, match="unknown simulator preset"):
        preset_config("nope")


def test_make_sim_broker_resumes_from_state(tmp_path: Path, clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    path = tmp_path / "s.json"
    b1 = make_sim_broker("demo", clock, seed=2, state_path=path, instruments=instruments)
    b1.submit_order(OrderRequest("p1", "ES", Side.BUY, 1, OrderType.MKT, None))
    clock.advance(1)
    b2 = make_sim_broker("demo", VirtualClock(clock.now()), seed=2, state_path=path, instruments=instruments)
    assert b2.get_positions() == {"ES": 1} and b2.config == b1.config


def test_u_shape_keeps_daily_variance(instruments: InstrumentRegistry) -> None:
    inst = instruments["SPY"]
    m = InstrumentMarket(inst, SimConfig(intraday_u_shape=True, session_offset_s=0))
    u = np.concatenate([m._u_shape(k0) for k0 in range(0, inst.session_seconds, 256)])[: inst.session_seconds]
    assert np.mean(u**2) == pytest.approx(1.0, rel=1e-3)
    # vol^2 is 1 + a = 2.5 times higher at the open than at midday (a = 1.5)
    assert u[0] == pytest.approx((2.5 / 1.5) ** 0.5) and u[inst.session_seconds // 2] == pytest.approx((1 / 1.5) ** 0.5, rel=1e-3)


def test_moc_and_loc_fill_at_the_close(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    from lib.brokers.sim import SimBroker

    b = SimBroker(clock, SimConfig(seed=1, symbols=("SPY",), session_offset_s=23_380, latency_median_s=0.0), instruments)
    b.submit_order(OrderRequest("moc", "SPY", Side.BUY, 100, OrderType.MOC, None))
    b.submit_order(OrderRequest("loc", "SPY", Side.SELL, 100, OrderType.LOC, 580.0))
    clock.advance(19)
    assert b.get_order_status("moc").status is BrokerOrderStatus.SUBMITTED
    clock.advance(1)
    mid = b.sim.mid("SPY")
    for coid in ("moc", "loc"):
        u = b.get_order_status(coid)
        assert u.status is BrokerOrderStatus.FILLED and u.avg_fill_price == pytest.approx(mid)
