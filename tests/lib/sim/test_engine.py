"""Simulator engine: tape independence from our orders, impact, vectorised quotes."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from lib.brokers.base import OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry
from lib.sim.config import SimConfig
from lib.sim.impact import ImpactModel, sqrt_law
from lib.sim.market import InstrumentMarket, StepResult, bid_ticks_for
from lib.types import OrderType, Side

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _record(b: SimBroker, sym: str) -> list[Any]:
    mkt = b.sim.markets[sym]
    log: list[Any] = []
    step: Callable[[int], StepResult] = mkt.step

    def wrapped(k: int) -> StepResult:
        res = step(k)
        log.append((mkt.latent, tuple((t.side, t.size) for t in res.trades), res.log_keep))
        return res

    mkt.step = wrapped  # type: ignore[method-assign]
    return log


def test_exogenous_tape_does_not_depend_on_our_orders(instruments: InstrumentRegistry) -> None:
    cfg = SimConfig(seed=9, symbols=("ES", "DIS"))
    c1, c2 = VirtualClock(T0), VirtualClock(T0)
    active, idle = SimBroker(c1, cfg, instruments), SimBroker(c2, cfg, instruments)
    logs = [(_record(active, s), _record(idle, s)) for s in ("ES", "DIS")]
    for i in range(60):
        s = active.get_market_data("DIS")
        assert s.bid is not None
        active.submit_order(OrderRequest(f"x{i}", "ES", Side.BUY, 40, OrderType.MKT, None))
        active.submit_order(OrderRequest(f"y{i}", "DIS", Side.SELL, 200, OrderType.LMT, s.bid))
        active.submit_order(OrderRequest(f"z{i}", "DIS", Side.BUY, 100, OrderType.LMT, round(s.bid - 0.02, 2)))
        c1.advance(5)
        c2.advance(5)
    for a, b in logs:
        assert len(a) == len(b) == 300 and a == b
    # ...while our impact moved the quotes
    assert active.sim.mid("ES") > idle.sim.mid("ES") + 1.0
    assert active.sim.markets["ES"].latent == idle.sim.markets["ES"].latent


def test_impact_model_square_root_and_relaxation() -> None:
    m = ImpactModel(y=0.7, sigma_price=60.0, adv=1_500_000, tau_s=300, idle_s=60)
    q = 15_000  # 1% ADV
    for t in range(100):
        m.on_fill(q / 100, float(t))
    peak = 0.7 * 60.0 * math.sqrt(0.01)
    assert m.value == pytest.approx(peak)
    for t in range(100, 100 + 2000):
        m.step(float(t))
    assert m.value == pytest.approx(2 / 3 * peak, rel=1e-3)
    # linear below 1e-3 ADV, continuous at the kink
    assert sqrt_law(750, 1_500_000, 0.7, 60.0, 1e-3) == pytest.approx(0.5 * sqrt_law(1500, 1_500_000, 0.7, 60.0, 1e-3))
    assert sqrt_law(-1500, 1_500_000, 0.7, 60.0, 1e-3) == -sqrt_law(1500, 1_500_000, 0.7, 60.0, 1e-3)


def test_market_impact_through_the_broker(instruments: InstrumentRegistry) -> None:
    cfg = SimConfig(seed=4, symbols=("ES",), latency_median_s=0.0)
    c1, c2 = VirtualClock(T0), VirtualClock(T0)
    active, idle = SimBroker(c1, cfg, instruments), SimBroker(c2, cfg, instruments)
    q = 7_500  # 0.5% ADV in 50 children of 150 over 500 s
    for i in range(50):
        active.submit_order(OrderRequest(f"m{i}", "ES", Side.BUY, q // 50, OrderType.MKT, None))
        c1.advance(10)
        c2.advance(10)
    c1.advance(30)
    c2.advance(30)
    expected = 0.7 * 0.01 * 6000 * math.sqrt(0.005)
    diffs = []
    for _ in range(20):
        c1.advance(1)
        c2.advance(1)
        diffs.append(active.sim.mid("ES") - idle.sim.mid("ES"))
    assert np.mean(diffs) == pytest.approx(expected, rel=0.05)
    assert active.get_positions() == {"ES": q}


def test_vectorised_quotes_match_live_quotes(instruments: InstrumentRegistry) -> None:
    inst = instruments["DIS"]
    cfg = SimConfig(seed=12, flow_lead_s=0)
    live = InstrumentMarket(inst, cfg)
    n = 700
    mids = []
    for k in range(1, n + 1):
        live.step(k)
        mids.append(live.quote.bid_ticks + live.quote.ask_ticks)
    fresh = InstrumentMarket(inst, cfg)
    _, dx = fresh.fresh_draws("price", n)
    spread, _ = fresh.fresh_draws("book", n)
    x = (inst.profile.price + np.cumsum(dx)) / inst.tick_size
    assert np.array_equal(2 * bid_ticks_for(x, spread) + spread, np.array(mids))
