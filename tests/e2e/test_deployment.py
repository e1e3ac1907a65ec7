"""End to end through a real Prefect server on loopback: deploy prefect.yaml,
trigger a run through the API (what the UI's Run button does), run a process
worker once, and check the run completed and its rows are in the ledger."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_KEY", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("prefect server did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    out = subprocess.run([PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"prefect {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out.stdout


def test_deploy_trigger_and_worker_run(server: dict[str, str], tmp_path: Path) -> None:
    env = {**server, "EXEC_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
           "EXEC_VAR_DIR": str(tmp_path / "var")}
    env.pop("EXEC_DATABASE_SCHEMA", None)
    _cli(env, "work-pool", "create", "afx-process", "--type", "process")
    _cli(env, "--no-prompt", "deploy", "--all")
    api = env["PREFECT_API_URL"]
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    by_name = {d["name"]: d for d in deployments}
    assert set(by_name) == {"us-open", "us-close-auction", "eu-session", "daily-summary", "ibkr-paper"}
    us_open = by_name["us-open"]
    assert us_open["enforce_parameter_schema"] is True
    assert us_open["global_concurrency_limit"]["limit"] == 1
    # A badly typed parameter is refused at trigger time (enforce_parameter_schema).
    bad = httpx.post(f"{api}/deployments/{us_open['id']}/create_flow_run",
                     json={"parameters": {"targets": 5, "dry_run": "maybe"}}, timeout=10)
    assert bad.status_code >= 400
    params = {"targets": "deployments/targets/us_open.yaml", "schedule_slug": "us-open",
              "broker": "sim", "rebalance_id": "e2e-deploy"}
    run = httpx.post(f"{api}/deployments/{us_open['id']}/create_flow_run",
                     json={"parameters": params}, timeout=10)
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    _cli(env, "worker", "start", "--pool", "afx-process", "--run-once", timeout=300)
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]
    assert state["type"] == "COMPLETED", json.dumps(state)[:2000]
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    try:
        status = db.execute("select status from rebalances where rebalance_id='e2e-deploy'").fetchone()
        orders = db.execute("select count(*) from orders where rebalance_id='e2e-deploy'").fetchone()[0]
        filled = db.execute(
            "select sum(f.quantity) from fills f join orders o using (client_order_id) "
            "where o.rebalance_id='e2e-deploy'").fetchone()[0]
    finally:
        db.close()
    assert status == ("done",)
    assert orders >= 3 and filled == 2 + 2000 + 4000  # ES 2, SPY net 2000, TLT 4000

    # What the UI's Retry does: the same flow run goes back to Scheduled and a
    # worker runs it again. It reconciles with the broker and sends nothing.
    retry = httpx.post(f"{api}/flow_runs/{run_id}/set_state", timeout=10,
                       json={"state": {"type": "SCHEDULED", "name": "Retrying"}, "force": True})
    assert retry.status_code in (200, 201), retry.text
    _cli(env, "worker", "start", "--pool", "afx-process", "--run-once", timeout=300)
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]
    assert state["type"] == "COMPLETED", json.dumps(state)[:2000]
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    try:
        orders_after = db.execute(
            "select count(*) from orders where rebalance_id='e2e-deploy'").fetchone()[0]
        filled_after = db.execute(
            "select sum(f.quantity) from fills f join orders o using (client_order_id) "
            "where o.rebalance_id='e2e-deploy'").fetchone()[0]
    finally:
        db.close()
    assert (orders_after, filled_after) == (orders, filled)
