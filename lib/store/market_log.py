"""Decision mids and market data samples: what TCA measures against.

Part of :class:`lib.store.repository.LedgerRepository` (a mixin).

- ``record_decisions``: the mid of each symbol when the rebalance decided its
  trades; first write wins, so a rerun keeps the first run's benchmark.
- ``record_samples``: quotes (and cumulative tape volume) per symbol during
  and after a run, keyed (rebalance, symbol, ts): a duplicate is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import func, select

from lib.store._base import LedgerBase
from lib.store.models import Decision, MarketSample, Order, OrderEventRow, Plan, Rebalance
from lib.store.records import SampleRecord

__all__ = ["SAMPLE_PHASES", "LedgerMarketMixin"]

#: ``market_samples.phase`` values.
SAMPLE_PHASES = ("during", "after")


class LedgerMarketMixin(LedgerBase):
    def record_decisions(
        self, rebalance_id: str, mids: Mapping[str, float], ts: datetime
    ) -> int:
        """Store the decision mid per symbol (first write wins); returns how many were new."""
        wall = self._wall_now()
        inserted = 0
        with self._tx("record_decisions") as s:
            for symbol, mid in sorted(mids.items()):
                inserted += self._insert_ignore(
                    s, Decision,
                    {"rebalance_id": rebalance_id, "symbol": symbol, "mid": float(mid),
                     "ts": ts, "wall_ts": wall},
                    ["rebalance_id", "symbol"],
                )
        return inserted

    def decisions_for_rebalance(self, rebalance_id: str) -> dict[str, tuple[float, datetime]]:
        """Symbol -> (decision mid, decision time)."""
        stmt = select(Decision).where(Decision.rebalance_id == rebalance_id)
        with self._tx("decisions_for_rebalance") as s:
            return {d.symbol: (d.mid, d.ts) for d in s.scalars(stmt).all()}

    def record_samples(self, rebalance_id: str, samples: Iterable[SampleRecord]) -> int:
        """Store market samples (all or none); returns how many were new."""
        wall = self._wall_now()
        inserted = 0
        with self._tx("record_samples") as s:
            for r in samples:
                if r.phase not in SAMPLE_PHASES:
                    raise ValueError(f"sample phase must be one of {SAMPLE_PHASES}, got {r.phase!r}")
                inserted += self._insert_ignore(
                    s, MarketSample,
                    {"rebalance_id": rebalance_id, "symbol": r.symbol, "phase": r.phase,
                     "ts": r.ts, "wall_ts": wall, "bid": r.bid, "ask": r.ask, "mid": r.mid,
                     "last": r.last, "volume": r.volume},
                    ["rebalance_id", "symbol", "ts"],
                )
        return inserted

    def samples_for_rebalance(
        self, rebalance_id: str, symbol: str | None = None
    ) -> list[SampleRecord]:
        """Stored samples, by symbol then time."""
        stmt = select(MarketSample).where(MarketSample.rebalance_id == rebalance_id)
        if symbol is not None:
            stmt = stmt.where(MarketSample.symbol == symbol)
        with self._tx("samples_for_rebalance") as s:
            rows = s.scalars(stmt.order_by(MarketSample.symbol, MarketSample.ts)).all()
        return [
            SampleRecord(r.symbol, r.ts, r.phase, r.bid, r.ask, r.mid, r.last,
                         int(r.volume) if r.volume is not None else None)
            for r in rows
        ]

    def list_rebalances(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        limit: int | None = None,
    ) -> list[Rebalance]:
        """Rebalances newest first (by creation time), optionally with
        ``since <= session_date <= until``."""
        stmt = select(Rebalance)
        if since is not None:
            stmt = stmt.where(Rebalance.session_date >= since)
        if until is not None:
            stmt = stmt.where(Rebalance.session_date <= until)
        stmt = stmt.order_by(Rebalance.created_at.desc(), Rebalance.rebalance_id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx("list_rebalances") as s:
            return list(s.scalars(stmt).all())

    def plans_for_rebalance(self, rebalance_id: str) -> list[Plan]:
        """Stored plans (first attempt of each intent first), by id."""
        stmt = select(Plan).where(Plan.rebalance_id == rebalance_id).order_by(Plan.attempt, Plan.id)
        with self._tx("plans_for_rebalance") as s:
            return list(s.scalars(stmt).all())

    def modify_counts_for_rebalance(self, rebalance_id: str) -> dict[str, int]:
        """Cancel/replace (``modify_sent``) events per client order id."""
        stmt = (
            select(OrderEventRow.client_order_id, func.count())
            .join(Order, Order.client_order_id == OrderEventRow.client_order_id)
            .where(Order.rebalance_id == rebalance_id, OrderEventRow.kind == "modify_sent")
            .group_by(OrderEventRow.client_order_id)
        )
        with self._tx("modify_counts_for_rebalance") as s:
            return {coid: int(n) for coid, n in s.execute(stmt).all()}
