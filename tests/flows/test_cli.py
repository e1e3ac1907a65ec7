"""The ``afx`` command as a user runs it (a subprocess against the test
harness's API): exit codes, messages and the results table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from lib.params import RebalanceParams

ROOT = Path(__file__).resolve().parents[2]


def _afx(*args: str) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "140"}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_bad_targets_exit_2_and_nothing_sent(flow_params: RebalanceParams, tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("sleeve,symbol,side,quantity\ntrend,SPY,BUY,-5\n")
    proc = _afx("rebalance", "--targets", str(bad), "--rebalance-id", "cli-bad",
                "--settings", flow_params.settings)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "t.csv: row 1: quantity" in proc.stderr and "nothing was sent" in proc.stderr


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_dry_run_prints_table_and_exits_0(flow_params: RebalanceParams) -> None:
    proc = _afx("rebalance", "--targets", flow_params.targets, "--settings", flow_params.settings,
                "--rebalance-id", "cli-dry", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Rebalance cli-dry (dry run)" in proc.stdout and "plans 6" in proc.stdout


def test_unknown_option_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["rebalance", "--targets", "x.yaml", "--brokr", "sim"])
    assert info.value.code == 2
