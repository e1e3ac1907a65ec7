"""Property tests: every price a plan can use is on the grid and inside its
collar; ladders are monotone toward the aggressive side; invalid market data
never yields a plan."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import MarketDataRejected, RejectReason
from lib.instruments import load_instruments
from lib.policy import ExecutionPolicy
from lib.types import AssetClass, Instrument, MarketDataSnapshot, OrderIntent, PolicyMode, Side

REGISTRY = load_instruments()
SYMBOLS = sorted(REGISTRY)
T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
LIMIT_MODES = [
    None,
    PolicyMode.MARKETABLE_LIMIT,
    PolicyMode.PASSIVE_FIRST,
    PolicyMode.TWAP,
    PolicyMode.VWAP,
    PolicyMode.AUCTION_CLOSE,
]


@st.composite
def quotes(draw: st.DrawFn, inst: Instrument) -> tuple[float, float]:
    """Valid (bid, ask): on-grid with 0..30 ticks of spread (0 = locked), or
    off-grid floats as a sloppy feed might send."""
    level = draw(st.floats(0.5, 1.5)) * inst.profile.price
    if draw(st.booleans()):
        bid_idx = max(1, round(level / inst.tick_size))
        spread = draw(st.integers(0, 30))
        return (
            inst.round_to_tick(bid_idx * inst.tick_size),
            inst.round_to_tick((bid_idx + spread) * inst.tick_size),
        )
    width = draw(st.floats(0.0, 0.01))
    return level, level * (1.0 + width)


@st.composite
def configs(draw: st.DrawFn) -> ExecutionConfig:
    cap = st.floats(0.05, 50.0)
    return ExecutionConfig(
        max_replace_attempts=draw(st.integers(0, 12)),
        max_slippage_bps_by_asset_class={ac: draw(cap) for ac in AssetClass},
    )


def snapshot(
    symbol: str, bid: float | None, ask: float | None, ts: datetime | None
) -> MarketDataSnapshot:
    return MarketDataSnapshot(symbol, bid, ask, ts=ts)


def assert_on_grid_in_collar(inst: Instrument, price: float, low: float, high: float) -> None:
    assert inst.on_tick(price), (inst.symbol, price)
    assert low - 1e-9 <= price <= high + 1e-9, (inst.symbol, price, low, high)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_price_on_grid_inside_collar(data: st.DataObject) -> None:
    inst = REGISTRY[data.draw(st.sampled_from(SYMBOLS))]
    cfg = data.draw(configs())
    side = data.draw(st.sampled_from(list(Side)))
    mode = data.draw(st.sampled_from(LIMIT_MODES))
    qty = data.draw(st.integers(1, 50_000))
    age = data.draw(st.floats(0.0, cfg.max_data_age_seconds))
    aggression = data.draw(st.integers(0, 3))
    bid, ask = data.draw(quotes(inst))
    clock = VirtualClock(T0)
    policy = ExecutionPolicy(cfg, REGISTRY, clock, aggression_ticks=aggression)

    plan = policy.create_plan(
        OrderIntent("i", inst.symbol, side, qty, mode=mode),
        snapshot(inst.symbol, bid, ask, T0 - timedelta(seconds=age)),
    )

    low, high = plan.collar_low, plan.collar_high
    mid = (bid + ask) / 2
    assert plan.arrival_mid == mid
    assert inst.on_tick(low) and inst.on_tick(high) and low <= high
    if low < high:  # not collapsed: the collar honours the cap
        cap = cfg.slippage_cap_bps(inst.asset_class)
        assert (high - mid) / mid * 1e4 <= cap + 1e-6
        assert (mid - low) / mid * 1e4 <= cap + 1e-6
    else:
        assert low == inst.round_to_tick(mid)
    assert plan.limit_price is not None
    assert_on_grid_in_collar(inst, plan.limit_price, low, high)
    for rung in plan.reprice_ladder:
        assert_on_grid_in_collar(inst, rung, low, high)
    # monotone toward the aggressive side, starting from the initial limit
    path = [side.sign * p for p in (plan.limit_price, *plan.reprice_ladder)]
    assert all(b >= a - 1e-9 for a, b in zip(path, path[1:], strict=False))
    # the last rung reaches the aggressive edge (passive-first spends its first
    # rung on the touch, so it needs two rungs to get there)
    min_rungs = 2 if plan.mode is PolicyMode.PASSIVE_FIRST else 1
    if len(plan.reprice_ladder) >= min_rungs:
        assert plan.reprice_ladder[-1] == (high if side is Side.BUY else low)

    # reprice on any later valid quotes stays in the ORIGINAL collar
    for attempt in range(1, len(plan.reprice_ladder) + 1):
        new_bid, new_ask = data.draw(quotes(inst))
        clock.advance(cfg.replace_interval_seconds)
        price = policy.reprice(plan, attempt, snapshot(inst.symbol, new_bid, new_ask, clock.now()))
        assert_on_grid_in_collar(inst, price, low, high)
        rung = plan.reprice_ladder[attempt - 1]
        assert side.sign * price >= side.sign * rung - 1e-9  # never less aggressive than the rung


INVALID_KINDS = {
    "nan_bid": RejectReason.INVALID_PRICE,
    "nan_ask": RejectReason.INVALID_PRICE,
    "inf_ask": RejectReason.INVALID_PRICE,
    "non_positive_bid": RejectReason.INVALID_PRICE,
    "non_positive_ask": RejectReason.INVALID_PRICE,
    "crossed": RejectReason.CROSSED_MARKET,
    "stale": RejectReason.STALE_DATA,
    "future": RejectReason.STALE_DATA,
    "no_ts": RejectReason.STALE_DATA,
    "missing_bid": RejectReason.MISSING_QUOTES,
    "missing_ask": RejectReason.MISSING_QUOTES,
    "other_symbol": RejectReason.SYMBOL_MISMATCH,
}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_invalid_snapshots_never_plan(data: st.DataObject) -> None:
    inst = REGISTRY[data.draw(st.sampled_from(SYMBOLS))]
    kind = data.draw(st.sampled_from(sorted(INVALID_KINDS)))
    side = data.draw(st.sampled_from(list(Side)))
    mode = data.draw(st.sampled_from(LIMIT_MODES))
    qty = data.draw(st.integers(0, 10_000))  # zero too: data is checked first
    cfg = ExecutionConfig()
    bid, ask = data.draw(quotes(inst))
    good = snapshot(inst.symbol, bid, ask, T0)
    bad_price = data.draw(st.floats(-1e6, 0.0))
    extra_age = data.draw(st.floats(1e-3, 1e5))
    over = timedelta(seconds=cfg.max_data_age_seconds + extra_age)
    bad = {
        "nan_bid": replace(good, bid=math.nan),
        "nan_ask": replace(good, ask=math.nan),
        "inf_ask": replace(good, ask=math.inf),
        "non_positive_bid": replace(good, bid=bad_price),
        "non_positive_ask": replace(good, ask=bad_price),
        "crossed": replace(good, bid=ask + inst.tick_size * data.draw(st.integers(1, 50))),
        "stale": replace(good, ts=T0 - over),
        "future": replace(good, ts=T0 + over),
        "no_ts": replace(good, ts=None),
        "missing_bid": replace(good, bid=None),
        "missing_ask": replace(good, ask=None),
        "other_symbol": replace(good, symbol=inst.symbol + "X"),
    }[kind]
    policy = ExecutionPolicy(cfg, REGISTRY, VirtualClock(T0))
    try:
        plan = policy.create_plan(OrderIntent("i", inst.symbol, side, qty, mode=mode), bad)
    except MarketDataRejected as exc:
        assert exc.reason is INVALID_KINDS[kind]
        assert exc.symbol == inst.symbol
    else:
        raise AssertionError(f"{kind}: invalid snapshot produced a plan: {plan}")
