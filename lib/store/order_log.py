"""The order log: write-ahead orders, their events, and fills.

Part of :class:`lib.store.repository.LedgerRepository` (a mixin so each
module stays small); one transaction per method.

- ``record_order`` is the write-ahead log: committed BEFORE the order is sent.
  A rerun asking for the same client order id gets the stored row and
  ``created=False`` (it must reconcile with the broker, not resend); the same
  id for a different symbol/side/quantity/intent/type raises
  :class:`lib.errors.LedgerConflict`.
- ``record_order_event`` appends the event and sets the order's status in the
  same commit, so status and history never disagree.
- ``record_fill`` is keyed by ``exec_id``: a duplicate is ignored (returns
  False). Each fill commits on arrival together with the order's filled
  quantity, average price and commission, recomputed from the stored fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.errors import LedgerConflict, LedgerError
from lib.orders.events import OrderEvent
from lib.orders.states import TERMINAL, OrderState
from lib.store._base import LedgerBase
from lib.store.models import FillRow, Order, OrderEventRow
from lib.types import Fill, OrderTicket, Side

__all__ = ["LedgerOrdersMixin"]

_TERMINAL_STATES = sorted(s.value for s in TERMINAL)


class LedgerOrdersMixin(LedgerBase):
    # -- orders (write-ahead) and their events ----------------------------

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
        plan_id: int | None = None,
        parent_id: str | None = None,
        slice_index: int = 0,
        attempt: int = 0,
        status: str = OrderState.PENDING_SUBMIT.value,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[Order, bool]:
        """Write-ahead: commit the order row BEFORE sending it to the broker.

        Returns ``(row, created)``. ``created=False`` means the id was already
        stored (a rerun): reconcile with the broker instead of resending.
        Raises LedgerConflict if the stored order is a different order.
        """
        if quantity <= 0:
            raise ValueError(f"order {client_order_id}: quantity must be > 0, got {quantity}")
        now = self._now()
        identity = {
            "rebalance_id": rebalance_id,
            "intent_id": intent_id,
            "symbol": symbol,
            "side": Side(side).value,
            "quantity": quantity,
            "order_type": str(order_type),
        }
        values = {
            **identity,
            "client_order_id": client_order_id,
            "plan_id": plan_id,
            "parent_id": parent_id,
            "limit_price": limit_price,
            "mode": mode,
            "slice_index": slice_index,
            "attempt": attempt,
            "status": str(status),
            "broker_order_id": None,
            "filled_quantity": 0,
            "avg_fill_price": None,
            "commission": 0.0,
            "replace_count": 0,
            "reject_reason": None,
            "extra": dict(extra or {}),
            "created_at": now,
            "submitted_at": None,
            "updated_at": now,
            "wall_created_at": self._wall_now(),
            "wall_submitted_at": None,
            "wall_updated_at": self._wall_now(),
        }
        with self._tx("record_order") as s:
            created = self._insert_ignore(s, Order, values, ["client_order_id"])
            row = s.scalars(select(Order).where(Order.client_order_id == client_order_id)).one()
            if not created:
                stored = {k: getattr(row, k) for k in identity}
                self._check_same("orders", client_order_id, stored, identity)
        return row, created

    def record_ticket(
        self,
        rebalance_id: str,
        ticket: OrderTicket,
        *,
        plan_id: int | None = None,
        slice_index: int = 0,
        attempt: int = 0,
    ) -> tuple[Order, bool]:
        """:meth:`record_order` from an OrderTicket about to be sent."""
        return self.record_order(
            ticket.client_order_id,
            rebalance_id=rebalance_id,
            intent_id=ticket.plan.intent.intent_id,
            symbol=ticket.symbol,
            side=ticket.side,
            quantity=ticket.quantity,
            order_type=ticket.plan.order_type.value,
            limit_price=ticket.limit_price,
            mode=ticket.plan.mode.value,
            plan_id=plan_id,
            parent_id=ticket.parent_id,
            slice_index=slice_index,
            attempt=attempt,
            status=ticket.state,
        )

    def get_order(self, client_order_id: str) -> Order | None:
        with self._tx("get_order") as s:
            return s.scalars(select(Order).where(Order.client_order_id == client_order_id)).first()

    def record_order_event(
        self,
        client_order_id: str,
        from_state: str | None,
        to_state: str,
        ts: datetime,
        detail: str = "",
        *,
        kind: str = "state_changed",
        price: float | None = None,
        quantity: int | None = None,
    ) -> None:
        """Append one event and set the order's status to ``to_state``, atomically."""
        self._record_events(
            [(client_order_id, from_state, str(to_state), ts, detail, str(kind), price, quantity)]
        )

    def record_order_events(self, events: Iterable[OrderEvent]) -> int:
        """Append an OrderManager's events (all or none); returns how many were stored.

        Manager-wide events (``state is None``, client order id ``"*"``) belong
        to no order and are not stored here.
        """
        batch = [
            (
                e.client_order_id,
                e.previous.value if e.previous else None,
                e.state.value,
                e.ts,
                e.detail,
                e.kind.value,
                e.price,
                e.quantity,
            )
            for e in events
            if e.state is not None
        ]
        self._record_events(batch)
        return len(batch)

    def _record_events(self, batch: Sequence[tuple[Any, ...]]) -> None:
        wall = self._wall_now()
        with self._tx("record_order_event") as s:
            for coid, frm, to, ts, detail, kind, price, qty in batch:
                order = self._lock_order(s, coid)
                s.add(
                    OrderEventRow(
                        client_order_id=coid,
                        ts=ts,
                        kind=kind,
                        from_state=frm,
                        to_state=to,
                        price=price,
                        quantity=qty,
                        detail=detail,
                        wall_ts=wall,
                    )
                )
                order.status = to
                order.updated_at = max(order.updated_at, ts)
                order.wall_updated_at = wall
                if kind == "submit_sent" and order.submitted_at is None:
                    # The send itself: nothing else ever stamped it (the row is
                    # written ahead of the send with submitted_at NULL).
                    order.submitted_at = ts
                    order.wall_submitted_at = wall

    def order_events(self, client_order_id: str) -> list[OrderEventRow]:
        stmt = select(OrderEventRow).where(OrderEventRow.client_order_id == client_order_id)
        with self._tx("order_events") as s:
            return list(s.scalars(stmt.order_by(OrderEventRow.id)).all())

    def update_order_status(
        self,
        client_order_id: str,
        status: str,
        *,
        broker_order_id: str | None = None,
        limit_price: float | None = None,
        replace_count: int | None = None,
        reject_reason: str | None = None,
        submitted_at: datetime | None = None,
    ) -> Order:
        """Set status (and whichever other fields are given); returns the row."""
        now = self._now()
        with self._tx("update_order_status") as s:
            order = self._lock_order(s, client_order_id)
            order.status = str(status)
            order.updated_at = now
            if broker_order_id is not None:
                order.broker_order_id = broker_order_id
            if limit_price is not None:
                order.limit_price = limit_price
            if replace_count is not None:
                order.replace_count = replace_count
            if reject_reason is not None:
                order.reject_reason = reject_reason
            if submitted_at is not None:
                order.submitted_at = submitted_at
        return order

    def record_broker_ids(
        self, ids: Mapping[str, tuple[str | None, datetime | None]]
    ) -> int:
        """Fill in ``broker_order_id`` and ``submitted_at`` (client order id ->
        (broker id, submit time)) where the ledger has none yet, in one commit;
        returns how many orders changed. Unknown client order ids are ignored
        (orders of another rebalance, or never journaled)."""
        changed = 0
        wall = self._wall_now()
        with self._tx("record_broker_ids") as s:
            for coid, (broker_id, submitted) in ids.items():
                order = s.scalars(
                    select(Order).where(Order.client_order_id == coid).with_for_update()
                ).first()
                if order is None:
                    continue
                touched = False
                if broker_id and order.broker_order_id is None:
                    order.broker_order_id = broker_id
                    touched = True
                if submitted is not None and order.submitted_at is None:
                    order.submitted_at = submitted
                    order.wall_submitted_at = order.wall_submitted_at or wall
                    touched = True
                changed += touched
        return changed

    def orders_for_rebalance(self, rebalance_id: str) -> list[Order]:
        stmt = select(Order).where(Order.rebalance_id == rebalance_id).order_by(Order.id)
        with self._tx("orders_for_rebalance") as s:
            return list(s.scalars(stmt).all())

    def open_orders_for_rebalance(self, rebalance_id: str) -> list[Order]:
        """Orders not in a terminal state: what a rerun must reconcile first."""
        stmt = (
            select(Order)
            .where(Order.rebalance_id == rebalance_id, Order.status.not_in(_TERMINAL_STATES))
            .order_by(Order.id)
        )
        with self._tx("open_orders_for_rebalance") as s:
            return list(s.scalars(stmt).all())

    @staticmethod
    def _lock_order(s: Session, client_order_id: str) -> Order:
        # FOR UPDATE serialises concurrent writers of one order on PostgreSQL
        # (SQLite already holds the database write lock: BEGIN IMMEDIATE).
        order = s.scalars(
            select(Order).where(Order.client_order_id == client_order_id).with_for_update()
        ).first()
        if order is None:
            raise LedgerError(f"unknown order {client_order_id!r}: record_order must come first")
        return order

    # -- fills ------------------------------------------------------------

    def record_fill(self, fill: Fill) -> bool:
        """Store one execution and refresh the order's fill totals, in one commit.

        Returns False (nothing written) if ``exec_id`` is already stored with
        the same content; raises LedgerConflict if it is stored differently.
        """
        with self._tx("record_fill") as s:
            order = self._lock_order(s, fill.client_order_id)
            if order.symbol != fill.symbol or order.side != fill.side.value:
                raise LedgerConflict(
                    "fills",
                    fill.exec_id,
                    f"fill {fill.symbol} {fill.side.value} does not match order "
                    f"{order.client_order_id} ({order.symbol} {order.side})",
                )
            values = {
                "exec_id": fill.exec_id,
                "client_order_id": fill.client_order_id,
                "rebalance_id": order.rebalance_id,
                "symbol": fill.symbol,
                "side": fill.side.value,
                "quantity": fill.quantity,
                "price": fill.price,
                "commission": fill.commission,
                "liquidity": fill.liquidity,
                "ts": fill.ts,
                "recorded_at": self._now(),
                "wall_recorded_at": self._wall_now(),
            }
            if not self._insert_ignore(s, FillRow, values, ["exec_id"]):
                stored = s.scalars(select(FillRow).where(FillRow.exec_id == fill.exec_id)).one()
                self._check_same(
                    "fills",
                    fill.exec_id,
                    {
                        "client_order_id": stored.client_order_id,
                        "quantity": stored.quantity,
                        "price": round(stored.price, 9),
                    },
                    {
                        "client_order_id": fill.client_order_id,
                        "quantity": fill.quantity,
                        "price": round(fill.price, 9),
                    },
                )
                return False
            qty, value, commission = s.execute(
                select(
                    func.coalesce(func.sum(FillRow.quantity), 0),
                    func.coalesce(func.sum(FillRow.quantity * FillRow.price), 0.0),
                    func.coalesce(func.sum(FillRow.commission), 0.0),
                ).where(FillRow.client_order_id == fill.client_order_id)
            ).one()
            order.filled_quantity = int(qty)
            order.avg_fill_price = float(value) / int(qty) if qty else None
            order.commission = float(commission)
            order.updated_at = max(order.updated_at, fill.ts)
        return True

    def fills_for_rebalance(self, rebalance_id: str) -> list[Fill]:
        """Every stored fill of the rebalance as value objects, by time then id."""
        stmt = (
            select(FillRow)
            .where(FillRow.rebalance_id == rebalance_id)
            .order_by(FillRow.ts, FillRow.id)
        )
        with self._tx("fills_for_rebalance") as s:
            rows = s.scalars(stmt).all()
        return [
            Fill(
                exec_id=r.exec_id,
                client_order_id=r.client_order_id,
                symbol=r.symbol,
                side=Side(r.side),
                quantity=int(r.quantity),
                price=r.price,
                ts=r.ts,
                commission=r.commission,
                liquidity=r.liquidity,
            )
            for r in rows
        ]

    def executed_quantity_by_intent(self, rebalance_id: str) -> dict[str, int]:
        """Filled quantity (>= 0, shares/contracts) per intent id, over all orders
        of the rebalance (every run); intents with no fill are absent."""
        stmt = (
            select(Order.intent_id, func.sum(FillRow.quantity))
            .join(FillRow, FillRow.client_order_id == Order.client_order_id)
            .where(Order.rebalance_id == rebalance_id)
            .group_by(Order.intent_id)
        )
        with self._tx("executed_quantity_by_intent") as s:
            return {intent_id: int(q) for intent_id, q in s.execute(stmt).all()}
