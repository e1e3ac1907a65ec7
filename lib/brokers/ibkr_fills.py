"""Executions and commission reports from IB, deduplicated.

IB's facts this handles (all seen in production threads):

* the same execution arrives several times (live execDetails, then again in
  every ``reqExecutions`` answer, again after a reconnect): dedupe by execId;
* an execution correction carries the execId of the original with the last
  dot-separated part bumped (``...01.01`` -> ``...01.02``): it *replaces* the
  original (quantity, price), never adds to it. The Fill keeps the original's
  execId as its key (so a ledger keyed on exec_id sees one execution) and the
  latest revision's values;
* a commission report arrives after its execution, may arrive twice, may
  first be zero, may even arrive before the execution: the latest report per
  execId wins, a report for an unseen execution is kept until it arrives.

Units: shares/contracts, price per unit in the contract's currency,
commission in the report's currency (the account's base currency on IB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from lib.types import Fill, Side

__all__ = ["ExecutionBook", "ExecutionReport", "exec_base"]


def exec_base(exec_id: str) -> tuple[str, int]:
    """``(base, revision)`` of an IB execId: ``"a.b.01.02"`` -> ``("a.b.01", 2)``.

    An id without a numeric last part is its own base, revision 0."""
    base, sep, last = exec_id.rpartition(".")
    if sep and last.isdigit():
        return base, int(last)
    return exec_id, 0


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One execDetails, normalised. side is ours (IB's BOT/SLD mapped)."""

    exec_id: str
    perm_id: int
    order_id: int
    order_ref: str
    symbol: str
    side: Side
    shares: int
    price: float
    time: datetime
    liquidity: str = ""  # "add" / "remove" / ""


@dataclass(slots=True)
class _Entry:
    key: str  # first execId seen for this base
    revision: int
    report: ExecutionReport


class ExecutionBook:
    """Every execution seen on any connection of a run, each once."""

    def __init__(self) -> None:
        self._by_base: dict[str, _Entry] = {}
        self._commission: dict[str, float] = {}  # execId -> latest reported commission
        self._reported: set[str] = set()  # execIds with at least one commission report
        self._nonzero: set[str] = set()

    def add_execution(self, rep: ExecutionReport) -> bool:
        """Record an execution; True if it is new or a newer correction."""
        base, rev = exec_base(rep.exec_id)
        cur = self._by_base.get(base)
        if cur is None:
            self._by_base[base] = _Entry(rep.exec_id, rev, rep)
            return True
        if rev > cur.revision:
            cur.revision, cur.report = rev, rep
            return True
        return False

    def add_commission(self, exec_id: str, commission: float) -> None:
        """Record a commission report (the latest per execId wins; IB's
        'unset' sentinel and negatives from rebates are kept as given, NaN is 0)."""
        value = float(commission)
        if value != value or abs(value) > 1e12:  # NaN or IB's UNSET_DOUBLE
            value = 0.0
        self._commission[exec_id] = value
        self._reported.add(exec_id)
        if value != 0.0:
            self._nonzero.add(exec_id)

    def commission_settled(self, exec_key: str) -> bool:
        """True once the current revision of ``exec_key`` has a non-zero commission."""
        entry = self._entry(exec_key)
        return entry is not None and entry.report.exec_id in self._nonzero

    def _entry(self, exec_id: str) -> _Entry | None:
        return self._by_base.get(exec_base(exec_id)[0])

    def fills(self, prefix: str = "") -> list[Fill]:
        """Every execution whose orderRef starts with ``prefix``, in time order,
        keyed by its original execId, with the latest revision's values."""
        out = []
        for e in self._by_base.values():
            r = e.report
            if not r.order_ref.startswith(prefix):
                continue
            out.append(
                Fill(
                    exec_id=e.key, client_order_id=r.order_ref, symbol=r.symbol, side=r.side,
                    quantity=r.shares, price=r.price, ts=r.time,
                    commission=abs(self._commission.get(r.exec_id, 0.0)), liquidity=r.liquidity,
                )  # fmt: skip
            )
        out.sort(key=lambda f: (f.ts, f.exec_id))
        return out

    def unsettled(self, prefix: str = "") -> list[str]:
        """Execution keys under ``prefix`` still waiting for a non-zero commission."""
        return [
            e.key
            for e in self._by_base.values()
            if e.report.order_ref.startswith(prefix) and e.report.exec_id not in self._nonzero
        ]

    def filled_by_ref(self) -> dict[str, tuple[int, float]]:
        """orderRef -> (filled quantity, VWAP) from the executions (corrections applied)."""
        acc: dict[str, tuple[int, float]] = {}
        for e in self._by_base.values():
            r = e.report
            q, notional = acc.get(r.order_ref, (0, 0.0))
            acc[r.order_ref] = (q + r.shares, notional + r.shares * r.price)
        return {k: (q, n / q if q else 0.0) for k, (q, n) in acc.items()}

    def with_ref(self, order_id_to_ref: dict[int, str]) -> None:
        """Fill in missing orderRefs (executions of our orders reported without
        one) from the order id -> orderRef map of the run."""
        for e in self._by_base.values():
            if not e.report.order_ref and e.report.order_id in order_id_to_ref:
                e.report = replace(e.report, order_ref=order_id_to_ref[e.report.order_id])

    def __len__(self) -> int:
        return len(self._by_base)
