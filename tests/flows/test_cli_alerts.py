"""What ``afx`` sends when a run's orders are all blocked (issue 7): a summary
whose title and type say so, next to the risk-block alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.params import RebalanceParams
from tests.flows.test_cli import _afx_env
from tests.helpers import CaptureServer


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_all_blocked_run_sends_a_summary_that_says_nothing_executed(
    flow_params: RebalanceParams, tmp_path: Path
) -> None:
    kill = tmp_path / "KILL"
    kill.write_text("ops: halt all trading")
    settings = tmp_path / "settings.yaml"
    text = Path(flow_params.settings).read_text()
    settings.write_text(text.replace("kill_switch_file: null", f"kill_switch_file: {kill}"))
    with CaptureServer() as alerts:
        proc = _afx_env(tmp_path, alerts.url(), "rebalance", "--targets", flow_params.targets,
                        "--settings", str(settings), "--rebalance-id", "cli-killed")
        posts = [r.json() for r in alerts.requests]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "orders sent 0" in proc.stdout
    titles = {p["title"]: p["type"] for p in posts}
    assert titles.get("Risk block in cli-killed: kill_switch") == "warning", titles
    summary = [t for t in titles if t.startswith("Rebalance cli-killed:")]
    assert len(summary) == 1 and "complete" not in summary[0], titles
    assert summary[0].startswith("Rebalance cli-killed: nothing executed (")
    assert titles[summary[0]] == "failure"
