"""deployments/grafana/execution.json: valid JSON, every PromQL expression
parses (promtool) and names only series lib/metrics.py exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from lib.metrics import SERIES
from tests.helpers import binary_or_skip

DASHBOARD = Path(__file__).resolve().parents[2] / "deployments" / "grafana" / "execution.json"
NAME = re.compile(r"\b(abstractfinance_[a-z0-9_]+)")
EXPORTED = {f"abstractfinance_{s}" for s in SERIES}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def expressions() -> list[str]:
    out = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    for var in dashboard()["templating"]["list"]:
        if var["type"] == "query":
            out.append(var["definition"])
    return out


def test_dashboard_is_complete_json() -> None:
    d = dashboard()
    assert d["uid"] and d["title"] and d["panels"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        assert p["title"] and p["targets"], p
        assert all(t["refId"] and t["expr"] for t in p["targets"])


def test_every_expression_names_an_exported_series() -> None:
    used: set[str] = set()
    for expr in expressions():
        names = set(NAME.findall(expr))
        assert names, f"no abstractfinance series in {expr!r}"
        assert names <= EXPORTED, f"{expr!r} names {sorted(names - EXPORTED)}, not exported"
        used |= names
    # The seed's series and the batch-job series all have a panel.
    for must in ("execution_slippage_bps_bucket", "execution_notional_total",
                 "execution_netting_savings_qty_total", "execution_orders_by_policy_total",
                 "execution_rejected_total", "rebalance_last_success_timestamp_seconds",
                 "rebalance_duration_seconds", "rebalance_outcome"):
        assert f"abstractfinance_{must}" in used


def test_expressions_parse_as_promql(tmp_path: Path) -> None:
    promtool = binary_or_skip("promtool", "EXEC_REQUIRE_PROMTOOL", "apt-get install -y prometheus")
    rules = []
    for i, expr in enumerate(e for e in expressions() if not e.startswith("label_values")):
        rules.append({"record": f"afx:check:{i}", "expr": expr.replace("$schedule", ".*")})
    path = tmp_path / "rules.json"  # JSON is YAML
    path.write_text(json.dumps({"groups": [{"name": "afx", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout.decode()
