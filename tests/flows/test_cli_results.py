"""What ``afx rebalance`` prints after a run (flows/cmd_results.py over the
flow's return value): a dry run shows its plans (mode, limit, collar,
slices), and every run, dry or not, lists what was skipped for drift,
deferred, dropped or blocked, each with its reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.cmd_results import print_results
from flows.rebalance import rebalance
from lib.params import RebalanceParams

#: Tuesday 2026-11-24 11:25 New York = 16:25 London: the LSE's last 10 minutes.
LATE_LONDON = datetime(2026, 11, 24, 16, 25, tzinfo=UTC)
TARGETS = """\
sleeves:
  trend:
    trades:
      - {symbol: QQQ,  side: BUY, quantity: 100}    # planned and sent
      - {symbol: SPY,  side: BUY, quantity: 2}      # $1,180 < min notional $2,500: dropped
      - {symbol: CSPX, side: BUY, quantity: 10}     # LSE closes in 5 minutes: deferred
      - {symbol: DIS,  side: BUY, quantity: 40000}  # $6M > max order notional $5M: blocked
  carry:
    targets:
      mode: quantity
      positions: {TLT: 10}                          # $900 < 2% of NAV: skipped (drift)
"""
KINDS = {"skipped_drift": "TLT", "deferred": "CSPX", "dropped": "SPY", "blocked": "DIS"}


def _out(flow_params: RebalanceParams, tmp_path: Path, rid: str, dry_run: bool) -> dict:  # type: ignore[type-arg]
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    params = flow_params.model_copy(update={"targets": str(targets), "rebalance_id": rid,
                                            "dry_run": dry_run, "sim_start": LATE_LONDON})
    out = rebalance(params, return_state=True).result(raise_on_failure=False)
    assert isinstance(out, dict), out
    return out


def _check_not_traded(out: dict, text: str) -> None:  # type: ignore[type-arg]
    rows = {r["kind"]: r for r in out["not_traded"]}
    assert set(rows) == set(KINDS), out["not_traded"]
    for kind, symbol in KINDS.items():
        assert symbol in rows[kind]["item"]
    assert rows["skipped_drift"]["reason"].startswith("below_drift_threshold: notional $900")
    assert rows["dropped"]["reason"].startswith("below_min_notional")
    assert "max_order_notional" in rows["blocked"]["reason"]
    assert "LSE" in rows["deferred"]["reason"] or "XLON" in rows["deferred"]["reason"]
    assert "Not traded" in text
    for label in ("skipped (drift)", "deferred", "dropped", "blocked"):
        assert label in text
    for r in out["not_traded"]:
        assert r["reason"][:30] in text  # every reason is printed, not only counted


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_dry_run_prints_plans_and_what_was_not_traded(
    flow_params: RebalanceParams, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    out = _out(flow_params, tmp_path, "cli-dry-plans", dry_run=True)
    (plan,) = out["planned"]
    assert plan["symbol"] == "QQQ" and plan["mode"] and plan["limit"] is not None
    assert plan["collar_low"] < plan["arrival_mid"] < plan["collar_high"] and plan["slices"] >= 1
    capsys.readouterr()
    print_results(out)
    text = capsys.readouterr().out
    assert "Rebalance cli-dry-plans (dry run): plans, nothing sent" in text
    row = next(line for line in text.splitlines() if "QQQ" in line and "BUY" in line)
    assert plan["mode"] in row and f"{plan['collar_low']:g}-{plan['collar_high']:g}" in row
    assert f"{plan['limit']:g}" in row
    _check_not_traded(out, text)


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_a_real_run_lists_the_same_with_its_results(
    flow_params: RebalanceParams, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    out = _out(flow_params, tmp_path, "cli-run-plans", dry_run=False)
    assert [r["symbol"] for r in out["results"]] == ["QQQ"]
    capsys.readouterr()
    print_results(out)
    text = capsys.readouterr().out
    assert "plans, nothing sent" not in text and "filled/req" in text
    _check_not_traded(out, text)


def test_a_run_with_nothing_left_out_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    out = {"rebalance_id": "x", "dry_run": True, "intents": 1, "net_orders": 1,
           "netting_qty_saved": 0, "plans": 1, "planned": [], "not_traded": [], "results": [],
           "charts": ["/tmp/x.slippage.png"]}
    print_results(out)
    text = capsys.readouterr().out
    assert "Not traded: nothing" in text and "chart: /tmp/x.slippage.png" in text
