"""The rebalance's Prefect tasks: each calls ONE lib.pipeline function.

A rebalance is about ten task runs whatever its size (a task per order or per
poll would flood the Prefect server: ~40 ms of server CPU per task run).
Results are not cached: idempotency lives in the SQL ledger and broker
reconciliation, not in Prefect's cache (see ../docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from lib import pipeline
from lib.basket import NettingResult
from lib.errors import BrokerTransientError
from lib.notify import NotifyResult
from lib.params import RebalanceParams
from lib.risk import RiskBlock, RiskReport
from lib.runtime import open_runtime
from lib.story import (
    tell_blocks,
    tell_deferred,
    tell_netting,
    tell_rejected,
    tell_results,
    tell_skipped,
)
from lib.supervisor import SupervisionReport
from lib.types import ExecutionResult, OrderIntent, OrderPlan, PairGroup
from tasks.alerts import notifier
from tasks.kill_switch import VariableKillSwitch
from tasks.progress import ProgressArtifact, artifact_key
from tasks.runlog import run_log

__all__ = [
    "allocate",
    "analyse",
    "execute",
    "export_metrics",
    "gate_sessions",
    "make_plans",
    "market_context",
    "net_trades",
    "pre_trade_risk",
    "prepare_trades",
    "run_started_wall",
    "send_alerts",
    "set_progress_listener",
]

_STEP: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
_progress_listener: Callable[[int, int], None] | None = None


def set_progress_listener(listener: Callable[[int, int], None] | None) -> None:
    """Process-local hook (the CLI's progress bar) called as parents finish."""
    global _progress_listener
    _progress_listener = listener


def _transient(task: object, task_run: object, state: Any) -> bool:
    """Retry only transient broker errors (disconnects, timeouts), never a
    rejection or a validation error."""
    try:
        state.result()
    except BrokerTransientError:
        return True
    except Exception:
        return False
    return False


@task(name="prepare-trades", **_STEP)
def prepare_trades(params: RebalanceParams) -> pipeline.Prepared:
    prepared = pipeline.prepare_trades(open_runtime(params))
    log = run_log()
    log.info("rebalance %s (%s): %d intents, NAV %.0f, ledger %s", prepared.rebalance_id,
             "new" if prepared.created else "rerun", len(prepared.trades.intents), prepared.nav,
             prepared.ledger)
    tell_skipped(log, prepared.trades.skipped)
    return prepared


@task(name="gate-sessions", **_STEP)
def gate_sessions(params: RebalanceParams, prepared: pipeline.Prepared) -> pipeline.GateReport:
    gate = pipeline.gate_sessions(open_runtime(params), prepared)
    tell_deferred(run_log(), gate.deferred)
    return gate


@task(name="net-trades", **_STEP)
def net_trades(
    params: RebalanceParams, prepared: pipeline.Prepared, gate: pipeline.GateReport
) -> NettingResult:
    netting = pipeline.net_trades(open_runtime(params), prepared, gate)
    tell_netting(run_log(), netting)
    return netting


@task(name="market-context", **_STEP)
def market_context(params: RebalanceParams, intents: Sequence[OrderIntent]) -> pipeline.MarketContext:
    return pipeline.market_context(open_runtime(params), intents)


@task(name="pre-trade-risk", **_STEP)
def pre_trade_risk(
    params: RebalanceParams, intents: Sequence[OrderIntent], ctx: pipeline.MarketContext
) -> RiskReport:
    risk = pipeline.pre_trade_risk(open_runtime(params), intents, ctx, VariableKillSwitch())
    tell_blocks(run_log(), risk.blocks)
    return risk


@task(name="make-plans", **_STEP)
def make_plans(
    params: RebalanceParams, intents: Sequence[OrderIntent], ctx: pipeline.MarketContext
) -> pipeline.PlanSet:
    planset = pipeline.make_plans(open_runtime(params), intents, ctx, VariableKillSwitch())
    log = run_log()
    tell_blocks(log, planset.blocks)
    tell_rejected(log, planset.rejected, planset.blocks)
    log.info("%d plans: %s", len(planset.plans),
             ", ".join(f"{p.side.value} {p.quantity} {p.symbol} {p.mode.value}" for p in planset.plans))
    return planset


@task(
    name="execute",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_transient,
    **_STEP,
)
def execute(
    params: RebalanceParams, plans: Sequence[OrderPlan], pairs: Sequence[PairGroup] = ()
) -> SupervisionReport:
    """The one long-running task: reconcile, then supervise every order."""
    progress = ProgressArtifact(key=artifact_key("progress", open_runtime(params).rebalance_id))

    def on_progress(done: int, total: int) -> None:
        progress.update(done, total)
        if _progress_listener is not None:
            _progress_listener(done, total)

    log = run_log()
    report = pipeline.execute(open_runtime(params), plans, pairs, on_progress=on_progress,
                              kill_switch=VariableKillSwitch(), log=log)
    tell_blocks(log, report.blocks, when="supervision")
    tell_results(log, report.results, attempt=report.attempt, orders_sent=report.orders_sent)
    return report


@task(name="allocate", **_STEP)
def allocate(
    params: RebalanceParams,
    netting: NettingResult,
    direct: Sequence[OrderIntent],
    report: SupervisionReport,
    prepared: pipeline.Prepared,
) -> pipeline.AllocationReport:
    return pipeline.allocate(open_runtime(params), netting, direct, report, prepared.prices)


@task(name="analyse", **_STEP)
def analyse(
    params: RebalanceParams,
    results: Sequence[ExecutionResult],
    netting: NettingResult,
    ctx: pipeline.MarketContext,
    prepared: pipeline.Prepared | None = None,
) -> pipeline.RunSummary:
    mids = dict(prepared.prices) if prepared is not None else None
    return pipeline.analyse(open_runtime(params), results, netting, ctx.snapshots, mids)


@task(name="send-alerts", **_STEP)
def send_alerts(
    params: RebalanceParams,
    run: pipeline.RunSummary,
    blocks: Sequence[RiskBlock],
    rejected: Mapping[str, str] | None = None,
) -> list[NotifyResult]:
    """One result per alert; ``failed`` names destinations that refused it after retries.
    Destinations: the environment and the Prefect Secret block (tasks.alerts)."""
    return list(pipeline.send_alerts(open_runtime(params), run, blocks, notifier(log=run_log()),
                                     rejected=rejected))


@task(name="export-metrics", **_STEP)
def export_metrics(
    params: RebalanceParams,
    results: Sequence[ExecutionResult],
    plans: Sequence[OrderPlan],
    netting: NettingResult,
    blocks: Sequence[RiskBlock],
    reject_reasons: dict[str, str],
) -> str:
    started = run_started_wall()
    res = pipeline.export_metrics(
        open_runtime(params), results, plans, netting, blocks, reject_reasons,
        started_wall=started, finished_wall=datetime.now(UTC),
    )
    return f"{res.target}: {'ok' if res.ok else res.detail}"


def run_started_wall() -> datetime | None:
    """Wall-clock start of the current flow run (None outside one)."""
    ctx = FlowRunContext.get()
    start = ctx.flow_run.start_time if ctx is not None and ctx.flow_run is not None else None
    return start.astimezone(UTC) if start is not None else None
