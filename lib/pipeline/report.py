"""After execution: TCA and the run summary, alerts, and Prometheus metrics."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lib.analytics import DailySummary, ExecutionAnalytics, format_summary
from lib.basket import NettingResult
from lib.metrics import (
    BROKER_REJECTED,
    ExecutionMetrics,
    ExportResult,
    prune_textfiles,
    record_execution_policy,
    record_execution_rejected,
    record_execution_result,
    record_netting_savings,
    record_risk_block,
    record_run,
)
from lib.notify import (
    Message,
    Notifier,
    NotifyResult,
    rebalance_summary_message,
    risk_block_message,
)
from lib.orders.states import OrderState
from lib.risk import RiskBlock
from lib.runtime import Runtime
from lib.sampling import is_virtual, sample_after, tape_volume
from lib.store import SampleRecord
from lib.types import ExecutionResult, MarketDataSnapshot, OrderPlan

__all__ = [
    "ALERT_RETRY_SECONDS", "ENV_PUSHGATEWAY", "METRICS_TEXTFILES_KEPT", "RunSummary", "analyse",
    "deliver_alert", "export_metrics", "send_alerts", "undelivered_alerts",
]

log = logging.getLogger(__name__)

#: Waits (seconds on the runtime's clock) before each retry of an alert some
#: destination refused: two retries, then the failure is logged at ERROR and
#: counted in the run's outcome (see undelivered_alerts); trades never fail for it.
ALERT_RETRY_SECONDS = (2.0, 8.0)

#: host:port of a Prometheus Pushgateway; unset = write var/metrics/<id>.prom instead.
ENV_PUSHGATEWAY = "EXEC_PUSHGATEWAY"
#: Newest var/metrics/*.prom files kept (one per rebalance; older ones deleted).
METRICS_TEXTFILES_KEPT = 200


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The rebalance's execution summary (``text`` is what alerts carry)."""

    rebalance_id: str
    summary: DailySummary | None
    text: str
    results: tuple[ExecutionResult, ...]


def analyse(
    rt: Runtime,
    results: Sequence[ExecutionResult],
    netting: NettingResult,
    snapshots: Mapping[str, MarketDataSnapshot],
    decision_mids: Mapping[str, float] | None = None,
) -> RunSummary:
    """TCA per order (spread at arrival, end mid for unfilled quantity), the
    summary of the run, stored as the rebalance's daily-metrics row.

    ``decision_mids`` (the prepare step's reference mids) are recorded as the
    rebalance's decision mids (first run wins) and are the shortfall
    benchmark. On a virtual clock the market is then sampled for markouts
    (:func:`lib.sampling.sample_after`: +31 min of simulated time)."""
    if decision_mids:
        rt.ledger.record_decisions(rt.rebalance_id, decision_mids, rt.clock.now())
    decisions = rt.ledger.decisions_for_rebalance(rt.rebalance_id)
    rt.ledger.record_samples(rt.rebalance_id, [  # the arrival quotes the plans priced off
        SampleRecord(s.symbol, s.ts, "during", s.bid, s.ask, s.mid, s.last)
        for s in snapshots.values() if s.ts is not None
    ])
    if is_virtual(rt.clock) and results:
        rt.ledger.record_samples(rt.rebalance_id, sample_after(
            rt.broker.get_market_data, rt.clock, [r.symbol for r in results],
            volume=lambda s: tape_volume(rt.broker, s),
        ))
    analytics = ExecutionAnalytics()
    for fill in rt.ledger.fills_for_rebalance(rt.rebalance_id):
        analytics.record_fill(fill)
    for r in results:
        snap = snapshots.get(r.symbol)
        end = rt.broker.get_market_data(r.symbol).mid
        analytics.record_order_complete(
            r,
            arrival_spread_bps=snap.spread_bps if snap is not None else None,
            end_mid=end,
            multiplier=rt.registry[r.symbol].multiplier,
            decision_mid=decisions[r.symbol][0] if r.symbol in decisions else None,
        )
    now = rt.clock.now()
    analytics.record_netting(
        at=now, saved_qty=netting.benefit.qty_saved, saved_notional=netting.benefit.notional_saved
    )
    summaries = analytics.daily_summaries()
    summary = summaries[-1] if summaries else None
    complete = all(r.filled_quantity >= r.requested_quantity for r in results)
    rt.ledger.set_rebalance_status(rt.rebalance_id, "done" if complete else "incomplete", finished=True)
    if summary is None:
        return RunSummary(rt.rebalance_id, None, "No orders were executed.", tuple(results))
    rt.ledger.record_daily_metrics(
        summary.day,
        scope=f"rebalance:{rt.rebalance_id}",
        orders=summary.orders,
        fills=summary.fills,
        fill_rate=summary.fill_rate,
        total_notional=summary.total_notional,
        commission=summary.commission,
        slippage_bps_weighted=summary.slippage_bps_weighted,
        slippage_bps_p95=summary.slippage_bps_p95,
        shortfall_bps=summary.shortfall_bps,
        replaces_total=summary.replaces_total,
        netting_saved_qty=summary.netting_saved_qty,
        netting_saved_notional=summary.netting_saved_notional,
    )
    text = format_summary(summary, title=f"Rebalance {rt.rebalance_id}")
    return RunSummary(rt.rebalance_id, summary, text, tuple(results))


