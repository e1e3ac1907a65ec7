"""Ledger books: sleeve allocations and positions, risk blocks, daily metrics.

Part of :class:`lib.store.repository.LedgerRepository` (a mixin so each
module stays small); same rule: one transaction per method.

Positions are kept by applying allocation *deltas*: each allocation row
remembers ``applied_quantity``, so applying twice changes nothing, and a
rerun that re-allocates a larger cumulative quantity applies only the rest.
Average cost: adding in the direction of the position re-weights it; reducing
keeps it; flipping through zero starts at the allocation price. A delta is
valued at its allocation row's (cumulative average) price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.errors import LedgerError
from lib.store._base import LedgerBase
from lib.store.models import DailyMetrics, RiskBlock, SleeveAllocation, SleevePosition
from lib.store.records import AllocationRecord

__all__ = ["LedgerBooksMixin", "apply_delta"]


def apply_delta(
    quantity: int, avg_price: float | None, delta: int, price: float
) -> tuple[int, float | None]:
    """New (signed quantity, average price) after adding ``delta`` at ``price``."""
    new_qty = quantity + delta
    if new_qty == 0:
        return 0, None
    if quantity == 0 or avg_price is None or (quantity > 0) != (new_qty > 0):
        return new_qty, price  # opened, or flipped through zero
    if (quantity > 0) == (delta > 0):  # adding to the position
        return new_qty, (abs(quantity) * avg_price + abs(delta) * price) / abs(new_qty)
    return new_qty, avg_price  # reducing keeps the cost of what remains


class LedgerBooksMixin(LedgerBase):
    # -- allocations and positions ---------------------------------------

    def record_allocation(
        self, rebalance_id: str, allocations: Iterable[AllocationRecord], *, apply: bool = True
    ) -> int:
        """Upsert the rebalance's (cumulative) allocations; with ``apply`` also
        move sleeve positions by what is not yet applied, in the same commit.
        Returns the number of allocation rows inserted or changed."""
        now = self._now()
        changed = 0
        with self._tx("record_allocation") as s:
            for a in allocations:
                key = {
                    "rebalance_id": rebalance_id,
                    "sleeve": a.sleeve,
                    "symbol": a.symbol,
                    "source": a.source,
                }
                values = {
                    **key,
                    "quantity": a.quantity,
                    "price": a.price,
                    "applied_quantity": 0,
                    "intent_id": a.intent_id,
                    "created_at": now,
                    "updated_at": now,
                }
                if self._insert_ignore(s, SleeveAllocation, values, list(key)):
                    changed += 1
                    continue
                row = s.scalars(select(SleeveAllocation).filter_by(**key).with_for_update()).one()
                if (row.quantity, row.price, row.intent_id) != (a.quantity, a.price, a.intent_id):
                    row.quantity, row.price, row.intent_id = a.quantity, a.price, a.intent_id
                    row.updated_at = now
                    changed += 1
            s.flush()
            if apply:
                self._apply_pending(s, rebalance_id, now)
        return changed

    def apply_allocation_to_positions(self, rebalance_id: str) -> int:
        """Apply the rebalance's not-yet-applied allocation quantities to sleeve
        positions (idempotent); returns how many allocation rows moved a position."""
        with self._tx("apply_allocation_to_positions") as s:
            return self._apply_pending(s, rebalance_id, self._now())

    def _apply_pending(self, s: Session, rebalance_id: str, now: datetime) -> int:
        pending = s.scalars(
            select(SleeveAllocation)
            .where(
                SleeveAllocation.rebalance_id == rebalance_id,
                SleeveAllocation.quantity != SleeveAllocation.applied_quantity,
            )
            # one lock order for every writer: no deadlock between two rebalances
            .order_by(SleeveAllocation.sleeve, SleeveAllocation.symbol, SleeveAllocation.id)
            .with_for_update()
        ).all()
        for alloc in pending:
            delta = int(alloc.quantity - alloc.applied_quantity)
            pos = self._lock_position(s, alloc.sleeve, alloc.symbol, now)
            pos.quantity, pos.avg_price = apply_delta(
                int(pos.quantity), pos.avg_price, delta, alloc.price
            )
            pos.last_rebalance_id = rebalance_id
            pos.updated_at = now
            alloc.applied_quantity = alloc.quantity
            alloc.updated_at = now
        return len(pending)

    def _lock_position(self, s: Session, sleeve: str, symbol: str, now: datetime) -> SleevePosition:
        self._insert_ignore(
            s,
            SleevePosition,
            {
                "sleeve": sleeve,
                "symbol": symbol,
                "quantity": 0,
                "avg_price": None,
                "last_rebalance_id": None,
                "updated_at": now,
            },
            ["sleeve", "symbol"],
        )
        s.flush()  # populate_existing below must not overwrite unflushed changes
        pos = s.get(SleevePosition, (sleeve, symbol), with_for_update=True, populate_existing=True)
        if pos is None:  # pragma: no cover - inserted or present just above
            raise LedgerError(f"sleeve position {sleeve}/{symbol} vanished")
        return pos

    def allocations_for_rebalance(self, rebalance_id: str) -> list[SleeveAllocation]:
        stmt = (
            select(SleeveAllocation)
            .where(SleeveAllocation.rebalance_id == rebalance_id)
            .order_by(SleeveAllocation.sleeve, SleeveAllocation.symbol, SleeveAllocation.source)
        )
        with self._tx("allocations_for_rebalance") as s:
            return list(s.scalars(stmt).all())

    def set_sleeve_position(
        self, sleeve: str, symbol: str, quantity: int, avg_price: float | None = None
    ) -> None:
        """Overwrite a sleeve's position (onboarding a book, manual correction)."""
        now = self._now()
        with self._tx("set_sleeve_position") as s:
            pos = self._lock_position(s, sleeve, symbol, now)
            pos.quantity = quantity
            pos.avg_price = avg_price if quantity != 0 else None
            pos.updated_at = now

    def sleeve_positions(self, sleeve: str) -> dict[str, int]:
        """The sleeve's non-zero signed positions, symbol -> shares/contracts."""
        stmt = (
            select(SleevePosition.symbol, SleevePosition.quantity)
            .where(SleevePosition.sleeve == sleeve, SleevePosition.quantity != 0)
            .order_by(SleevePosition.symbol)
        )
        with self._tx("sleeve_positions") as s:
            return {sym: int(q) for sym, q in s.execute(stmt).all()}

    def get_sleeve_position(self, sleeve: str, symbol: str) -> SleevePosition | None:
        with self._tx("get_sleeve_position") as s:
            return s.get(SleevePosition, (sleeve, symbol))

    # -- risk blocks ------------------------------------------------------

    def record_risk_block(
        self,
        rebalance_id: str,
        control: str,
        detail: str,
        symbol: str | None = None,
        *,
        intent_id: str | None = None,
        ts: datetime | None = None,
    ) -> None:
        """Record that pre-trade control ``control`` blocked ``symbol`` (None: the rebalance)."""
        with self._tx("record_risk_block") as s:
            s.add(
                RiskBlock(
                    rebalance_id=rebalance_id,
                    control=control,
                    detail=detail,
                    symbol=symbol,
                    intent_id=intent_id,
                    ts=ts or self._now(),
                )
            )

    def risk_blocks_for_rebalance(self, rebalance_id: str) -> list[RiskBlock]:
        stmt = (
            select(RiskBlock).where(RiskBlock.rebalance_id == rebalance_id).order_by(RiskBlock.id)
        )
        with self._tx("risk_blocks_for_rebalance") as s:
            return list(s.scalars(stmt).all())

    # -- daily metrics ----------------------------------------------------

    def record_daily_metrics(
        self,
        day: date,
        *,
        scope: str = "all",
        orders: int,
        fills: int,
        fill_rate: float,
        total_notional: float,
        commission: float,
        slippage_bps_weighted: float | None = None,
        slippage_bps_p95: float | None = None,
        shortfall_bps: float | None = None,
        replaces_total: int = 0,
        netting_saved_qty: int = 0,
        netting_saved_notional: float = 0.0,
        extras: Mapping[str, Any] | None = None,
    ) -> bool:
        """Upsert one day's summary (the day is recomputed whole, so the last
        write wins). Notionals/commission in account currency; bps positive =
        cost. Returns True if the row was new."""
        values: dict[str, Any] = {
            "orders": orders,
            "fills": fills,
            "fill_rate": fill_rate,
            "total_notional": total_notional,
            "commission": commission,
            "slippage_bps_weighted": slippage_bps_weighted,
            "slippage_bps_p95": slippage_bps_p95,
            "shortfall_bps": shortfall_bps,
            "replaces_total": replaces_total,
            "netting_saved_qty": netting_saved_qty,
            "netting_saved_notional": netting_saved_notional,
            "extras": dict(extras or {}),
            "updated_at": self._now(),
        }
        with self._tx("record_daily_metrics") as s:
            key = {"day": day, "scope": scope}
            if self._insert_ignore(s, DailyMetrics, {**key, **values}, list(key)):
                return True
            row = s.scalars(select(DailyMetrics).filter_by(**key).with_for_update()).one()
            for name, value in values.items():
                setattr(row, name, value)
        return False

    def daily_metrics(self, day: date, scope: str = "all") -> DailyMetrics | None:
        with self._tx("daily_metrics") as s:
            return s.scalars(select(DailyMetrics).filter_by(day=day, scope=scope)).first()
