"""The ``ibkr-paper`` deployment end to end: deploy prefect.yaml to a real
Prefect server on loopback, trigger ibkr-paper through the API (the UI's Run
button), run it on a process worker, and check it traded through ib_async
against the simulated IB Gateway: run Completed (not Partial: every plan
filled), every order terminal, ledger fills == gateway executions, sleeve
books == gateway positions. Settings: settings_small.yaml with the e2e collar
of test_ibkr_flow (why: see its module doc)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from lib.sim.tws_gateway import GatewayConfig, run_gateway_thread
from tests.e2e.test_deployment import _cli, server  # noqa: F401 - the Prefect server fixture
from tests.e2e.test_ibkr_flow import wide_collar_settings
from tests.lib.brokers.ibkr_support import SESSION_START

pytestmark = pytest.mark.slow


def test_ibkr_paper_deployment_runs_against_the_gateway(server: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    with run_gateway_thread(GatewayConfig(port=0, seed=13, speed=20.0, sim_start=SESSION_START)) as gw:
        env = {**server, "EXEC_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
               "EXEC_VAR_DIR": str(tmp_path / "var"), "EXEC_IBKR_PORT": str(gw.port),
               "EXEC_IBKR_CLIENT_ID": "301"}  # fmt: skip
        env.pop("EXEC_DATABASE_SCHEMA", None)
        _cli(env, "work-pool", "create", "afx-process", "--type", "process")
        _cli(env, "--no-prompt", "deploy", "--all")
        api = env["PREFECT_API_URL"]
        deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        dep = next(d for d in deployments if d["name"] == "ibkr-paper")
        assert dep["parameters"]["broker"] == "ibkr"
        assert all(not s["active"] for s in dep["schedules"])  # inactive until switched on
        # the e2e settings (config/settings.yaml's limits are the operator's, and may change)
        # merged into the deployment's parameters by the server (one level deep)
        params = {"rebalance_id": "e2e-ibkr", "settings": str(wide_collar_settings(tmp_path))}
        for _ in range(5):  # a loaded loopback server can answer 503 for a moment
            run = httpx.post(f"{api}/deployments/{dep['id']}/create_flow_run", json={"parameters": params}, timeout=10)
            if run.status_code != 503:
                break
            time.sleep(2)
        assert run.status_code == 201, run.text
        _cli(env, "worker", "start", "--pool", "afx-process", "--run-once", timeout=600)
        state = httpx.get(f"{api}/flow_runs/{run.json()['id']}", timeout=10).json()["state"]
        assert (state["type"], state["name"]) == ("COMPLETED", "Completed"), json.dumps(state)[:2000]
        executions = [e for e in gw.executions() if e.order_ref.startswith("e2e-ibkr:")]
        positions = gw.positions()
        working = [o for o in gw.open_orders() if o.order_ref.startswith("e2e-ibkr:")]
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    try:
        states = {s for (s,) in db.execute("select status from orders where rebalance_id = 'e2e-ibkr'")}
        fills = sorted(db.execute(
            "select exec_id, client_order_id, quantity, round(price, 6) from fills where rebalance_id = 'e2e-ibkr'"
        ).fetchall())  # fmt: skip
        books: dict[str, int] = defaultdict(int)
        for sym, q in db.execute("select symbol, quantity from sleeve_positions"):
            books[sym] += int(q)
    finally:
        db.close()
    assert states and states <= {"FILLED", "CANCELLED", "EXPIRED"}, states
    assert working == []
    assert executions and fills == sorted((e.exec_id, e.order_ref, e.shares, round(e.price, 6)) for e in executions)
    assert {s: q for s, q in books.items() if q} == positions
