"""Account-level check before trading: broker positions vs the ledger's sleeve books.

The broker's signed position per symbol must equal what the ledger says the
sleeves hold, plus executions the ledger journaled but has not yet allocated
to sleeves (a run that crashed between supervision and allocation):

    expected[symbol] = sum over sleeves of sleeve_positions
                       + sum of signed ledger fills - sum of applied "execution" allocations

A difference is a *break* (a manual trade in the account, a fill the ledger
missed, another system trading the account). Every break is recorded as a
risk block ``positions_break`` and alerted; with ``ibkr.positions_break_action:
block`` the run stops with RiskBlocked before anything is sent.

The check runs for ``--broker ibkr`` only: the simulator's book is per
rebalance, so it never holds the sleeves' history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lib.errors import RiskBlocked
from lib.notify import Notifier, NotifyLevel, risk_block_message
from lib.runtime import Runtime
from lib.store import LedgerRepository
from lib.store.models import FillRow, SleeveAllocation, SleevePosition

__all__ = ["CONTROL", "PositionBreak", "PositionCheck", "check_account_positions", "compare_positions", "ledger_expected"]

CONTROL = "positions_break"


@dataclass(frozen=True, slots=True)
class PositionBreak:
    """broker and expected are signed shares/contracts."""

    symbol: str
    broker: int
    expected: int

    @property
    def detail(self) -> str:
        return f"broker holds {self.broker}, the sleeve books say {self.expected} (diff {self.broker - self.expected:+d})"


@dataclass(frozen=True, slots=True)
class PositionCheck:
    breaks: tuple[PositionBreak, ...]
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def detail(self) -> str:
        return "; ".join(f"{b.symbol}: {b.detail}" for b in self.breaks)


def compare_positions(broker: Mapping[str, int], expected: Mapping[str, int]) -> PositionCheck:
    """Every symbol where the broker's position differs from the expected one."""
    out = [
        PositionBreak(s, int(broker.get(s, 0)), int(expected.get(s, 0)))
        for s in sorted(set(broker) | set(expected))
        if int(broker.get(s, 0)) != int(expected.get(s, 0))
    ]
    return PositionCheck(tuple(out))


def ledger_expected(ledger: LedgerRepository) -> dict[str, int]:
    """What the broker should hold per symbol according to the ledger (see module doc)."""
    signed = case((FillRow.side == "BUY", FillRow.quantity), else_=-FillRow.quantity)
    out: dict[str, int] = {}
    with Session(ledger.engine) as s:
        for sym, q in s.execute(select(SleevePosition.symbol, func.sum(SleevePosition.quantity)).group_by(SleevePosition.symbol)):
            out[sym] = out.get(sym, 0) + int(q or 0)
        for sym, q in s.execute(select(FillRow.symbol, func.sum(signed)).group_by(FillRow.symbol)):
            out[sym] = out.get(sym, 0) + int(q or 0)
        applied = (
            select(SleeveAllocation.symbol, func.sum(SleeveAllocation.applied_quantity))
            .where(SleeveAllocation.source == "execution")
            .group_by(SleeveAllocation.symbol)
        )
        for sym, q in s.execute(applied):
            out[sym] = out.get(sym, 0) - int(q or 0)
    return {s: q for s, q in out.items() if q != 0}


def check_account_positions(rt: Runtime, notifier: Notifier | None = None) -> PositionCheck:
    """Compare the broker's positions with the ledger before trading (ibkr only).

    A break is recorded (risk block ``positions_break``) and alerted; with
    ``positions_break_action: block`` it raises RiskBlocked (nothing sent)."""
    if rt.params.broker != "ibkr":
        return PositionCheck((), skipped=True)
    check = compare_positions(rt.broker.get_positions(), ledger_expected(rt.ledger))
    if check.ok:
        return check
    action = rt.settings.ibkr.positions_break_action
    for b in check.breaks:
        rt.ledger.record_risk_block(rt.rebalance_id, CONTROL, b.detail, b.symbol)
    msg = risk_block_message(rt.rebalance_id, CONTROL, check.detail.replace("; ", "\n"))
    body = msg.body if action == "block" else msg.body.replace(
        "Nothing was sent for the blocked order(s).", "positions_break_action is alert: trading goes on."
    )
    (notifier or Notifier.from_env()).notify(msg.title, body, NotifyLevel.WARNING)
    if action == "block":
        raise RiskBlocked(CONTROL, f"broker positions differ from the sleeve books: {check.detail}")
    return check
