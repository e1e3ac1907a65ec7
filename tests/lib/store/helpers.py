"""Small builders for ledger tests (concrete numbers, no randomness)."""

from __future__ import annotations

from datetime import datetime, timedelta

from lib.store import LedgerRepository
from lib.types import Fill, OrderIntent, OrderPlan, OrderType, PolicyMode, Side

REB = "core-2026-11-24-us-open"


def intent(
    intent_id: str = "i-SPY",
    symbol: str = "SPY",
    side: Side = Side.BUY,
    quantity: int = 300,
    sleeve: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        intent_id=intent_id, symbol=symbol, side=side, quantity=quantity, sleeve=sleeve
    )


def plan(
    it: OrderIntent,
    *,
    limit: float = 450.05,
    mid: float = 450.0,
    created_at: datetime | None = None,
) -> OrderPlan:
    return OrderPlan(
        intent=it,
        mode=PolicyMode.MARKETABLE_LIMIT,
        order_type=OrderType.LMT,
        limit_price=limit,
        collar_low=447.75,
        collar_high=452.25,
        arrival_mid=mid,
        ttl_seconds=120.0,
        replace_interval_seconds=20.0,
        max_replace_attempts=3,
        reprice_ladder=(450.10, 450.15, 450.20),
        max_slippage_bps=25.0,
        adv_fraction=0.0004,
        created_at=created_at,
        reasons=("spread ok",),
    )


def write_order(
    repo: LedgerRepository,
    coid: str,
    *,
    it: OrderIntent | None = None,
    rebalance_id: str = REB,
    limit: float = 450.05,
) -> None:
    it = it or intent()
    repo.record_order(
        coid,
        rebalance_id=rebalance_id,
        intent_id=it.intent_id,
        symbol=it.symbol,
        side=it.side,
        quantity=it.quantity,
        order_type="LMT",
        limit_price=limit,
    )


def fill(
    exec_id: str,
    coid: str,
    qty: int,
    price: float,
    ts: datetime,
    *,
    symbol: str = "SPY",
    side: Side = Side.BUY,
    commission: float = 0.0,
) -> Fill:
    return Fill(
        exec_id=exec_id,
        client_order_id=coid,
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        ts=ts,
        commission=commission,
    )


def later(ts: datetime, seconds: float) -> datetime:
    return ts + timedelta(seconds=seconds)
