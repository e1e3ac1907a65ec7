"""The rebalance flow under a Prefect test harness, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from flows.rebalance import rebalance
from lib.errors import InputError
from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, open_runtime

FILLED = {"ES": 2, "SPY": 2000, "TLT": 3000, "DIS": 8000, "QQQ": 600, "IWM": 1400}


async def _artifact(key: str) -> str | None:
    async with get_client() as client:
        art = await client.read_latest_artifacts()
        for a in art:
            if a.key == key:
                return str(a.data)
    return None


def test_flow_executes_records_and_reruns_idempotently(flow_params: RebalanceParams) -> None:
    out = rebalance(flow_params)
    assert {r["symbol"]: r["filled"] for r in out["results"]} == FILLED
    assert out["netting_qty_saved"] == 4000 and out["risk_blocks"] == [] and not out["rerun"]
    rt = open_runtime(flow_params)
    ledger = rt.ledger
    orders = ledger.orders_for_rebalance("flow-test")
    assert orders and all(o.client_order_id.startswith("flow-test:") for o in orders)
    fills = ledger.fills_for_rebalance("flow-test")
    assert sum(f.quantity for f in fills) == sum(FILLED.values())
    assert ledger.sleeve_positions("trend") == {"ES": 2, "SPY": 3000, "TLT": -1000}

    # A new run with the same rebalance_id (what the UI's Retry amounts to)
    # in a fresh process-level runtime: reconciles, sends nothing.
    clear_runtimes()
    again = rebalance(flow_params)
    assert again["rerun"] and again["orders_sent"] == 0 and again["attempt"] == 1
    assert {r["symbol"]: r["filled"] for r in again["results"]} == FILLED
    # Slippage stays measured against the first run's arrival mid.
    assert [r["slippage_bps"] for r in again["results"]] == pytest.approx(
        [r["slippage_bps"] for r in out["results"]])
    rt = open_runtime(flow_params)
    assert len(rt.ledger.fills_for_rebalance("flow-test")) == len(fills)
    assert rt.ledger.sleeve_positions("trend") == {"ES": 2, "SPY": 3000, "TLT": -1000}


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_dry_run_sends_nothing_and_writes_an_artifact(flow_params: RebalanceParams) -> None:
    import asyncio

    params = flow_params.model_copy(update={"dry_run": True, "rebalance_id": "flow-dry"})
    out = rebalance(params)
    assert out["dry_run"] and out["plans"] == 6 and out["results"] == []
    rt = open_runtime(params)
    assert rt.broker.get_open_orders() == [] and rt.broker.get_executions() == []
    assert rt.ledger.orders_for_rebalance("flow-dry") == []
    text = asyncio.run(_artifact("rebalance-flow-dry"))
    assert text is not None and "Dry run: nothing was sent" in text


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_bad_parameters_are_rejected_before_anything_runs(flow_params: RebalanceParams) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="rebalance_id"):
        RebalanceParams(targets="x.yaml", rebalance_id="has:colon")
    with pytest.raises(ValidationError, match="extra"):
        RebalanceParams(targets="x.yaml", brokr="sim")  # type: ignore[call-arg]


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_prefect_variable_kill_switch_blocks_all_submission(flow_params: RebalanceParams) -> None:
    from prefect.variables import Variable

    from tasks.kill_switch import KILL_SWITCH_VARIABLE

    params = flow_params.model_copy(update={"rebalance_id": "flow-killed"})
    Variable.set(KILL_SWITCH_VARIABLE, "exchange outage", overwrite=True)
    try:
        state = rebalance(params, return_state=True)
    finally:
        Variable.unset(KILL_SWITCH_VARIABLE)
    # every order blocked: not a green Completed run (issue 8)
    assert state.is_failed() and state.name == "Blocked"
    assert "every order blocked" in (state.message or "") and "kill_switch" in (state.message or "")
    out = state.result(raise_on_failure=False)
    assert out["plans"] == 0 and out["orders_sent"] == 0
    assert out["risk_blocks"] and all("kill_switch" in b and "exchange outage" in b
                                      for b in out["risk_blocks"])
    rt = open_runtime(params)
    assert rt.broker.get_executions() == [] and rt.broker.get_open_orders() == []
    assert {b.control for b in rt.ledger.risk_blocks_for_rebalance("flow-killed")} == {"kill_switch"}


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_a_failed_rebalance_is_alerted(
    flow_params: RebalanceParams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import CaptureServer

    bad = tmp_path / "bad.yaml"
    bad.write_text("sleeves: {trend: {trades: [{symbol: SPY, side: BUY, quantity: 1.5}]}}\n")
    with CaptureServer() as server:
        monkeypatch.setenv("EXEC_APPRISE_URLS", f"json://127.0.0.1:{server.port}/alerts")
        params = flow_params.model_copy(update={"targets": str(bad), "rebalance_id": "flow-bad"})
        with pytest.raises(InputError, match="quantity"):
            rebalance(params)
        assert server.requests == []  # input the user got wrong pages nobody (issue 7)
        # A real failure (the ledger cannot be reached) still pages.
        monkeypatch.setenv("EXEC_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:1/none?connect_timeout=2")
        with pytest.raises(Exception, match="127.0.0.1"):
            rebalance(flow_params.model_copy(update={"rebalance_id": "flow-broken"}))
    (post,) = [r.json() for r in server.requests]
    assert "flow-broken FAILED" in post["title"] and "127.0.0.1" in post["message"]
    # Both failed runs export the batch-job outcome "failed" (and no last success).
    metrics = tmp_path / "var" / "metrics"
    for rid in ("flow-bad", "flow-broken"):
        text = (metrics / f"{rid}.prom").read_text()
        assert f'abstractfinance_rebalance_outcome{{outcome="failed",rebalance="{rid}"' in text
        assert "last_success_timestamp_seconds{" not in text
