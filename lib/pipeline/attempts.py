"""Attempts that died: a rerun reports every earlier attempt of the same
rebalance that never reached its end.

A run killed with SIGKILL (or by the OOM killer, a lost machine, a crashed
worker) cannot run its failure hook, so nothing pages for it. Its attempt row
keeps ``finished_at`` NULL; the next attempt of the same rebalance id finds it
right after claiming the rebalance, sends one warning per such attempt and
marks it ``abandoned``, before any quote is read or order sent. That run then
reconciles with the broker and trades only the residual, as every rerun does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from lib.notify import Message, Notifier, NotifyLevel
from lib.pipeline.report import deliver_alert
from lib.runtime import Runtime
from lib.store.models import RebalanceAttempt

log = logging.getLogger(__name__)

__all__ = ["abandoned_attempt_message", "report_abandoned_attempts"]


def abandoned_attempt_message(
    rebalance_id: str, attempt: int, started: datetime, started_wall: datetime | None
) -> Message:
    """The warning for one attempt that never finished. ``started``: its
    virtual start (the run's clock); ``started_wall``: wall clock, if known."""
    wall = f" (wall clock {started_wall.isoformat(timespec='seconds')})" if started_wall else ""
    return Message(
        title=f"Rebalance {rebalance_id}: attempt {attempt} did not finish",
        body=(
            f"Attempt {attempt} started at {started.isoformat(timespec='seconds')}{wall} and never "
            "recorded its end: it crashed, was killed or failed before its analytics step.\n"
            "This rerun reconciles with the broker before sending anything and trades only "
            "the residual."
        ),
        level=NotifyLevel.WARNING,
    )


def report_abandoned_attempts(rt: Runtime, notifier: Notifier | None = None) -> tuple[int, ...]:
    """Alert and mark every earlier accepted attempt of ``rt.rebalance_id``
    that never finished; returns their numbers (empty on a first run)."""
    found: Sequence[RebalanceAttempt] = rt.ledger.close_abandoned_attempts(rt.rebalance_id)
    if not found:
        return ()
    n = notifier or Notifier.from_env()
    for a in found:
        log.warning("rebalance %s: attempt %d did not finish (crashed, killed or failed)",
                    rt.rebalance_id, a.attempt)
        deliver_alert(rt, n, abandoned_attempt_message(
            rt.rebalance_id, a.attempt, a.ts, a.wall_ts))
    return tuple(int(a.attempt) for a in found)

