"""What a person sees of a rebalance in the Prefect UI: the domain story in
the run's Logs tab (through the run logger, read back from the API) and the
artifacts (markdown report, orders table, progress), each described."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from flows.rebalance import rebalance
from lib.params import RebalanceParams


async def _logs(flow_run_id: UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    async with get_client() as client:
        out: list[Any] = []
        while True:
            page = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                limit=200, offset=len(out), sort=LogSort.TIMESTAMP_ASC)
            out += page
            if len(page) < 200:
                return out


async def _artifacts(flow_run_id: UUID) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        arts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        return {str(a.key): a for a in arts}


def _flush_logs() -> None:
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_logs_tab_tells_the_rebalance(flow_params: RebalanceParams) -> None:
    params = flow_params.model_copy(update={"rebalance_id": "story-1"})
    state = rebalance(params, return_state=True)
    out = state.result()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    _flush_logs()
    logs = asyncio.run(_logs(run_id))
    text = [log.message for log in logs]
    story = [m for m in text if m.startswith(("sent ", "fill ", "netting:", "rebalance story-1 ",
                                              "attempt ", "alert ", "dropped ", "deferred "))]
    sent = [m for m in text if m.startswith("sent story-1:")]
    fills = [m for m in text if m.startswith("fill story-1:")]
    # One "sent" line per order the broker got, a fill line per execution, in the run's logs.
    assert len(sent) == out["orders_sent"] > 0, story
    assert len(fills) >= len(out["results"]), story
    assert any(m.startswith("rebalance story-1 (new): 8 intents") for m in text), story
    assert any(m.startswith("netting: ") and "saved 4000" in m for m in text), story
    assert any(m.startswith("6 plans: ") for m in text), story
    assert any(m.startswith("attempt 0 done: ") for m in text), story
    for r in out["results"]:
        assert any(m.startswith(f"{r['intent']} ") and f"filled {r['filled']}/" in m for m in text)
    assert any(m.startswith("alert ") for m in text), story  # no destinations: logged, said so
    # The lines are the tasks' (run logger), tagged with their task run.
    tagged = [log for log in logs if log.message in sent]
    assert all(log.task_run_id is not None and log.name == "prefect.task_runs" for log in tagged)

    arts = asyncio.run(_artifacts(run_id))
    assert {"rebalance-story-1", "orders-story-1", "progress-story-1"} <= set(arts)
    assert all(a.description for a in arts.values()), {k: a.description for k, a in arts.items()}
    table = arts["orders-story-1"]
    assert table.type == "table"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [(r["symbol"], r["filled"]) for r in rows] == [(r["symbol"], r["filled"]) for r in out["results"]]
    assert all(r["status"] == "filled" and r["slippage_bps"] is not None for r in rows)
    assert "6/6 intents filled" in str(table.description)
    # The charts: PNGs under var/charts, embedded in their own markdown artifact.
    assert len(out["charts"]) == 2
    for path in out["charts"]:
        assert Path(path).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert Path(path).is_relative_to(Path(os.environ["EXEC_VAR_DIR"]) / "charts")
    charts = arts["charts-story-1"]
    assert charts.type == "markdown" and "2 PNG(s)" in str(charts.description)
    assert str(charts.data).count("](data:image/png;base64,") == 2
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", str(charts.data))
    assert [base64.b64decode(e) for e in embedded] == [Path(p).read_bytes() for p in out["charts"]]


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_blocked_and_dry_run_rows_say_why(flow_params: RebalanceParams) -> None:
    from prefect.variables import Variable

    Variable.set("afx-kill-switch", "story test", overwrite=True)
    try:
        state = rebalance(flow_params.model_copy(update={"rebalance_id": "story-kill"}),
                          return_state=True)
    finally:
        Variable.unset("afx-kill-switch")
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    _flush_logs()
    text = [log.message for log in asyncio.run(_logs(run_id))]
    assert any(m.startswith("blocked ") and "kill" in m for m in text), text
    arts = asyncio.run(_artifacts(run_id))
    rows = arts["orders-story-kill"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert rows and any(r["status"] == "blocked" and "story test" in (r["note"] or "") for r in rows)

    dry = rebalance(flow_params.model_copy(update={"rebalance_id": "story-dry", "dry_run": True}),
                    return_state=True)
    arts = asyncio.run(_artifacts(dry.state_details.flow_run_id))
    rows = arts["orders-story-dry"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert len(rows) == 6 and all(r["status"] == "planned" and "collar" in r["note"] for r in rows)
    assert "nothing sent" in str(arts["orders-story-dry"].description)
    assert "charts-story-dry" in arts and arts["charts-story-dry"].description


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_a_quiet_cli_run_still_tells_its_story_in_the_logs_tab(flow_params: RebalanceParams) -> None:
    """`afx rebalance` without --verbose keeps the console to warnings, yet the
    run's INFO story reaches the API (the Logs tab of a CLI run on a server)."""
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    root = Path(__file__).resolve().parents[2]

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env.pop("PREFECT_LOGGING_LEVEL", None)
    env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "rebalance", "--targets", flow_params.targets,
         "--settings", flow_params.settings, "--rebalance-id", "story-cli"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    console = proc.stdout + proc.stderr
    assert "| INFO" not in console and "sent story-cli:" not in console, console[-2000:]
    run_id = asyncio.run(_run_id("story-cli"))
    text = [log.message for log in asyncio.run(_logs(run_id))]
    assert any(m.startswith("sent story-cli:") for m in text), text[:20]
    assert any(m.startswith("attempt 0 done: ") for m in text), text[-20:]


async def _run_id(name: str) -> UUID:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    async with get_client() as client:
        (run,) = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        return run.id
