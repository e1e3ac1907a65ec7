"""What a finished rebalance amounts to, for its final (Prefect) state.

A run that sent nothing because every order was blocked (kill switch, risk)
is not a success: it is ``Blocked`` (the flow ends Failed, named so, and
pages). A run where some orders were blocked, rejected, deferred or left
unfilled is ``Partial`` (Completed, named so the UI shows it). Everything
else is ``Completed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lib.risk import RiskBlock
from lib.types import ExecutionResult

__all__ = ["ALERTS_UNDELIVERED", "BLOCKED", "COMPLETED", "PARTIAL", "RunOutcome", "run_outcome"]

COMPLETED = "Completed"
#: Every order done but some alert was refused by its destination (retries spent).
ALERTS_UNDELIVERED = "AlertsUndelivered"
PARTIAL = "Partial"
BLOCKED = "Blocked"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """``name``: Completed / Partial / Blocked; ``failed``: the run must not
    look green (Blocked); ``message``: one line for the UI and the alert."""

    name: str
    failed: bool
    message: str


def run_outcome(
    *,
    intents: int,
    plans: int,
    blocks: Sequence[RiskBlock],
    rejected: int = 0,
    deferred: int = 0,
    results: Sequence[ExecutionResult] | None = None,
    undelivered: int = 0,
) -> RunOutcome:
    """Classify a run. ``intents``: orders considered after netting (pair legs
    included); ``plans``: how many got a plan; ``blocks``: every risk block,
    supervision's included; ``results``: None for a dry run; ``undelivered``:
    alerts a destination refused to the end (noted; never fails the run)."""
    out = _classify(intents, plans, blocks, rejected, deferred, results)
    if not undelivered:
        return out
    note = f"; {undelivered} alert(s) NOT DELIVERED (see the log)"
    name = ALERTS_UNDELIVERED if out.name == COMPLETED else out.name
    return RunOutcome(name, out.failed, out.message + note)


def _classify(
    intents: int,
    plans: int,
    blocks: Sequence[RiskBlock],
    rejected: int,
    deferred: int,
    results: Sequence[ExecutionResult] | None,
) -> RunOutcome:
    blocked = len({b.intent_id for b in blocks})
    controls = sorted({b.control for b in blocks})
    filled_any = any(r.filled_quantity > 0 for r in results or ())
    if blocks and (plans == 0 or (results is not None and not filled_any)):
        return RunOutcome(
            BLOCKED, True,
            f"every order blocked ({blocked} intent(s); {', '.join(controls)}): nothing executed",
        )
    unfilled = [r for r in results or () if r.status != "filled"]
    if blocks or rejected or deferred or unfilled:
        parts = [
            f"{n} {what}" for n, what in (
                (blocked, "blocked"), (rejected, "rejected"), (deferred, "deferred"),
                (len(unfilled), "not fully filled"),
            ) if n
        ]
        return RunOutcome(PARTIAL, False, f"{intents} order(s): " + ", ".join(parts))
    return RunOutcome(COMPLETED, False, f"{intents} order(s) completed")