def send_alerts(
    rt: Runtime,
    run: RunSummary,
    blocks: Sequence[RiskBlock],
    notifier: Notifier | None = None,
    *,
    rejected: Mapping[str, str] | None = None,
) -> tuple[NotifyResult, ...]:
    """Risk blocks (one alert per control) and the run summary, through apprise.
    ``rejected``: intent id -> why it got no plan (make_plans' ``rejected``); those
    not already among ``blocks`` make the summary a warning/failure too."""
    n = notifier or Notifier.from_env()
    out: list[NotifyResult] = []
    by_control: dict[str, list[RiskBlock]] = {}
    for b in blocks:
        by_control.setdefault(b.control, []).append(b)
    for control, bs in by_control.items():
        detail = "\n".join(f"{b.symbol}: {b.detail}" for b in bs)
        out.append(deliver_alert(rt, n, risk_block_message(rt.rebalance_id, control, detail)))
    if run.summary is not None:
        not_blocked = set(rejected or {}) - {b.intent_id for b in blocks}
        msg = rebalance_summary_message(
            rt.rebalance_id, run.summary, blocked=len(blocks), rejected=len(not_blocked))
        out.append(deliver_alert(rt, n, msg))
    return tuple(out)


def deliver_alert(rt: Runtime, n: Notifier, msg: Message) -> NotifyResult:
    """Send ``msg``; retry the destinations that refused it after each wait of
    ALERT_RETRY_SECONDS; what still refuses is logged at ERROR."""
    res = n.send(msg)
    for wait in ALERT_RETRY_SECONDS:
        if not res.failed:
            break
        rt.clock.sleep(wait)
        again = n.send(msg, only=res.failed)
        res = NotifyResult(sent=not again.failed, destinations=res.destinations,
                           failed=again.failed, reason=again.reason)
    if res.failed:
        log.error("alert %r NOT DELIVERED to %s after %d attempts", msg.title,
                  ", ".join(res.failed), 1 + len(ALERT_RETRY_SECONDS))
    return res


def undelivered_alerts(results: Sequence[NotifyResult]) -> int:
    """How many alerts some destination refused to the end (for the run's outcome)."""
    return sum(1 for r in results if r.failed)


def export_metrics(
    rt: Runtime,
    results: Sequence[ExecutionResult],
    plans: Sequence[OrderPlan],
    netting: NettingResult,
    blocks: Sequence[RiskBlock],
    reject_reasons: Mapping[str, str],
    *,
    started_wall: datetime | None = None,
    finished_wall: datetime | None = None,
) -> ExportResult:
    """The seed's execution metrics for this run (labelled with the rebalance
    and schedule), pushed to the Pushgateway in ``EXEC_PUSHGATEWAY`` or written
    to var/metrics/<id>.prom (the folder kept to METRICS_TEXTFILES_KEPT files).
    ``finished_wall`` (wall clock) adds the batch-job series (outcome, last
    success, duration since ``started_wall``).

    The last step of a run: it stamps the attempt finished first, so the next
    attempt does not report this one as abandoned (a failed push still pages
    through the flow's failure hook)."""
    rt.ledger.finish_attempt(rt.rebalance_id)
    m = ExecutionMetrics(run_labels={"rebalance": rt.rebalance_id,
                                     "schedule": rt.params.schedule_slug})
    for r in results:
        record_execution_result(m, r)
    for p in plans:
        record_execution_policy(m, p.mode.value)
    record_netting_savings(m, netting.benefit.qty_saved)
    for b in blocks:
        record_risk_block(m, b.control)
    for reason in reject_reasons.values():  # policy rejections; risk blocks counted above
        record_execution_rejected(m, reason)
    broker_rejects = [o for o in rt.ledger.orders_for_rebalance(rt.rebalance_id)
                      if o.status == OrderState.REJECTED.value]
    for _ in broker_rejects:
        record_execution_rejected(m, BROKER_REJECTED, source="broker")
    if finished_wall is not None:
        complete = all(r.filled_quantity >= r.requested_quantity for r in results)
        ok = complete and not blocks and not reject_reasons and not broker_rejects
        record_run(m, outcome="success" if ok else "incomplete", finished_at=finished_wall,
                   started_at=started_wall, orders=len(results))
    gateway = os.environ.get(ENV_PUSHGATEWAY)
    if gateway:
        return m.push(gateway, job="rebalance")
    folder = rt.var_dir / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    res = m.write_textfile(folder / f"{rt.rebalance_id}.prom")
    prune_textfiles(folder, METRICS_TEXTFILES_KEPT)
    return res
