"""A twap/vwap plan that IB's own algo works goes out as ONE order over the
whole schedule (IB slices it), priced at the edge of the risk band for that
span, and still passes the pre-trade price band."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.brokers.ibkr_config import IBKRAlgoConfig
from lib.brokers.ibkr_plans import for_ib_algo
from lib.clock import VirtualClock
from lib.config import load_settings
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy
from lib.risk import PreTradeRisk, StaticKillSwitch
from lib.types import MarketDataSnapshot, OrderIntent, PolicyMode, Side

ON = IBKRAlgoConfig(twap_for_plan_mode_twap=True, vwap_for_plan_mode_vwap=True)
SETTINGS = load_settings()


def _snap(clock: VirtualClock, symbol: str = "DIS", mid: float = 150.0) -> MarketDataSnapshot:
    return MarketDataSnapshot(symbol, bid=mid - 0.01, ask=mid + 0.01, last=mid, ts=clock.now(),
                              bid_size=2000, ask_size=2000)  # fmt: skip


def _plan(clock: VirtualClock, instruments: InstrumentRegistry, mode: PolicyMode, side: Side = Side.BUY,
          qty: int = 60_000, symbol: str = "DIS"):  # type: ignore[no-untyped-def]  # fmt: skip
    cfg = SETTINGS.execution.model_copy(update={"default_policy": mode})
    policy = ExecutionPolicy(cfg, instruments, clock)
    adv = instruments[symbol].profile.adv
    return policy.create_plan(OrderIntent(f"t:{symbol}", symbol, side, qty), _snap(clock, symbol), adv)


def _risk(instruments: InstrumentRegistry) -> PreTradeRisk:
    return PreTradeRisk(SETTINGS.risk, SETTINGS.execution, instruments, StaticKillSwitch())


@pytest.mark.parametrize("mode", [PolicyMode.TWAP, PolicyMode.VWAP])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_sliced_plan_becomes_one_ib_algo_order_over_its_schedule(
    clock: VirtualClock, instruments: InstrumentRegistry, mode: PolicyMode, side: Side
) -> None:
    plan = _plan(clock, instruments, mode, side)
    assert plan.slices is not None and plan.slices.n_slices > 1  # our slicer would cut it
    span = plan.slices.duration_seconds + plan.slices.interval_seconds
    risk = _risk(instruments)
    one = for_ib_algo(plan, ON, risk, instruments["DIS"])
    assert one.slices is None and one.quantity == plan.quantity
    assert one.ttl_seconds == max(plan.ttl_seconds, span)  # IB's window: the whole schedule
    assert (one.reprice_ladder, one.max_replace_attempts) == ((), 0)
    assert (one.arrival_mid, one.mode, one.intent) == (plan.arrival_mid, plan.mode, plan.intent)
    # the cap is the band edge for that span, on the side that limits the order
    edge = one.collar_high if side is Side.BUY else one.collar_low
    assert one.limit_price == edge
    assert one.collar_low < plan.arrival_mid < one.collar_high
    assert any(r.startswith(f"ib_{mode.value}:") for r in one.reasons)
    report = risk.check_plan(one)
    assert report.ok, report.blocks


def test_unchanged_when_ib_does_not_work_the_mode(clock: VirtualClock, instruments: InstrumentRegistry) -> None:
    risk, dis = _risk(instruments), instruments["DIS"]
    twap = _plan(clock, instruments, PolicyMode.TWAP)
    assert for_ib_algo(twap, IBKRAlgoConfig(), risk, dis) is twap  # not configured
    assert for_ib_algo(twap, IBKRAlgoConfig(vwap_for_plan_mode_vwap=True), risk, dis) is twap
    limit = _plan(clock, instruments, PolicyMode.MARKETABLE_LIMIT)
    assert for_ib_algo(limit, ON, risk, dis) is limit
    small = _plan(clock, instruments, PolicyMode.TWAP, qty=100)
    if small.slices is None:  # nothing to slice: sent as it is
        assert for_ib_algo(small, ON, risk, dis) is small


@settings(max_examples=60, deadline=None)
@given(qty=st.integers(min_value=20_000, max_value=400_000), mid=st.floats(min_value=20, max_value=900),
       mode=st.sampled_from([PolicyMode.TWAP, PolicyMode.VWAP]), side=st.sampled_from(list(Side)))  # fmt: skip
def test_the_one_order_never_leaves_the_risk_band(
    qty: int, mid: float, mode: PolicyMode, side: Side, instruments: InstrumentRegistry
) -> None:
    from datetime import UTC, datetime

    clock = VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    cfg = SETTINGS.execution.model_copy(update={"default_policy": mode})
    snap = MarketDataSnapshot("DIS", bid=round(mid - 0.01, 2), ask=round(mid + 0.01, 2),
                              last=round(mid, 2), ts=clock.now(), bid_size=2000, ask_size=2000)  # fmt: skip
    plan = ExecutionPolicy(cfg, instruments, clock).create_plan(
        OrderIntent("t:DIS", "DIS", side, qty), snap, instruments["DIS"].profile.adv)
    risk = _risk(instruments)
    one = for_ib_algo(plan, ON, risk, instruments["DIS"])
    assert risk.check_plan(one).ok
    assert one.limit_price is not None and one.collar_low <= one.limit_price <= one.collar_high
    half = max(SETTINGS.execution.emergency_band_bps, SETTINGS.execution.slippage_cap_bps(instruments["DIS"].asset_class))
    assert abs(one.limit_price / one.arrival_mid - 1) * 1e4 <= half + 1e-6
