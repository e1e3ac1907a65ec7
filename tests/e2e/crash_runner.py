"""Runs one rebalance through the pipeline in THIS process and, if asked,
dies hard (``os._exit``) at a named phase: the crash half of the rerun tests.

    python -m tests.e2e.crash_runner RID STATE DB_URL [SCHEMA|-] [PHASE|-]

Phases: the supervisor's checkpoints (before_submit, after_submit, mid_fills,
after_fills) plus before_allocate (fills in, books not yet moved).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lib import pipeline as P
from lib.params import RebalanceParams
from lib.runtime import open_runtime

HERE = Path(__file__).resolve().parent
CRASH_EXIT = 17


def run(rid: str, state: str, db_url: str, schema: str | None, crash_at: str | None) -> dict[str, int]:
    def checkpoint(name: str) -> None:
        if name == crash_at:
            os._exit(CRASH_EXIT)  # no cleanup, no cancel: a real crash

    params = RebalanceParams(
        targets=str(HERE / "targets_small.yaml"),
        settings=str(HERE / "settings_small.yaml"),
        rebalance_id=rid,
        sim_state=state,
    )
    rt = open_runtime(params, database_url=db_url, database_schema=schema)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    legs = [leg for p in gate.pairs for leg in p.legs]
    intents = [*netting.net_intents, *legs]
    ctx = P.market_context(rt, intents)
    risk = P.pre_trade_risk(rt, intents, ctx)
    plans = P.make_plans(rt, risk.approved, ctx)
    report = P.execute(rt, plans.plans, gate.pairs, checkpoint=checkpoint)
    checkpoint("before_allocate")
    P.allocate(rt, netting, legs, report, prepared.prices)
    return {r.intent_id: r.filled_quantity for r in report.results}


if __name__ == "__main__":
    rid, state, url = sys.argv[1:4]
    schema = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    phase = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    filled = run(rid, state, url, schema, phase)
    print(filled)
