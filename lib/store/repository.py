"""The ledger repository: every read and write the rebalance flow makes, one
transaction per logical step, idempotent under reruns.

This module holds rebalances, intents, netting results and plans; orders,
events and fills are in :mod:`lib.store.order_log`, sleeve books, risk blocks
and daily metrics in :mod:`lib.store.books` (mixins of the one class here).

Idempotency rules:

- ``create_or_get_rebalance``, ``record_intents``, ``record_netting``,
  ``record_plan``: first write wins; a rerun gets the stored rows back. The
  rerun's residual is ``intent quantity - executed_quantity_by_intent``.
- ``record_order`` (write-ahead, before the send) and ``record_fill`` (by
  ``exec_id``): see :mod:`lib.store.order_log`.
- ``record_allocation``: cumulative per rebalance, positions move by deltas.
- ``record_daily_metrics``: last write wins (a day is recomputed whole).

Every method commits before it returns, or rolls back everything it did:
a crash leaves no half-written step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lib.clock import Clock
from lib.errors import IdempotencyConflict, LedgerError
from lib.store.books import LedgerBooksMixin
from lib.store.market_log import LedgerMarketMixin
from lib.store.models import Intent, NettingResult, Plan, Rebalance, RebalanceAttempt
from lib.store.order_log import LedgerOrdersMixin
from lib.store.records import NettingRecord
from lib.types import AssetClass, OrderIntent, OrderPlan, PolicyMode, Side

__all__ = ["INTENT_KINDS", "LedgerRepository"]

#: ``intents.kind``: a sleeve's own request, or the netted book's.
INTENT_KINDS = ("sleeve", "netted")


class LedgerRepository(LedgerOrdersMixin, LedgerBooksMixin, LedgerMarketMixin):
    """Reads and writes the ledger. Rows returned are detached snapshots
    (read them; changing them changes nothing in the database)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        super().__init__(session_factory, clock, wall_clock)

    # -- rebalances -------------------------------------------------------

    def create_or_get_rebalance(
        self,
        rebalance_id: str,
        *,
        portfolio: str = "",
        schedule: str = "",
        session_date: date | None = None,
        params: Mapping[str, Any] | None = None,
        status: str = "running",
    ) -> tuple[Rebalance, bool]:
        """The rebalance row, created if missing; ``created`` is False on a rerun
        (the stored portfolio/schedule/params are kept)."""
        now = self._now()
        with self._tx("create_or_get_rebalance") as s:
            created = self._insert_ignore(
                s,
                Rebalance,
                {
                    "rebalance_id": rebalance_id,
                    "portfolio": portfolio,
                    "schedule": schedule,
                    "session_date": session_date,
                    "status": status,
                    "params": dict(params or {}),
                    "created_at": now,
                    "updated_at": now,
                    "finished_at": None,
                    "wall_created_at": self._wall_now(),
                },
                ["rebalance_id"],
            )
            row = s.get_one(Rebalance, rebalance_id)
        return row, created

    def claim_rebalance(
        self,
        rebalance_id: str,
        *,
        fingerprint: str,
        inputs: Mapping[str, Any],
        params: Mapping[str, Any],
        portfolio: str = "",
        schedule: str = "",
        session_date: date | None = None,
        dry_run: bool = False,
    ) -> tuple[Rebalance, bool]:
        """Create or rerun ``rebalance_id`` under the idempotency rule.

        The first attempt that is not a dry run fixes the rebalance's
        fingerprint; an attempt whose ``fingerprint`` differs is refused with
        :class:`IdempotencyConflict` (naming what changed). Every attempt,
        refused or not, is recorded in ``rebalance_attempts`` with its
        ``params``. Returns ``(row, created)`` like ``create_or_get_rebalance``.
        """
        from lib.fingerprint import differences

        now = self._now()
        refused: IdempotencyConflict | None = None
        with self._tx("claim_rebalance") as s:
            created = self._insert_ignore(
                s,
                Rebalance,
                {
                    "rebalance_id": rebalance_id,
                    "portfolio": portfolio,
                    "schedule": schedule,
                    "session_date": session_date,
                    "status": "running",
                    "params": dict(params),
                    "created_at": now,
                    "updated_at": now,
                    "finished_at": None,
                    "wall_created_at": self._wall_now(),
                    "fingerprint": None,
                    "fingerprint_inputs": None,
                },
                ["rebalance_id"],
            )
            row = s.get_one(Rebalance, rebalance_id, with_for_update=True)
            if row.fingerprint is not None and row.fingerprint != fingerprint:
                refused = IdempotencyConflict(
                    rebalance_id, row.fingerprint, fingerprint,
                    differences(row.fingerprint_inputs, inputs),
                )
            elif row.fingerprint is None and not dry_run:
                row.fingerprint = fingerprint
                row.fingerprint_inputs = dict(inputs)
                row.updated_at = now
            number = s.scalar(
                select(func.count()).select_from(RebalanceAttempt).where(
                    RebalanceAttempt.rebalance_id == rebalance_id
                )
            ) or 0
            s.add(
                RebalanceAttempt(
                    rebalance_id=rebalance_id,
                    attempt=int(number),
                    fingerprint=fingerprint,
                    params=dict(params),
                    outcome="refused" if refused else ("dry_run" if dry_run else "accepted"),
                    detail=str(refused) if refused else "",
                    ts=now,
                    wall_ts=self._wall_now(),
                )
            )
        if refused is not None:
            raise refused
        return row, created

    def rebalance_attempts(self, rebalance_id: str) -> list[RebalanceAttempt]:
        """Every attempt of ``rebalance_id`` (accepted, dry run or refused), in order."""
        stmt = (
            select(RebalanceAttempt)
            .where(RebalanceAttempt.rebalance_id == rebalance_id)
            .order_by(RebalanceAttempt.attempt)
        )
        with self._tx("rebalance_attempts") as s:
            return list(s.scalars(stmt).all())

    def finish_attempt(self, rebalance_id: str, end_state: str = "finished") -> int | None:
        """Stamp the latest accepted, unfinished attempt of ``rebalance_id`` as
        ended (virtual and wall time). Returns its number, None if there is none."""
        with self._tx("finish_attempt") as s:
            row = s.scalars(
                self._unfinished(rebalance_id).order_by(RebalanceAttempt.attempt.desc()).limit(1)
            ).first()
            if row is None:
                return None
            row.finished_at, row.wall_finished_at = self._now(), self._wall_now()
            row.end_state = end_state
            return int(row.attempt)

    def close_abandoned_attempts(self, rebalance_id: str) -> list[RebalanceAttempt]:
        """Every accepted attempt but the latest that never recorded its end (it
        crashed, was killed or failed before its analytics step): each is marked
        ``end_state="abandoned"`` and returned (as it was found), oldest first.
        Call it right after :meth:`claim_rebalance`, so the latest is this run's."""
        with self._tx("close_abandoned_attempts") as s:
            rows = list(s.scalars(self._unfinished(rebalance_id).order_by(RebalanceAttempt.attempt)))
            latest = s.scalar(
                select(func.max(RebalanceAttempt.attempt)).where(
                    RebalanceAttempt.rebalance_id == rebalance_id,
                    RebalanceAttempt.outcome == "accepted",
                )
            )
            found = [r for r in rows if r.attempt != latest]
            now, wall = self._now(), self._wall_now()
            for r in found:
                s.expunge(r)  # returned as found: end_state still None
                s.execute(
                    update(RebalanceAttempt)
                    .where(RebalanceAttempt.id == r.id)
                    .values(finished_at=now, wall_finished_at=wall, end_state="abandoned")
                )
            return found

    @staticmethod
    def _unfinished(rebalance_id: str) -> Any:
        return select(RebalanceAttempt).where(
            RebalanceAttempt.rebalance_id == rebalance_id,
            RebalanceAttempt.outcome == "accepted",
            RebalanceAttempt.finished_at.is_(None),
        )

    def get_rebalance(self, rebalance_id: str) -> Rebalance | None:
        with self._tx("get_rebalance") as s:
            return s.get(Rebalance, rebalance_id)

    def set_rebalance_status(
        self, rebalance_id: str, status: str, *, finished: bool = False
    ) -> None:
        """Set the status (e.g. ``"done"``, ``"failed"``); ``finished`` stamps finished_at."""
        now = self._now()
        with self._tx("set_rebalance_status") as s:
            row = s.get(Rebalance, rebalance_id, with_for_update=True)
            if row is None:
                raise LedgerError(f"unknown rebalance {rebalance_id!r}")
            row.status = status
            row.updated_at = now
            if finished:
                row.finished_at = now
                row.wall_finished_at = self._wall_now()

    # -- intents, netting, plans ------------------------------------------

    def record_intents(
        self, rebalance_id: str, intents: Iterable[OrderIntent], *, kind: str = "sleeve"
    ) -> int:
        """Store intents (all or none); returns how many were new."""
        if kind not in INTENT_KINDS:
            raise ValueError(f"intent kind must be one of {INTENT_KINDS}, got {kind!r}")
        now = self._now()
        inserted = 0
        with self._tx("record_intents") as s:
            for it in intents:
                values = {
                    "rebalance_id": rebalance_id,
                    "kind": kind,
                    "intent_id": it.intent_id,
                    "symbol": it.symbol,
                    "side": it.side.value,
                    "quantity": it.quantity,
                    "sleeve": it.sleeve,
                    "asset_class": it.asset_class.value if it.asset_class else None,
                    "pair_group": it.pair_group,
                    "urgency": it.urgency,
                    "mode": it.mode.value if it.mode else None,
                    "created_at": now,
                }
                inserted += self._insert_ignore(
                    s, Intent, values, ["rebalance_id", "kind", "intent_id"]
                )
        return inserted

    def intents_for_rebalance(
        self, rebalance_id: str, *, kind: str | None = None
    ) -> list[OrderIntent]:
        """Stored intents as value objects, in insertion order."""
        stmt = select(Intent).where(Intent.rebalance_id == rebalance_id).order_by(Intent.id)
        if kind is not None:
            stmt = stmt.where(Intent.kind == kind)
        with self._tx("intents_for_rebalance") as s:
            rows = s.scalars(stmt).all()
        return [
            OrderIntent(
                intent_id=r.intent_id,
                symbol=r.symbol,
                side=Side(r.side),
                quantity=int(r.quantity),
                sleeve=r.sleeve,
                asset_class=AssetClass(r.asset_class) if r.asset_class else None,
                pair_group=r.pair_group,
                urgency=r.urgency,
                mode=PolicyMode(r.mode) if r.mode else None,
            )
            for r in rows
        ]

    def record_netting(self, rebalance_id: str, results: Iterable[NettingRecord]) -> int:
        """Store per-symbol netting results (all or none); returns how many were new."""
        now = self._now()
        inserted = 0
        with self._tx("record_netting") as s:
            for r in results:
                values = {
                    "rebalance_id": rebalance_id,
                    "symbol": r.symbol,
                    "gross_buy": r.gross_buy,
                    "gross_sell": r.gross_sell,
                    "net_quantity": r.net_quantity,
                    "crossed_quantity": r.crossed_quantity,
                    "net_intent_id": r.net_intent_id,
                    "dropped_reason": r.dropped_reason,
                    "benefit_notional": r.benefit_notional,
                    "detail": dict(r.detail),
                    "created_at": now,
                }
                inserted += self._insert_ignore(
                    s, NettingResult, values, ["rebalance_id", "symbol"]
                )
        return inserted

    def netting_for_rebalance(self, rebalance_id: str) -> list[NettingResult]:
        stmt = select(NettingResult).where(NettingResult.rebalance_id == rebalance_id)
        with self._tx("netting_for_rebalance") as s:
            return list(s.scalars(stmt.order_by(NettingResult.symbol)).all())

    def record_plan(
        self, rebalance_id: str, plan: OrderPlan, *, attempt: int = 0
    ) -> tuple[Plan, bool]:
        """Store the plan of ``plan.intent`` for ``attempt``; a rerun gets the stored one."""
        slices = None
        if plan.slices is not None:
            sl = plan.slices
            slices = {
                "style": sl.style,
                "child_quantities": list(sl.child_quantities),
                "interval_seconds": sl.interval_seconds,
                "participation": sl.participation,
            }
        values = {
            "rebalance_id": rebalance_id,
            "intent_id": plan.intent.intent_id,
            "attempt": attempt,
            "symbol": plan.symbol,
            "side": plan.side.value,
            "quantity": plan.quantity,
            "mode": plan.mode.value,
            "order_type": plan.order_type.value,
            "limit_price": plan.limit_price,
            "collar_low": plan.collar_low,
            "collar_high": plan.collar_high,
            "arrival_mid": plan.arrival_mid,
            "ttl_seconds": plan.ttl_seconds,
            "replace_interval_seconds": plan.replace_interval_seconds,
            "max_replace_attempts": plan.max_replace_attempts,
            "reprice_ladder": list(plan.reprice_ladder),
            "max_slippage_bps": plan.max_slippage_bps,
            "slices": slices,
            "adv_fraction": plan.adv_fraction,
            "reasons": list(plan.reasons),
            "created_at": plan.created_at or self._now(),
        }
        key = ["rebalance_id", "intent_id", "attempt"]
        with self._tx("record_plan") as s:
            created = self._insert_ignore(s, Plan, values, key)
            row = s.scalars(
                select(Plan).where(
                    Plan.rebalance_id == rebalance_id,
                    Plan.intent_id == plan.intent.intent_id,
                    Plan.attempt == attempt,
                )
            ).one()
        return row, created
