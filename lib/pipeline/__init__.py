"""The steps of one rebalance, as plain functions over a :class:`lib.runtime.Runtime`.

Each Prefect task in ``tasks/`` calls exactly one of these; each returns
frozen value objects. In order::

    prepare_trades -> gate_sessions -> net_trades -> market_context -> pre_trade_risk
      -> make_plans -> execute -> allocate -> analyse -> send_alerts -> export_metrics
"""

from lib.pipeline.execute import AllocationReport, allocate, execute
from lib.pipeline.outcome import RunOutcome, run_outcome
from lib.pipeline.prepare import (
    Deferred,
    GateReport,
    MarketContext,
    PlanSet,
    Prepared,
    gate_sessions,
    make_plans,
    market_context,
    net_trades,
    pre_trade_risk,
    prepare_trades,
)
from lib.pipeline.report import RunSummary, analyse, export_metrics, send_alerts, undelivered_alerts

__all__ = [
    "AllocationReport",
    "Deferred",
    "GateReport",
    "MarketContext",
    "PlanSet",
    "Prepared",
    "RunOutcome",
    "RunSummary",
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
    "run_outcome",
    "send_alerts",
    "undelivered_alerts",
]
