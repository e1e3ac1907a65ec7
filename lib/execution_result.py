"""One plan's :class:`lib.types.ExecutionResult` over every run of a rebalance,
built from the broker's executions (so fills of earlier runs count).

Prices per unit in the instrument's currency; ``notional`` in the base
currency (0 when the currency has no rate). Used by :mod:`lib.supervisor`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lib.clock import Clock
from lib.fx import FxTable
from lib.instruments import InstrumentRegistry
from lib.orders.manager import OrderManager
from lib.orders.states import OrderState
from lib.reconcile import intent_key, parse_client_order_id
from lib.risk import base_rate
from lib.slippage import compute_slippage_bps
from lib.types import ExecutionResult, Fill, OrderPlan

__all__ = ["execution_result"]


def execution_result(
    plan: OrderPlan,
    executions: Sequence[Fill],
    manager: OrderManager,
    rebalance_id: str,
    clock: Clock,
    instruments: InstrumentRegistry | None,
    fx: FxTable | None = None,
) -> ExecutionResult:
    """One plan's outcome over every run, from the broker's executions;
    ``notional`` in the base currency (0 when the currency has no rate)."""
    key = intent_key(rebalance_id, plan.intent.intent_id)
    mine = [
        f for f in executions
        if (p := parse_client_order_id(rebalance_id, f.client_order_id)) and p[0] == key
    ]
    tickets = [t for t in manager.tickets if t.plan.intent.intent_id == key]
    filled = sum(f.quantity for f in mine)
    avg = sum(f.price * f.quantity for f in mine) / filled if filled else None
    stamps = [t.submitted_at for t in tickets if t.submitted_at] + [f.ts for f in mine]
    started = min(stamps, default=plan.created_at or clock.now())
    ends = [t.last_update for t in tickets if t.last_update] + [f.ts for f in mine]
    finished = max(ends, default=started)
    inst = instruments[plan.symbol] if instruments and plan.symbol in instruments else None
    multiplier = inst.multiplier if inst is not None else 1.0
    rate = base_rate(fx, inst.currency)[0] if inst is not None else 1.0
    if filled >= plan.quantity:
        status = "filled"
    elif filled > 0:
        status = "partial"
    elif tickets and all(t.state == OrderState.REJECTED for t in tickets):
        status = "rejected"
    else:
        status = "unfilled"
    return ExecutionResult(
        intent_id=plan.intent.intent_id,
        symbol=plan.symbol,
        side=plan.side,
        requested_quantity=plan.quantity,
        filled_quantity=filled,
        avg_price=avg,
        arrival_mid=plan.arrival_mid,
        slippage_bps=compute_slippage_bps(plan.side, avg, plan.arrival_mid) if avg else None,
        status=status,
        mode=plan.mode,
        replace_count=sum(t.replace_count for t in tickets),
        commission=sum(f.commission for f in mine),
        started_at=started,
        finished_at=finished,
        messages=sum(t.messages for t in tickets),
        asset_class=plan.intent.asset_class,
        notional=abs((avg or 0.0) * filled * multiplier) * (rate or 0.0),
    )
