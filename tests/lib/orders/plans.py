"""Hand-built OrderPlans for the order-lifecycle tests (no policy involved)."""

from __future__ import annotations

from lib.types import OrderIntent, OrderPlan, OrderType, PolicyMode, Side, SliceSchedule

BUY_LADDER = (100.03, 100.04, 100.05, 100.06, 100.07, 100.08)
SELL_LADDER = (99.97, 99.96, 99.95, 99.94, 99.93, 99.92)
COLLAR = (99.90, 100.10)  # 10 bps around 100.00


def make_plan(
    side: Side = Side.BUY,
    quantity: int = 100,
    *,
    intent_id: str = "I1",
    symbol: str = "SPY",
    limit: float | None = None,
    ladder: tuple[float, ...] | None = None,
    collar: tuple[float, float] = COLLAR,
    ttl: float = 120.0,
    interval: float = 15.0,
    max_replaces: int = 6,
    mode: PolicyMode = PolicyMode.MARKETABLE_LIMIT,
    slices: SliceSchedule | None = None,
) -> OrderPlan:
    if limit is None and mode is not PolicyMode.MARKET:
        limit = 100.02 if side is Side.BUY else 99.98
    if ladder is None:
        ladder = BUY_LADDER if side is Side.BUY else SELL_LADDER
    order_type = {
        PolicyMode.MARKET: OrderType.MKT,
        PolicyMode.AUCTION_CLOSE: OrderType.LOC,
    }.get(mode, OrderType.LMT)
    return OrderPlan(
        intent=OrderIntent(intent_id=intent_id, symbol=symbol, side=side, quantity=quantity),
        mode=mode,
        order_type=order_type,
        limit_price=limit,
        collar_low=collar[0],
        collar_high=collar[1],
        arrival_mid=100.0,
        ttl_seconds=ttl,
        replace_interval_seconds=interval,
        max_replace_attempts=max_replaces,
        reprice_ladder=ladder,
        max_slippage_bps=10.0,
        slices=slices,
    )
