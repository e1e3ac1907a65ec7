"""The broker edge: the BrokerTransport protocol and the messages it speaks.

Implementations: :class:`lib.brokers.sim.SimBroker` (in-process simulator) and
``lib.brokers.ibkr.IBKRTransport`` (ib_async). The protocol is synchronous:
the OrderManager polls it on an injected Clock; an async vendor API is bridged
inside its transport.

Vendor errors are translated here into :mod:`lib.errors` types:
``BrokerTransientError`` (retry), ``BrokerRejected`` (never retry as-is),
``TooLateToCancel``, ``UnknownOrder``.

Reconciliation keys on ``client_order_id`` (IB's ``orderRef``) and
``exec_id``: a rerun asks the broker for its open orders and executions and
trades only the residual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from lib.types import Fill, MarketDataSnapshot, OrderType, PolicyMode, Side

__all__ = [
    "BrokerOrderStatus",
    "BrokerTransport",
    "OrderRequest",
    "OrderUpdate",
    "TERMINAL_BROKER_STATUSES",
]


class BrokerOrderStatus(StrEnum):
    """Order status as the broker reports it (IB's vocabulary, normalised)."""

    PENDING_SUBMIT = "PendingSubmit"  # sent, no ack yet
    SUBMITTED = "Submitted"  # acknowledged and working
    PARTIALLY_FILLED = "PartiallyFilled"  # working with some quantity filled
    PENDING_CANCEL = "PendingCancel"  # cancel sent, not yet confirmed
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    INACTIVE = "Inactive"  # IB: rejected/held by the broker; terminal in ib_async


TERMINAL_BROKER_STATUSES = frozenset(
    {
        BrokerOrderStatus.FILLED,
        BrokerOrderStatus.CANCELLED,
        BrokerOrderStatus.REJECTED,
        BrokerOrderStatus.INACTIVE,
    }
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order. limit_price is None only for MKT/MOC.

    client_order_id is ours (IB ``orderRef``), deterministic per rebalance,
    intent, slice and attempt, and unique in the ledger.

    plan_mode, start_time, end_time: the plan's mode and the order's working
    window (tz-aware; the OrderManager sends [submit time, submit time + TTL]).
    A transport that hands the schedule to the broker works the order over
    that window (IBKR: IB's own Twap / Vwap algo for a twap / vwap plan when
    ``ibkr.algo`` says so); the others ignore them.
    """

    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: float | None
    tif: str = "DAY"
    outside_rth: bool = False
    plan_mode: PolicyMode | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None

    def __post_init__(self) -> None:
        for name, t in (("start_time", self.start_time), ("end_time", self.end_time)):
            if t is not None and t.utcoffset() is None:
                raise ValueError(f"{self.client_order_id}: {name} must be timezone-aware")
        if self.start_time is not None and self.end_time is not None and self.end_time < self.start_time:
            raise ValueError(f"{self.client_order_id}: end_time {self.end_time} is before start_time {self.start_time}")


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The broker's view of one order at ``ts``.

    filled_quantity is cumulative; avg_fill_price is the volume-weighted price
    of those fills (0.0 when nothing filled).
    """

    client_order_id: str
    broker_order_id: str
    status: BrokerOrderStatus
    quantity: int
    filled_quantity: int
    avg_fill_price: float
    limit_price: float | None
    ts: datetime
    reason: str | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_BROKER_STATUSES


@runtime_checkable
class BrokerTransport(Protocol):
    """What the execution layer needs from a broker.

    Every method may raise BrokerTransientError (retry later) or BrokerError.
    """

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Send a new order. Raises BrokerRejected on refusal. Submitting a
        client_order_id the broker already knows returns its current state
        instead of creating a second order (idempotent)."""
        ...

    def cancel_order(self, client_order_id: str) -> OrderUpdate:
        """Request cancellation. Raises TooLateToCancel if already done."""
        ...

    def modify_order(
        self, client_order_id: str, limit_price: float, quantity: int | None = None
    ) -> OrderUpdate:
        """Cancel/replace the limit (and optionally total quantity)."""
        ...

    def get_order_status(self, client_order_id: str) -> OrderUpdate:
        """Current state of one order. Raises UnknownOrder."""
        ...

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        """Batch status (one round trip); unknown ids are omitted."""
        ...

    def get_market_data(self, symbol: str) -> MarketDataSnapshot:
        """Top-of-book snapshot, timestamped by the broker's clock."""
        ...

    def get_positions(self) -> dict[str, int]:
        """Signed position per symbol (shares/contracts)."""
        ...

    def get_account_nav(self) -> float:
        """Net liquidation value in the account's base currency."""
        ...

    def get_open_orders(self) -> list[OrderUpdate]:
        """Every non-terminal order the broker holds for this account."""
        ...

    def get_executions(self, client_order_id_prefix: str = "") -> list[Fill]:
        """Executions whose client order id starts with the prefix, each exec_id once."""
        ...
