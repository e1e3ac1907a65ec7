"""The rebalance flow run is named after its rebalance id (UI, logs, alerts)."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

from flows.rebalance import rebalance
from lib.params import RebalanceParams


async def _runs(name: str) -> list[str]:
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        return [r.name for r in runs]


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_flow_run_name_is_the_rebalance_id(flow_params: RebalanceParams) -> None:
    params = flow_params.model_copy(update={"dry_run": True, "rebalance_id": "named-run-1"})
    rebalance(params)
    assert asyncio.run(_runs("named-run-1")) == ["named-run-1"]
