"""One rebalance = one Prefect flow run, a straight sequence of tasks.

    prepare trades -> gate sessions -> net across sleeves -> ADV + market data
      -> pre-trade risk -> plans -> [dry run stops here] -> execute (one task)
      -> allocate to sleeves -> analytics -> alerts -> metrics

Rerunning the same ``rebalance_id`` (a new run, or Retry in the Prefect UI)
reconciles with the broker and trades only the residual.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from flows.report import dry_run_markdown, run_markdown, summary_dict
from lib.notify import Notifier, failure_message
from lib.params import RebalanceParams
from lib.pipeline.outcome import COMPLETED, RunOutcome, run_outcome
from lib.pipeline.report import undelivered_alerts
from tasks import steps
from tasks.progress import artifact_key


def _user_error(state: Any) -> bool:
    """The run failed on input the user got wrong (no page for that)."""
    from lib.errors import ConfigError, InputError, UnknownInstrument

    user = (ConfigError, InputError, UnknownInstrument)
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:
        exc = None
    if isinstance(exc, BaseException):
        return isinstance(exc, user)
    return any(f"{t.__name__}: " in (state.message or "") for t in user)


def final_state(out: dict[str, Any], outcome: RunOutcome, *, dry_run: bool = False) -> Any:
    """The flow's return: ``out`` itself when Completed; a named state
    otherwise (Failed "Blocked" pages; Completed "Partial" shows in the UI)."""
    if outcome.failed and not dry_run:
        return Failed(name=outcome.name, message=outcome.message, data=out)
    if outcome.name != COMPLETED:
        return Completed(name=outcome.name, message=outcome.message, data=out)
    return out


def alert_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure hook: a failed or crashed rebalance pages through apprise
    (not for bad targets/settings: the user is told directly, exit 2)."""
    if _user_error(state):
        return
    params = (flow_run.parameters or {}).get("params") or {}
    rid = params.get("rebalance_id") or flow_run.name
    message = failure_message(str(rid), "flow", state.message or state.name)
    Notifier.from_env().send(message)


def run_name() -> str:
    """Flow-run name: the rebalance id when given, else "<schedule>-<targets file>"
    (the default id is only known once the runtime computes it)."""
    from prefect.runtime import flow_run

    p = (flow_run.parameters or {}).get("params") or {}
    if not isinstance(p, dict):
        p = p.model_dump() if hasattr(p, "model_dump") else {}
    rid = p.get("rebalance_id")
    if rid:
        return str(rid)
    stem = str(p.get("targets", "rebalance")).rsplit("/", 1)[-1].split(".", 1)[0]
    return f"{p.get('schedule_slug', 'manual')}-{stem}"


@flow(
    name="rebalance",
    flow_run_name=run_name,
    log_prints=True,
    validate_parameters=True,
    on_failure=[alert_failure],
    on_crashed=[alert_failure],
)
def rebalance(params: RebalanceParams) -> dict[str, Any]:
    """Execute one rebalance described by ``params`` (see lib/params.py)."""
    prepared = steps.prepare_trades(params)
    print(f"rebalance {prepared.rebalance_id}: ledger {prepared.ledger}")  # every run, in its logs
    gate = steps.gate_sessions(params, prepared)
    netting = steps.net_trades(params, prepared, gate)
    pair_legs = [leg for pair in gate.pairs for leg in pair.legs]
    to_trade = [*netting.net_intents, *pair_legs]
    ctx = steps.market_context(params, to_trade)
    risk = steps.pre_trade_risk(params, to_trade, ctx)
    planset = steps.make_plans(params, risk.approved, ctx)
    blocks = [*risk.blocks, *planset.blocks]
    key = artifact_key("rebalance", prepared.rebalance_id)
    if params.dry_run:
        create_markdown_artifact(dry_run_markdown(prepared, gate, netting, planset, blocks), key=key)
        out = summary_dict(prepared, gate, netting, planset, blocks, None, None)
        return final_state(out, run_outcome(
            intents=len(to_trade), plans=len(planset.plans), blocks=blocks,
            rejected=len(planset.rejected), deferred=len(gate.deferred)), dry_run=True)

    report = steps.execute(params, planset.plans, gate.pairs)
    blocks = [*blocks, *report.blocks]  # the kill switch / risk gate during supervision
    allocation = steps.allocate(params, netting, pair_legs, report, prepared)
    run = steps.analyse(params, report.results, netting, ctx, prepared)
    alerts = steps.send_alerts(params, run, blocks, dict(planset.rejected))
    steps.export_metrics(params, report.results, planset.plans, netting, blocks,
                          dict(planset.reject_reasons))
    create_markdown_artifact(run_markdown(prepared, gate, netting, planset, blocks, report, run), key=key)
    out = summary_dict(prepared, gate, netting, planset, blocks, report, allocation)
    return final_state(out, run_outcome(
        intents=len(to_trade), plans=len(planset.plans), blocks=blocks,
        rejected=len(planset.rejected), deferred=len(gate.deferred), results=report.results,
        undelivered=undelivered_alerts(alerts)))
