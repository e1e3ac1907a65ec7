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
def test_dry_run_prints_plans_and_exits_0(flow_params: RebalanceParams) -> None:
    proc = _afx("rebalance", "--targets", flow_params.targets, "--settings", flow_params.settings,
                "--rebalance-id", "cli-dry", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Rebalance cli-dry (dry run): plans, nothing sent" in proc.stdout and "plans 6" in proc.stdout
    # the plans, not an empty results table: DIS sliced 9 POV children, ES on its 3 bps cap
    dis = next(line for line in proc.stdout.splitlines() if "DIS" in line)
    assert "marketable_limit" in dis and "9 POV" in dis and "LMT" in dis
    assert sum(1 for line in proc.stdout.splitlines() if "marketable_limit" in line) == 6
    assert "Not traded: nothing" in proc.stdout


def test_unknown_option_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["rebalance", "--targets", "x.yaml", "--brokr", "sim"])
    assert info.value.code == 2


# ------------------------------------------------ bad input: exit 2, told once


def _afx_env(tmp_path: Path, alerts_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``afx`` with its own ledger, var dir and an alert capture destination."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "140",
           "EXEC_APPRISE_URLS": alerts_url, "EXEC_VAR_DIR": str(tmp_path / "var"),
           "EXEC_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    env.pop("EXEC_DATABASE_SCHEMA", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


ALIAS_BOMB = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 7)
) + "sleeves:\n  t:\n    trades: *a6\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("many.csv",
         "sleeve,symbol,side,quantity\ntrend,SPY,BUY,-5\ntrend,TLT,SEL,3\ntrend,QQQ,BUY,1e15\n"
         "trend,NOPE,BUY,1\n",
         ["row 1: quantity:", "row 2: side:", "row 3: quantity:", "row 4: symbol:"]),
        ("ctrl.yaml", "sleeves: \x07\n", ["line 1: <file>: not valid YAML"]),
        ("deep.yaml", "[" * 500, ["nested deeper than"]),
        ("bomb.yaml", ALIAS_BOMB, ["line 2: <file>: aliases"]),
        ("big.yaml", "sleeves: {t: {trades: [{symbol: SPY, side: BUY, "
         "quantity: 1000000000000000000000000000000}]}}\n", ["above the maximum"]),
    ],
)
def test_bad_targets_every_problem_no_traceback_no_alert(
    prefect_harness: None, tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    from tests.helpers import CaptureServer

    bad = tmp_path / name
    bad.write_text(text, encoding="utf-8")
    with CaptureServer() as alerts:
        proc = _afx_env(tmp_path, alerts.url(), "rebalance", "--targets", str(bad),
                        "--rebalance-id", "cli-hostile")
        assert alerts.requests == []  # input the user got wrong pages nobody
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == "afx: nothing was sent."
    assert len(lines) == len(expected) + 1, proc.stderr
    for line, want in zip(lines, expected, strict=False):
        assert line.startswith(f"afx: {bad}: ") and want in line, line
    assert "Traceback" not in proc.stderr and "more problem" not in proc.stderr
    assert not (tmp_path / "var" / "sim").exists()  # no broker was even opened


def test_bad_id_is_one_line_not_a_pydantic_dump(prefect_harness: None, tmp_path: Path) -> None:
    proc = _afx_env(tmp_path, "", "rebalance", "--targets", "config/targets.example.yaml",
                    "--rebalance-id", "not an id/../x")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "afx: bad parameter --rebalance-id: must match ^[A-Za-z0-9._-]{1,32}$ "
        "(got 'not an id/../x')",
        "afx: nothing was sent.",
    ]


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (("order_ttl_seconds: 120", "order_ttl_seconds: .inf"), "execution.order_ttl_seconds"),
        (("risk:", "risk:\n  max_adv_fraction: 0.5\nrisk:"), "risk (line"),
        (("portfolio: main", "portfolio: ../../escape"), "portfolio"),
    ],
)
def test_bad_settings_exit_2_naming_file_and_key(
    prefect_harness: None, tmp_path: Path, edit: tuple[str, str], where: str
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text((ROOT / "config" / "settings.yaml").read_text().replace(*edit, 1))
    proc = _afx_env(tmp_path, "", "rebalance", "--targets", "config/targets.example.yaml",
                    "--settings", str(settings))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"afx: {settings}: {where}"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_user_error_inside_the_flow_has_no_traceback_and_no_alert(
    flow_params: RebalanceParams, tmp_path: Path
) -> None:
    from tests.helpers import CaptureServer

    # The files are fine; the default id (no --rebalance-id) breaks the id rule,
    # which only the runtime inside the flow can tell.
    settings = tmp_path / "settings.yaml"
    text = Path(flow_params.settings).read_text()
    settings.write_text(text.replace("portfolio: main", "portfolio: p123456789", 1))
    with CaptureServer() as alerts:
        proc = _afx_env(tmp_path, alerts.url(), "rebalance", "--targets", flow_params.targets,
                        "--settings", str(settings), "--schedule-slug", "a-very-long-slug")
        assert alerts.requests == []
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "breaks the id rule" in proc.stderr and "afx: nothing was sent." in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("afx: ") for line in lines), proc.stderr
    verbose = _afx_env(tmp_path, "", "rebalance", "--targets", flow_params.targets,
                       "--settings", str(settings), "--schedule-slug", "a-very-long-slug",
                       "--verbose")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr  # --verbose shows it all
