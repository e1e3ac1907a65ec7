"""Issue 8 through the flow and the CLI: a completed run is Completed, a
partly blocked one "Partial", a fully blocked one Failed "Blocked" (the CLI
keeps its exit codes); a reused id with other targets exits 2, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.rebalance import rebalance
from lib.params import RebalanceParams
from lib.runtime import open_runtime
from tests.flows.test_cli import _afx


def _run_logs(flow_run_id: object) -> str:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)  # the run's logs are batched to the API: send them now

    async def read() -> str:
        async with get_client() as client:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))  # type: ignore[list-item]
            return "\n".join(log.message for log in logs)

    return asyncio.run(read())


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_a_clean_run_is_completed_and_a_partly_blocked_one_partial(
    flow_params: RebalanceParams, tmp_path: Path
) -> None:
    state = rebalance(flow_params.model_copy(update={"rebalance_id": "flow-ok"}), return_state=True)
    assert state.is_completed() and state.name == "Completed"
    assert f"ledger {open_runtime(flow_params).ledger_location}" in _run_logs(
        state.state_details.flow_run_id)
    # an order limit that blocks the ES order only: the rest trades, the run is "Partial"
    settings = tmp_path / "settings.yaml"
    settings.write_text(Path(flow_params.settings).read_text().replace(
        "max_order_notional_usd: 5000000", "max_order_notional_usd: 500000"))
    partial = rebalance(flow_params.model_copy(
        update={"rebalance_id": "flow-part", "settings": str(settings)}), return_state=True)
    assert partial.is_completed() and partial.name == "Partial", partial.message
    out = partial.result()
    assert any("max_order_notional" in b for b in out["risk_blocks"])
    assert any(r["filled"] > 0 for r in out["results"])


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_cli_refuses_a_reused_id_with_other_targets_exit_2(
    flow_params: RebalanceParams, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("sleeve,symbol,side,quantity\ntrend,SPY,BUY,100\n")
    second.write_text("sleeve,symbol,side,quantity\ntrend,SPY,BUY,200\n")
    common = ("--settings", flow_params.settings, "--rebalance-id", "cli-idem")
    ok = _afx("rebalance", "--targets", str(first), *common)
    assert ok.returncode == 0, ok.stderr[-2000:]
    refused = _afx("rebalance", "--targets", str(second), *common)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "rebalance id 'cli-idem' was first run with other inputs" in refused.stderr
    assert "changed: targets" in refused.stderr and "nothing was sent" in refused.stderr
    rt = open_runtime(flow_params.model_copy(update={"rebalance_id": "cli-idem"}))
    attempts = rt.ledger.rebalance_attempts("cli-idem")
    assert [a.outcome for a in attempts] == ["accepted", "refused"]
    assert sum(o.quantity for o in rt.ledger.orders_for_rebalance("cli-idem")) == 100


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_cli_fully_blocked_run_exits_1(flow_params: RebalanceParams, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(Path(flow_params.settings).read_text().replace(
        "kill_switch_file: null", "kill_switch_file: var/KILL_SWITCH"))
    var = tmp_path / "var"  # EXEC_VAR_DIR of flow_params; the CLI runs from the project root
    var.mkdir(exist_ok=True)
    (var / "KILL_SWITCH").write_text("desk halt")
    proc = _afx("rebalance", "--targets", flow_params.targets, "--settings", str(settings),
                "--rebalance-id", "cli-killed")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "kill_switch" in proc.stdout and "desk halt" in proc.stdout
