"""How a plan turns into broker requests: client order ids, order types,
reprice prices and exec ids. Pure functions; the OrderManager uses them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from lib.errors import RiskBlocked
from lib.types import MarketDataSnapshot, OrderPlan, OrderType, PolicyMode

__all__ = [
    "CLIENT_ORDER_ID_MAX_LEN",
    "Repricer",
    "default_exec_id",
    "ladder_repricer",
    "make_client_order_id",
    "order_type_for",
]

#: ``repricer(plan, attempt k >= 1, fresh snapshot or None) -> limit price``.
Repricer = Callable[[OrderPlan, int, MarketDataSnapshot | None], float]

#: IB's orderRef is free text; we keep ids short enough for any ledger column.
CLIENT_ORDER_ID_MAX_LEN = 64


def make_client_order_id(
    rebalance_id: str, intent_id: str, slice_idx: int = 0, attempt: int = 0
) -> str:
    """``"<rebalance_id>:<intent_id>:s<slice>:a<attempt>"``, at most 64 chars.

    Deterministic, so a rerun of the same rebalance finds its orders by id.
    Longer ids keep the head (the rebalance id, so prefix searches still
    work when it is short) and the slice/attempt tail, and replace the middle
    by ``"~"`` + 12 hex chars of sha256 of the full id. Neither id may
    contain ``":"`` (the separator) - that would make two ids collide.
    """
    for name, part in (("rebalance_id", rebalance_id), ("intent_id", intent_id)):
        if not part or ":" in part:
            raise ValueError(f"{name} must be non-empty without ':' (got {part!r})")
    if slice_idx < 0 or attempt < 0:
        raise ValueError(f"slice_idx and attempt must be >= 0 (got {slice_idx}, {attempt})")
    tail = f":s{slice_idx}:a{attempt}"
    full = f"{rebalance_id}:{intent_id}{tail}"
    if len(full) <= CLIENT_ORDER_ID_MAX_LEN:
        return full
    digest = "~" + hashlib.sha256(full.encode()).hexdigest()[:12]
    head = f"{rebalance_id}:{intent_id}"[: CLIENT_ORDER_ID_MAX_LEN - len(tail) - len(digest)]
    return f"{head}{digest}{tail}"


def ladder_repricer(plan: OrderPlan, attempt: int, snapshot: MarketDataSnapshot | None) -> float:
    """Default repricer: ``plan.reprice_ladder[attempt-1]`` (the last rung when
    the ladder is shorter), clamped into the collar. Ignores the snapshot."""
    if attempt < 1:
        raise ValueError(f"replace attempts count from 1 (got {attempt})")
    if plan.reprice_ladder:
        price = plan.reprice_ladder[min(attempt, len(plan.reprice_ladder)) - 1]
    elif plan.limit_price is not None:
        price = plan.limit_price
    else:
        raise RiskBlocked("collar", f"{plan.symbol}: no ladder and no limit to reprice")
    return min(max(price, plan.collar_low), plan.collar_high)


def order_type_for(plan: OrderPlan) -> OrderType:
    """MARKET -> MKT, AUCTION_CLOSE -> LOC (MOC if the plan says MOC), else LMT."""
    if plan.mode is PolicyMode.MARKET:
        return OrderType.MKT
    if plan.mode is PolicyMode.AUCTION_CLOSE:
        return OrderType.MOC if plan.order_type is OrderType.MOC else OrderType.LOC
    return OrderType.LMT


def default_exec_id(client_order_id: str, cumulative_quantity: int) -> str:
    """Exec id of the fill that brought an order to ``cumulative_quantity``."""
    return f"{client_order_id}#{cumulative_quantity}"
