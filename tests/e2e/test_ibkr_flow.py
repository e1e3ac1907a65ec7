"""The full rebalance flow with ``--broker ibkr``: ``afx rebalance`` in a
subprocess trading through ib_async against the simulated IB Gateway.

Checked against the gateway's own record: the run complete (exit 0: every
plan filled), every order terminal, nothing left working, ledger fills ==
gateway executions exactly (exec id, order, quantity, price), sleeve books ==
gateway positions, one IB order per client order id. Then the same with a
socket drop and with 1100 -> 1102 mid-supervision.

The runs use settings_small.yaml with every collar widened to
:data:`E2E_COLLAR_BPS`: with its 2-12 bps collars the simulated market
sometimes drifts out of DIS's collar (and the child band) within the run, a
residual stays unfilled and the flow rightly says "incomplete" (exit 1).
Which runs do depends on where in virtual time the orders land, and the
gateway's x20 virtual time is wall-paced, so a loaded machine shifts them;
measured on seed 11: 2 of 3 runs incomplete at 12 bps, 3 of 3 complete at
40 bps. The collar's own behaviour is tested in tests/lib (policy, orders)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lib.sim.tws_gateway import GatewayConfig, GatewayHandle, run_gateway_thread
from tests.lib.brokers.ibkr_support import SESSION_START

ROOT = Path(__file__).resolve().parents[2]
AFX = str(Path(sys.executable).with_name("afx"))
TARGETS = "tests/e2e/targets_small.yaml"
SETTINGS = "tests/e2e/settings_small.yaml"
TERMINAL = {"FILLED", "CANCELLED", "EXPIRED", "REJECTED", "FAILED"}
#: Collar half-width (bps of the arrival mid) of every asset class in these runs (see the module doc).
E2E_COLLAR_BPS = 40


def wide_collar_settings(tmp: Path) -> Path:
    """settings_small.yaml with every collar at E2E_COLLAR_BPS, written under ``tmp``."""
    raw = yaml.safe_load((ROOT / SETTINGS).read_text())
    ex = raw["execution"]
    ex["default_max_slippage_bps"] = E2E_COLLAR_BPS
    ex["max_slippage_bps_by_asset_class"] = dict.fromkeys(ex["max_slippage_bps_by_asset_class"], E2E_COLLAR_BPS)
    path = tmp / "settings_e2e_ibkr.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path
pytestmark = pytest.mark.slow


@pytest.fixture
def gateway() -> Iterator[GatewayHandle]:
    with run_gateway_thread(GatewayConfig(port=0, seed=11, speed=20.0, sim_start=SESSION_START)) as gw:
        yield gw


def rebalance(port: int, tmp: Path, rid: str, client_id: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXEC_IBKR_PORT": str(port), "EXEC_IBKR_CLIENT_ID": str(client_id),
           "EXEC_VAR_DIR": str(tmp / "var"), "EXEC_DATABASE_URL": f"sqlite:///{tmp / 'ledger.sqlite'}",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    env.pop("EXEC_DATABASE_SCHEMA", None)
    settings = str(wide_collar_settings(tmp))
    cmd = [AFX, "rebalance", "--broker", "ibkr", "--targets", TARGETS, "--settings", settings, "--rebalance-id", rid]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def assert_ran(out: subprocess.CompletedProcess[str]) -> None:
    """Exit 0: every plan filled, nothing blocked or rejected."""
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])


def check(db: Path, rid: str, executions: list[object], positions: dict[str, int], working: list[object]) -> None:
    con = sqlite3.connect(db)
    try:
        states = dict(con.execute("select client_order_id, status from orders where rebalance_id = ?", (rid,)).fetchall())
        fills = sorted(con.execute(
            "select exec_id, client_order_id, quantity, round(price, 6) from fills where rebalance_id = ?", (rid,)
        ).fetchall())  # fmt: skip
        books: dict[str, int] = defaultdict(int)
        for sym, q in con.execute("select symbol, quantity from sleeve_positions"):
            books[sym] += int(q)
    finally:
        con.close()
    assert states and set(states.values()) <= TERMINAL, states
    assert "FAILED" not in states.values() and "REJECTED" not in states.values()
    assert [o for o in working if o.order_ref.startswith(f"{rid}:")] == []  # type: ignore[attr-defined]
    mine = [e for e in executions if e.order_ref.startswith(f"{rid}:")]  # type: ignore[attr-defined]
    assert fills == sorted((e.exec_id, e.order_ref, e.shares, round(e.price, 6)) for e in mine)  # type: ignore[attr-defined]
    assert {s: q for s, q in books.items() if q} == positions
    perms: dict[str, set[int]] = defaultdict(set)
    for e in mine:
        perms[e.order_ref].add(e.perm_id)  # type: ignore[attr-defined]
    assert all(len(p) == 1 for p in perms.values()), perms  # no order sent twice
    assert set(perms) <= set(states)


def test_rebalance_through_ib(gateway: GatewayHandle, tmp_path: Path) -> None:
    out = rebalance(gateway.port, tmp_path, "ibflow1", 201)
    assert_ran(out)
    check(tmp_path / "ledger.sqlite", "ibflow1", gateway.executions(), gateway.positions(), gateway.open_orders())


def _when_working(gw: GatewayHandle, rid: str, action: object, after: object = None) -> threading.Thread:
    """Run ``action()`` as soon as an order of ``rid`` works at the gateway (mid-supervision)."""

    def watch() -> None:
        stop = threading.Event()
        for _ in range(6000):
            if any(o.order_ref.startswith(f"{rid}:") for o in gw.open_orders()):
                action()  # type: ignore[operator]
                if after is not None:
                    stop.wait(1.5)
                    after()  # type: ignore[operator]
                return
            stop.wait(0.05)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    return th


@pytest.mark.parametrize("fault", ["drop", "1100-1102"])
def test_rebalance_survives_a_drop_and_1100_1102(gateway: GatewayHandle, tmp_path: Path, fault: str) -> None:
    rid = f"ibflow-{fault}"
    if fault == "drop":
        th = _when_working(gateway, rid, gateway.faults.drop_connections)
    else:
        th = _when_working(gateway, rid, gateway.faults.connectivity_lost,
                           lambda: gateway.faults.connectivity_restored(code=1102))  # fmt: skip
    out = rebalance(gateway.port, tmp_path, rid, 202)
    th.join(30)
    assert_ran(out)
    assert re.search(r"IB (socket dropped|1100)", out.stderr + out.stdout), "the fault never reached the run"
    check(tmp_path / "ledger.sqlite", rid, gateway.executions(), gateway.positions(), gateway.open_orders())


def test_two_terminal_demo_against_afx_gateway(tmp_path: Path) -> None:
    """``afx gateway`` in one process, ``afx rebalance --broker ibkr`` in another."""
    gw = subprocess.Popen(
        [AFX, "gateway", "--port", "0", "--seed", "11", "--sim-start", "2026-11-24T10:30:00-05:00"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert gw.stdout is not None
        line = gw.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(virtual time", line)
        assert m, line
        out = rebalance(int(m.group(1)), tmp_path, "ibdemo", 203)
        assert_ran(out)
        con = sqlite3.connect(tmp_path / "ledger.sqlite")
        states = {s for (s,) in con.execute("select status from orders where rebalance_id = 'ibdemo'")}
        n_fills = con.execute("select count(*) from fills where rebalance_id = 'ibdemo'").fetchone()[0]
        con.close()
        assert states and states <= TERMINAL and n_fills > 0
    finally:
        gw.terminate()
        gw.wait(30)
