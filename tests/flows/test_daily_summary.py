"""The daily-summary flow: every rebalance of a day from the ledger, sent
through apprise (a local json:// capture server, one from the environment
and one from a Prefect Secret block), and an artifact."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from flows.daily_summary import daily_summary
from lib import pipeline as P
from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, open_runtime
from tests.flows.conftest import E2E
from tests.helpers import CaptureServer

DAY = date(2026, 11, 24)


def run_rebalance(params: RebalanceParams) -> None:
    """One simulated rebalance through the pipeline (no sleeve allocation, so a
    second one on the same books trades again)."""
    rt = open_runtime(params)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    legs = [leg for p in gate.pairs for leg in p.legs]
    ctx = P.market_context(rt, [*netting.net_intents, *legs])
    risk = P.pre_trade_risk(rt, [*netting.net_intents, *legs], ctx)
    plans = P.make_plans(rt, risk.approved, ctx)
    report = P.execute(rt, plans.plans, gate.pairs)
    P.analyse(rt, report.results, netting, ctx.snapshots, prepared.prices)


@pytest.mark.parametrize("ledger_db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_daily_summary_adds_up_the_day_and_sends_it(
    flow_params: RebalanceParams, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.blocks.system import Secret

    for rid in ("day-a", "day-b"):
        clear_runtimes()
        run_rebalance(flow_params.model_copy(update={"rebalance_id": rid}))
    with CaptureServer() as env_hook, CaptureServer() as block_hook:
        monkeypatch.setenv("EXEC_APPRISE_URLS", env_hook.url())
        monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", "afx-test-alert-urls")
        Secret(value=block_hook.url()).save("afx-test-alert-urls", overwrite=True)
        out = daily_summary(day=DAY, settings=str(E2E / "settings_small.yaml"), tz="UTC")
    assert out["rebalances"] == ["day-a", "day-b"]
    assert out["orders"] == 12 and out["sent"] == {"slack": True}
    rows = _table("daily-rebalances-2026-11-24")
    assert [r["rebalance"] for r in rows] == ["day-a", "day-b"]
    assert sum(r["orders"] for r in rows) == 12 and all(r["shortfall_bps"] is not None for r in rows)
    assert Path(out["chart"]).read_bytes().startswith(b"\x89PNG")
    assert "](data:image/png;base64," in _markdown("daily-chart-2026-11-24")
    for hook in (env_hook, block_hook):
        (req,) = hook.requests
        body = req.json()
        assert body["title"].startswith("Execution 2026-11-24: 2 rebalance(s)")
        assert "day-a" in body["message"] and "day-b" in body["message"]
        assert "IS total" in body["message"] and "Orders 12" in body["message"]


def _table(key: str) -> list[dict[str, Any]]:
    import asyncio
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> Any:
        async with get_client() as client:
            (art,) = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            assert art.description and "rebalances" in art.description
            return art.data

    data = asyncio.run(read())
    return json.loads(data) if isinstance(data, str) else data


def test_parameters_are_described_and_defaulted() -> None:
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(daily_summary).model_dump()
    assert schema["required"] == []
    assert all(p.get("description") for p in schema["properties"].values())


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_an_empty_day_still_reports(flow_params: RebalanceParams, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXEC_APPRISE_URLS", raising=False)
    monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", "")
    state = daily_summary(day=date(2026, 11, 20), settings=str(E2E / "settings_small.yaml"), tz="UTC",
                          send=False, return_state=True)
    out = state.result()
    assert out["rebalances"] == [] and out["orders"] == 0 and out["sent"] == {}
    assert _run_name(state.state_details.flow_run_id) == "daily-summary-2026-11-20"
    assert _table("daily-rebalances-2026-11-20") == []
    assert out["chart"] is None and "No chart" in _markdown("daily-chart-2026-11-20")


def _markdown(key: str) -> str:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> str:
        async with get_client() as client:
            (art,) = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            assert art.description
            return str(art.data)

    return asyncio.run(read())


def _run_name(flow_run_id: Any) -> str:
    import asyncio

    from prefect.client.orchestration import get_client

    async def read() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(flow_run_id)).name

    return asyncio.run(read())
