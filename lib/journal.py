"""What supervision writes as it goes: the order journal protocol.

:class:`OrderJournal` is implemented by the SQL ledger
(:class:`lib.store.repository.LedgerRepository`); :class:`NullJournal` keeps
nothing (dry runs, benchmarks). Re-exported by :mod:`lib.supervisor`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from lib.orders.events import OrderEvent
from lib.types import Fill, Side

__all__ = ["NullJournal", "OrderJournal"]


class OrderJournal(Protocol):
    """What supervision writes (LedgerRepository implements it)."""

    def record_order(
        self,
        client_order_id: str,
        *,
        rebalance_id: str,
        intent_id: str,
        symbol: str,
        side: Side,
        quantity: int,
        order_type: str,
        limit_price: float | None,
        mode: str | None = None,
        parent_id: str | None = None,
        slice_index: int = 0,
        attempt: int = 0,
    ) -> object: ...

    def record_order_events(self, events: Iterable[OrderEvent]) -> int: ...

    def record_fill(self, fill: Fill) -> bool: ...


class NullJournal:
    """Journal that keeps nothing (dry runs, benchmarks)."""

    def record_order(self, client_order_id: str, **kwargs: Any) -> object:
        return None

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        return 0

    def record_fill(self, fill: Fill) -> bool:
        return True
