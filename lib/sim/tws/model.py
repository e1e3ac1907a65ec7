"""The gateway's records: orders as IB sees them and executions.

Units: quantities in shares/contracts, prices in the contract's currency,
times tz-aware UTC, commissions in the contract's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lib.sim.tws.contracts import IbContract

__all__ = ["GatewayExecution", "GatewayOrder", "TagValue"]

TagValue = tuple[str, str]


@dataclass(slots=True)
class GatewayOrder:
    """One order at the gateway (mutable: status and fills change)."""

    order_id: int
    client_id: int
    perm_id: int
    account: str
    contract: IbContract
    action: str  # BUY / SELL
    total_quantity: int
    order_type: str  # LMT / MKT / MOC / LOC
    lmt_price: float | None
    tif: str
    order_ref: str
    outside_rth: bool
    coid: str  # the SimBroker key
    algo_strategy: str = ""
    algo_params: list[TagValue] = field(default_factory=list)
    status: str = "PendingSubmit"  # IB's vocabulary
    filled: int = 0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    why_held: str = ""
    acked: bool = False  # an openOrder went out (IB sends one before any execution)
    completed_time: str = ""
    completed_status: str = ""

    @property
    def remaining(self) -> int:
        return max(self.total_quantity - self.filled, 0) if self.status not in _DEAD else 0

    @property
    def is_done(self) -> bool:
        return self.status in _DONE


_DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
_DEAD = frozenset({"Cancelled", "ApiCancelled", "Inactive"})


@dataclass(frozen=True, slots=True)
class GatewayExecution:
    """One execution as the gateway reported it (``exec_id`` is IB's execId)."""

    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    order_ref: str
    account: str
    symbol: str
    side: str  # BOT / SLD
    shares: int
    price: float
    time: datetime
    commission: float
    currency: str
    cum_qty: int
    avg_price: float
    liquidity: int  # IB lastLiquidity: 1 added, 2 removed, 3 routed out
    exchange: str
