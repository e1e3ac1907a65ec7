"""Reconciliation with the broker before a (re)run trades anything.

Our client order ids are ``"<rebalance_id>:<intent key>:s<slice>:a<attempt>"``
(IB's ``orderRef``); the intent key is the intent id without the rebalance
prefix, ``:`` made ``.``, hashed when longer than 20 characters. From the
broker's open orders and executions under the ``"<rebalance_id>:"`` prefix a
rerun learns what earlier runs left working (cancelled here), what they
filled (only the residual trades), the highest attempt used, and any pair
hedge left open (flattened by an ``<group>.unwind`` order).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lib.brokers.base import BrokerTransport
from lib.clock import Clock
from lib.errors import RiskBlocked, TooLateToCancel, UnknownOrder
from lib.policy import ExecutionPolicy
from lib.types import Fill, MarketDataSnapshot, OrderIntent, OrderPlan, PairGroup, Side

__all__ = [
    "ID_PATTERN",
    "RECONCILE_SETTLE_SECONDS",
    "Reconciliation",
    "hedge_unwinds",
    "intent_key",
    "parse_client_order_id",
    "reconcile",
]

ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_MAX_KEY = 20
#: Seconds to wait for leftover orders of an earlier run to confirm cancellation.
RECONCILE_SETTLE_SECONDS = 30.0


def intent_key(rebalance_id: str, intent_id: str) -> str:
    """Short, ``:``-free key of an intent inside client order ids."""
    base = intent_id.removeprefix(f"{rebalance_id}:").replace(":", ".")
    if len(base) <= _MAX_KEY and ID_PATTERN.match(base):
        return base
    return "k" + hashlib.sha256(base.encode()).hexdigest()[: _MAX_KEY - 1]


def parse_client_order_id(rebalance_id: str, client_order_id: str) -> tuple[str, int, int] | None:
    """``(intent key, slice, attempt)`` of one of our ids, None if not ours."""
    prefix = f"{rebalance_id}:"
    if not client_order_id.startswith(prefix):
        return None
    parts = client_order_id[len(prefix) :].rsplit(":", 2)
    if len(parts) != 3 or not parts[1].startswith("s") or not parts[2].startswith("a"):
        return None
    try:
        return parts[0], int(parts[1][1:]), int(parts[2][1:])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What the broker already had for a rebalance before this run traded.

    executions: the broker's fills of every earlier run; cancelled: ids of
    leftover working orders this run cancelled; max_attempt: highest attempt
    seen at the broker (-1 if none).
    """

    executions: tuple[Fill, ...]
    cancelled: tuple[str, ...]
    max_attempt: int

    def executed_by_key(self, rebalance_id: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.executions:
            parsed = parse_client_order_id(rebalance_id, f.client_order_id)
            if parsed is not None:
                out[parsed[0]] += f.quantity
        return dict(out)


def reconcile(
    transport: BrokerTransport,
    clock: Clock,
    rebalance_id: str,
    *,
    poll_interval_seconds: float = 1.0,
    settle_seconds: float = RECONCILE_SETTLE_SECONDS,
) -> Reconciliation:
    """Cancel this rebalance's leftover working orders, then read executions.

    Raises RiskBlocked when a leftover order will not confirm its cancel
    within ``settle_seconds``: trading on would risk a double fill.
    """
    prefix = f"{rebalance_id}:"
    leftovers = [u for u in transport.get_open_orders() if u.client_order_id.startswith(prefix)]
    max_attempt = -1
    for u in leftovers:
        parsed = parse_client_order_id(rebalance_id, u.client_order_id)
        if parsed:
            max_attempt = max(max_attempt, parsed[2])
        try:
            transport.cancel_order(u.client_order_id)
        except (TooLateToCancel, UnknownOrder):
            pass
    ids = [u.client_order_id for u in leftovers]
    waited = 0.0
    while ids:
        statuses = transport.get_order_statuses(ids)
        ids = [i for i in ids if i in statuses and not statuses[i].is_terminal]
        if not ids:
            break
        if waited >= settle_seconds:
            raise RiskBlocked("reconcile", f"orders still working after cancel: {ids[:5]}")
        clock.sleep(poll_interval_seconds)
        waited += poll_interval_seconds
    executions = tuple(transport.get_executions(prefix))
    for f in executions:
        parsed = parse_client_order_id(rebalance_id, f.client_order_id)
        if parsed:
            max_attempt = max(max_attempt, parsed[2])
    return Reconciliation(executions, tuple(u.client_order_id for u in leftovers), max_attempt)


def hedge_unwinds(
    rebalance_id: str,
    rec: Reconciliation,
    pairs: Sequence[PairGroup],
    policy: ExecutionPolicy,
    market_data: Callable[[str], MarketDataSnapshot] | None,
) -> list[OrderPlan]:
    """Plans flattening hedges an earlier (crashed) run left at the broker."""
    out: list[OrderPlan] = []
    for group in pairs:
        if group.hedge_symbol is None:
            continue
        gid = intent_key(rebalance_id, group.group_id)
        net = 0
        for f in rec.executions:
            parsed = parse_client_order_id(rebalance_id, f.client_order_id)
            if parsed and parsed[0].startswith(f"{gid}.") and f.symbol == group.hedge_symbol:
                net += f.side.sign * f.quantity
        if net == 0 or market_data is None:
            continue
        intent = OrderIntent(
            intent_id=f"{gid}.unwind", symbol=group.hedge_symbol, side=Side.from_signed(-net),
            quantity=abs(net),
        )
        out.append(policy.create_plan(intent, market_data(group.hedge_symbol)))
    return out
