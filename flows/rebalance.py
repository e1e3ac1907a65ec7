"""One rebalance = one Prefect flow run, a straight sequence of tasks.

    prepare trades -> gate sessions -> net across sleeves -> ADV + market data
      -> pre-trade risk -> plans -> [dry run stops here] -> execute (one task)
      -> allocate to sleeves -> analytics -> alerts -> metrics -> charts -> artifacts

Artifacts (the run's Artifacts tab): the markdown report, the orders table,
the supervision progress and the charts (PNGs under var/charts, embedded).

Rerunning the same ``rebalance_id`` (a new run, or Retry in the Prefect UI)
reconciles with the broker and trades only the residual.

Parameters (lib/params.py holds their descriptions, which the UI's run form
shows): the production fields at the top level, so a run can override one
(``prefect deployment run rebalance/us-open --param rebalance_id=X``) and keep
the deployment's others; the simulator-only fields in the ``sim`` group.
Every parameter has a default (the demo on the simulator), so "Quick run"
starts a run at once. Python callers may still pass one RebalanceParams
(``rebalance(params)``, the CLI does); that parameter is hidden from the
form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.states import Completed, Failed
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from flows.artifacts import publish_charts, publish_rebalance
from flows.report import dry_run_markdown, run_markdown, summary_dict
from lib.metrics import export_failed_run
from lib.notify import failure_message
from lib.params import (
    FLOW_DEFAULTS,
    Broker,
    RebalanceId,
    RebalanceParams,
    ScheduleSlug,
    SimOptions,
    TargetsPath,
    described,
)
from lib.pipeline.outcome import COMPLETED, RunOutcome, run_outcome
from lib.pipeline.report import METRICS_TEXTFILES_KEPT, undelivered_alerts
from lib.types import PolicyMode
from tasks import steps
from tasks.alerts import notifier
from tasks.charts import render_rebalance_charts
from tasks.progress import artifact_key
from tasks.runlog import run_log

# Module-level defaults (ruff B008): Field defaults carry each description.
_TARGETS = described("targets")
_REBALANCE_ID = described("rebalance_id")
_SCHEDULE_SLUG = described("schedule_slug")
_BROKER = described("broker")
_DRY_RUN = described("dry_run")
_SETTINGS = described("settings")
_MODE = described("mode")
_SIM = Field(SimOptions(), description="Simulator settings (broker sim only): state file, seed, "
             "virtual start. Leave as is on a production run.")


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
    rid = _param(flow_run.parameters, "rebalance_id") or flow_run.name
    # Batch-job metrics: outcome="failed", last_success left where it was
    # (never raises; a user error is a failed run too, it only does not page).
    export_failed_run(str(rid), str(_param(flow_run.parameters, "schedule_slug") or "manual"),
                      finished_at=datetime.now(UTC), started_at=flow_run.start_time,
                      textfiles_kept=METRICS_TEXTFILES_KEPT)
    if _user_error(state):
        return
    message = failure_message(str(rid), "flow", state.message or state.name)
    notifier(log=run_log()).send(message)  # env + the Secret block, as every alert


def _param(parameters: dict[str, Any] | None, name: str) -> Any:
    """One parameter of a run, flat or inside the legacy ``params`` object."""
    parameters = parameters or {}
    value = parameters.get(name)
    if value is not None and value != FLOW_DEFAULTS.get(name):
        return value
    legacy = parameters.get("params")
    if hasattr(legacy, "model_dump"):
        legacy = legacy.model_dump()
    if isinstance(legacy, dict) and legacy.get(name) is not None:
        return legacy[name]
    return value


def run_name() -> str:
    """Flow-run name: the rebalance id when given, else "<schedule>-<targets file>"
    (the default id is only known once the runtime computes it)."""
    from prefect.runtime import flow_run

    rid = _param(flow_run.parameters, "rebalance_id")
    if rid:
        return str(rid)
    targets = _param(flow_run.parameters, "targets") or "rebalance"
    stem = str(targets).rsplit("/", 1)[-1].split(".", 1)[0]
    return f"{_param(flow_run.parameters, 'schedule_slug') or 'manual'}-{stem}"


@flow(
    name="rebalance",
    flow_run_name=run_name,
    log_prints=True,
    validate_parameters=True,
    on_failure=[alert_failure],
    on_crashed=[alert_failure],
)
def rebalance(
    params: SkipJsonSchema[RebalanceParams | None] = None,
    targets: TargetsPath = _TARGETS,
    rebalance_id: RebalanceId = _REBALANCE_ID,
    schedule_slug: ScheduleSlug = _SCHEDULE_SLUG,
    broker: Broker = _BROKER,
    dry_run: bool = _DRY_RUN,
    settings: str = _SETTINGS,
    mode: PolicyMode | None = _MODE,
    sim: SimOptions = _SIM,
) -> dict[str, Any]:
    """Execute one rebalance: plan every order from the targets file, supervise
    each to a terminal state, record it in the ledger, alert and report."""
    params = RebalanceParams.from_flow(
        base=params, sim=sim, targets=targets, rebalance_id=rebalance_id,
        schedule_slug=schedule_slug, broker=broker, dry_run=dry_run, settings=settings, mode=mode)
    prepared = steps.prepare_trades(params)  # logs the id, new/rerun and the ledger: every run
    gate = steps.gate_sessions(params, prepared)
    netting = steps.net_trades(params, prepared, gate)
    pair_legs = [leg for pair in gate.pairs for leg in pair.legs]
    to_trade = [*netting.net_intents, *pair_legs]
    ctx = steps.market_context(params, to_trade)
    risk = steps.pre_trade_risk(params, to_trade, ctx)
    planset = steps.make_plans(params, risk.approved, ctx)
    blocks = [*risk.blocks, *planset.blocks]
    if params.dry_run:
        outcome = run_outcome(intents=len(to_trade), plans=len(planset.plans), blocks=blocks,
                              rejected=len(planset.rejected), deferred=len(gate.deferred))
        publish_rebalance(prepared, gate, netting, planset, blocks,
                          dry_run_markdown(prepared, gate, netting, planset, blocks),
                          outcome=f"{outcome.name}: {outcome.message}")
        out = summary_dict(prepared, gate, netting, planset, blocks, None, None)
        out["charts"] = _charts(params, prepared.rebalance_id, "plans, nothing sent")
        return final_state(out, outcome, dry_run=True)

    report = steps.execute(params, planset.plans, gate.pairs)
    blocks = [*blocks, *report.blocks]  # the kill switch / risk gate during supervision
    allocation = steps.allocate(params, netting, pair_legs, report, prepared)
    run = steps.analyse(params, report.results, netting, ctx, prepared)
    alerts = steps.send_alerts(params, run, blocks, dict(planset.rejected))
    steps.export_metrics(params, report.results, planset.plans, netting, blocks,
                          dict(planset.reject_reasons))
    outcome = run_outcome(
        intents=len(to_trade), plans=len(planset.plans), blocks=blocks,
        rejected=len(planset.rejected), deferred=len(gate.deferred), results=report.results,
        undelivered=undelivered_alerts(alerts))
    publish_rebalance(prepared, gate, netting, planset, blocks,
                      run_markdown(prepared, gate, netting, planset, blocks, report, run),
                      report=report, run=run, outcome=f"{outcome.name}: {outcome.message}")
    out = summary_dict(prepared, gate, netting, planset, blocks, report, allocation)
    out["charts"] = _charts(params, prepared.rebalance_id, outcome.name)
    return final_state(out, outcome)


def _charts(params: RebalanceParams, rebalance_id: str, what: str) -> list[str]:
    """The rebalance's PNGs (task), embedded in a markdown artifact; their paths."""
    paths = render_rebalance_charts(rebalance_id, settings_path=params.settings)
    publish_charts(f"Charts of rebalance `{rebalance_id}`", paths, artifact_key("charts", rebalance_id),
                   f"Rebalance {rebalance_id} ({what}): slippage per order against its collar, fill "
                   f"progress per order; {len(paths)} PNG(s) under var/charts.")
    return paths
