"""ExecutionPolicy's parent risk budget and session-fitted POV schedules (issue 10)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest

from lib.clock import VirtualClock
from lib.config import ExecutionConfig, RiskConfig
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy
from lib.risk import PreTradeRisk, StaticKillSwitch
from lib.types import AssetClass, MarketDataSnapshot, OrderIntent, PolicyMode, Side


def _snap(clock: VirtualClock, symbol: str, bid: float, ask: float) -> MarketDataSnapshot:
    return MarketDataSnapshot(symbol, bid, ask, ts=clock.now() - timedelta(seconds=1))


def _cfg(base: ExecutionConfig, k: float, fit: bool = False) -> ExecutionConfig:
    caps = dict(base.max_slippage_bps_by_asset_class)
    caps[AssetClass.FUT] = 3.0
    return base.model_copy(update={"collar_budget_k": k, "fit_schedule_to_session": fit,
                                   "max_slippage_bps_by_asset_class": caps, "slice_above_book_multiple": 0.0})  # fmt: skip


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_collar_widens_by_k_sigma_sqrt_span_and_the_ladder_stays_on_the_cap(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock, side: Side
) -> None:
    es = instruments["ES"]
    fixed = ExecutionPolicy(_cfg(exec_config, 0.0), instruments, clock)
    wide = ExecutionPolicy(_cfg(exec_config, 2.0), instruments, clock)
    snap = _snap(clock, "ES", 5999.75, 6000.0)
    a = fixed.create_plan(OrderIntent("o", "ES", side, 10), snap)
    b = wide.create_plan(OrderIntent("o", "ES", side, 10), snap)
    budget = 2.0 * es.profile.daily_vol * 1e4 * math.sqrt(a.ttl_seconds / es.session_seconds)
    mid = 5999.875
    assert b.collar_high == es.floor_to_tick(mid * (1 + (3.0 + budget) / 1e4))
    assert b.collar_low == es.ceil_to_tick(mid * (1 - (3.0 + budget) / 1e4))
    assert b.collar_low < a.collar_low and b.collar_high > a.collar_high
    assert b.limit_price == a.limit_price  # the touch, inside both
    assert b.reprice_ladder == a.reprice_ladder  # climbs to the cap's edge only
    assert any("parent risk budget" in r for r in b.reasons)
    # a drift past the cap's edge: the reprice follows the touch inside the budget, not beyond it
    far = 12.0 if side is Side.BUY else -12.0
    moved = _snap(clock, "ES", 5999.75 + far, 6000.0 + far)
    px_fixed = fixed.reprice(a, 1, moved)
    px_wide = wide.reprice(b, 1, moved)
    edge_a = a.collar_high if side is Side.BUY else a.collar_low
    assert px_fixed == edge_a
    touch = moved.ask if side is Side.BUY else moved.bid
    assert touch is not None
    expect = min(touch, b.collar_high) if side is Side.BUY else max(touch, b.collar_low)
    assert px_wide == expect and b.collar_low <= px_wide <= b.collar_high


def test_sliced_plan_collar_is_the_hard_band_and_its_prices_the_band_at_arrival(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> None:
    dis = instruments["DIS"]
    cfg = _cfg(exec_config, 1.0)
    pol = ExecutionPolicy(cfg, instruments, clock)
    plan = pol.create_plan(OrderIntent("o", "DIS", Side.BUY, 60_000), _snap(clock, "DIS", 149.99, 150.01))
    assert plan.slices is not None
    cap = exec_config.max_slippage_bps_by_asset_class[AssetClass.STK]
    hard = max(cap, cfg.emergency_band_bps)
    assert plan.collar_high == dis.floor_to_tick(150.0 * (1 + hard / 1e4))
    assert plan.collar_low == dis.ceil_to_tick(150.0 * (1 - hard / 1e4))
    start = cap + dis.profile.daily_vol * 1e4 * math.sqrt(plan.ttl_seconds / dis.session_seconds)
    top = 150.0 * (1 + start / 1e4)
    assert plan.limit_price is not None and plan.limit_price <= top
    assert all(p <= top for p in plan.reprice_ladder)
    risk = PreTradeRisk(RiskConfig(), cfg, instruments, StaticKillSwitch())
    assert risk.check_plan(plan).ok
    # the same plan's collar widened past the emergency band, or its limit past the start band: blocked
    wide = replace(plan, collar_high=dis.floor_to_tick(150.0 * (1 + (hard + 5) / 1e4)))
    assert [b.control for b in risk.check_plan(wide).blocks] == ["price_band"]
    far = replace(plan, limit_price=dis.floor_to_tick(150.0 * (1 + (start + 5) / 1e4)))
    assert [b.control for b in risk.check_plan(far).blocks] == ["price_band"]
    # an unsliced plan's collar is the band at arrival, and risk holds it there
    small = pol.create_plan(OrderIntent("o", "DIS", Side.BUY, 100), _snap(clock, "DIS", 149.99, 150.01))
    assert small.slices is None and small.collar_high == dis.floor_to_tick(150.0 * (1 + start / 1e4))
    assert risk.check_plan(small).ok
    assert not risk.check_plan(replace(small, collar_high=plan.collar_high)).ok


def test_auction_and_market_plans_keep_the_plain_collar(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> None:
    fixed = ExecutionPolicy(_cfg(exec_config, 0.0), instruments, clock)
    wide = ExecutionPolicy(_cfg(exec_config, 3.0), instruments, clock)
    snap = _snap(clock, "SPY", 589.99, 590.01)
    it = OrderIntent("o", "SPY", Side.BUY, 100, mode=PolicyMode.AUCTION_CLOSE)
    assert wide.create_plan(it, snap).collar_high == fixed.create_plan(it, snap).collar_high


def test_pov_schedule_is_fitted_to_the_session(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> None:
    cfg = _cfg(exec_config, 0.0, fit=True)
    pol = ExecutionPolicy(cfg, instruments, clock)
    plan = pol.create_plan(OrderIntent("o", "DIS", Side.BUY, 90_000), _snap(clock, "DIS", 149.99, 150.01),
                           remaining_session_seconds=3_600)  # fmt: skip
    assert plan.slices is not None and sum(plan.slices.child_quantities) == 90_000
    end = plan.slices.n_slices * plan.slices.interval_seconds
    assert end <= 3_600 - cfg.avoid_last_minutes_before_close * 60 + plan.slices.interval_seconds
    assert plan.slices.participation > cfg.max_participation_rate
    assert any("participation raised" in r for r in plan.reasons)
    # unfitted: the seed's behaviour, flagged and left as is
    plain = ExecutionPolicy(_cfg(exec_config, 0.0), instruments, clock).create_plan(
        OrderIntent("o", "DIS", Side.BUY, 90_000), _snap(clock, "DIS", 149.99, 150.01), remaining_session_seconds=3_600
    )
    assert plain.slices is not None and plain.slices.n_slices == 352


def test_orders_larger_than_the_book_multiple_are_sliced(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> None:
    cfg = _cfg(exec_config, 0.0).model_copy(update={"slice_above_book_multiple": 4.0})
    pol = ExecutionPolicy(cfg, instruments, clock)
    snap = MarketDataSnapshot("ES", 5999.75, 6000.0, ts=clock.now() - timedelta(seconds=1), bid_size=300, ask_size=250)
    big = pol.create_plan(OrderIntent("o", "ES", Side.BUY, 1001), snap)  # > 4 x 250 on the ask, << 1 % ADV
    assert big.slices is not None and big.slices.style == "POV" and sum(big.slices.child_quantities) == 1001
    assert pol.create_plan(OrderIntent("o", "ES", Side.BUY, 1000), snap).slices is None  # fits: immediate
    assert pol.create_plan(OrderIntent("o", "ES", Side.SELL, 1001), snap).slices is None  # 4 x 300 on the bid
    # unknown displayed size: the order is taken to fit; multiple 0: the rule is off
    nosize = MarketDataSnapshot("ES", 5999.75, 6000.0, ts=clock.now() - timedelta(seconds=1))
    assert pol.create_plan(OrderIntent("o", "ES", Side.BUY, 5000), nosize).slices is None
    off = ExecutionPolicy(_cfg(exec_config, 0.0).model_copy(update={"slice_above_book_multiple": 0.0}), instruments, clock)
    assert off.create_plan(OrderIntent("o", "ES", Side.BUY, 5000), snap).slices is None


def test_pair_legs_are_not_sliced_by_the_book_rule(
    exec_config: ExecutionConfig, instruments: InstrumentRegistry, clock: VirtualClock
) -> None:
    cfg = _cfg(exec_config, 0.0).model_copy(update={"slice_above_book_multiple": 4.0})
    pol = ExecutionPolicy(cfg, instruments, clock)
    snap = MarketDataSnapshot("ES", 5999.75, 6000.0, ts=clock.now() - timedelta(seconds=1), bid_size=300, ask_size=250)
    leg = OrderIntent("o", "ES", Side.BUY, 5000, pair_group="g")
    assert pol.create_plan(leg, snap).slices is None  # the PairExecutor sends a leg as one order
