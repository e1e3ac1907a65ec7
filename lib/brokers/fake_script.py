"""Scripting value types of the in-memory :class:`lib.brokers.fake.FakeBroker`.

What a test scripts (:class:`ScriptedFill`, :class:`ScriptedFailure`), the
fake broker's per-order record (:class:`FakeOrder`) and the transport method
names a failure can be scripted on (:data:`TRANSPORT_METHODS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lib.brokers.base import BrokerOrderStatus, OrderRequest
from lib.errors import BrokerTransientError

__all__ = ["FakeOrder", "ScriptedFailure", "ScriptedFill", "TRANSPORT_METHODS"]

#: Method names accepted by :meth:`lib.brokers.fake.FakeBroker.fail_next`.
TRANSPORT_METHODS = frozenset(
    {
        "submit_order",
        "cancel_order",
        "modify_order",
        "get_order_status",
        "get_order_statuses",
        "get_market_data",
        "get_positions",
        "get_account_nav",
        "get_open_orders",
        "get_executions",
    }
)


@dataclass(frozen=True, slots=True)
class ScriptedFill:
    """One scripted execution.

    after_seconds: since the order's first submission. quantity: shares or
    contracts (None = everything still open, capped at what is open).
    price: per unit (None = the order's limit at that moment). min_limit:
    only fill once the limit is at or through this price (BUY limit >= it,
    SELL limit <= it), e.g. "fills after the second reprice".
    """

    after_seconds: float = 0.0
    quantity: int | None = None
    price: float | None = None
    min_limit: float | None = None


@dataclass(slots=True)
class FakeOrder:
    """The fake broker's record of one order (mutable; tests may inspect it)."""

    request: OrderRequest
    broker_order_id: str
    submitted_at: datetime
    status: BrokerOrderStatus
    limit_price: float | None
    filled_quantity: int = 0
    avg_fill_price: float = 0.0
    scripts: list[ScriptedFill] = field(default_factory=list)
    ack_due: datetime | None = None
    cancel_due: datetime | None = None
    reason: str | None = None

    @property
    def quantity(self) -> int:
        return self.request.quantity

    @property
    def remaining(self) -> int:
        return self.request.quantity - self.filled_quantity


@dataclass(slots=True)
class ScriptedFailure:
    """A scripted transient error (see :meth:`lib.brokers.fake.FakeBroker.fail_next`):
    the next ``remaining`` calls raise ``error``; with ``reached_broker`` the
    call takes effect first and only the answer is lost."""

    remaining: int
    error: type[BrokerTransientError]
    reached_broker: bool
