"""ExecutionMetrics: seed names in the exposition, textfiles that a node_exporter
textfile collector loads after many runs, a real Pushgateway, promtool."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from lib.errors import ReportingError
from lib.metrics import (
    BROKER_REJECTED,
    OUTCOMES,
    SERIES,
    ExecutionMetrics,
    export_failed_run,
    prune_textfiles,
    record_execution_commission,
    record_execution_fill,
    record_execution_policy,
    record_execution_rejected,
    record_execution_result,
    record_netting_savings,
    record_risk_block,
    record_run,
)
from lib.types import AssetClass, ExecutionResult, PolicyMode, Side
from tests.helpers import PushgatewayProcess, binary_or_skip, free_port

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
APT_HINT = "apt-get install -y prometheus-pushgateway prometheus"

SEED_SERIES = {
    "abstractfinance_execution_slippage_bps_bucket",
    "abstractfinance_execution_slippage_bps_count",
    "abstractfinance_execution_slippage_bps_sum",
    "abstractfinance_execution_notional_total",
    "abstractfinance_execution_commission_total",
    "abstractfinance_execution_replace_count_bucket",
    "abstractfinance_execution_netting_savings_qty_total",
    "abstractfinance_execution_orders_by_policy_total",
    "abstractfinance_execution_rejected_total",
    "abstractfinance_execution_risk_blocks_total",
}


def spy_result(filled: int = 100, avg: float = 590.1475, replaces: int = 2) -> ExecutionResult:
    return ExecutionResult(
        intent_id="i1", symbol="SPY", side=Side.BUY, requested_quantity=100, filled_quantity=filled,
        avg_price=avg if filled else None, arrival_mid=590.0,
        slippage_bps=(avg - 590.0) / 590.0 * 1e4 if filled else None, status="filled",
        mode=PolicyMode.MARKETABLE_LIMIT, replace_count=replaces, commission=0.35 * filled / 100,
        started_at=T0, finished_at=T0, asset_class=AssetClass.ETF, notional=avg * filled,
    )


def populated(m: ExecutionMetrics | None = None) -> ExecutionMetrics:
    m = m or ExecutionMetrics()
    record_execution_policy(m, PolicyMode.MARKETABLE_LIMIT)
    record_execution_policy(m, PolicyMode.MARKETABLE_LIMIT)
    record_execution_policy(m, PolicyMode.AUCTION_CLOSE)
    record_execution_result(m, spy_result())  # 2.5 bps, 59,014.75 notional
    record_execution_fill(m, instrument="ES", side=Side.SELL, asset_class=AssetClass.FUT,
                          slippage_bps=-0.4, notional=1_200_000.0)
    record_execution_commission(m, 4.0)
    record_netting_savings(m, 1200)
    record_netting_savings(m, 300)
    record_execution_rejected(m, "stale_data")
    record_execution_rejected(m, BROKER_REJECTED, source="broker")
    record_risk_block(m, "max_order_notional")
    return m


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    """The one sample named ``name`` whose labels include ``labels`` (the
    Pushgateway adds ``instance=""``, so an exact label match is too strict)."""
    want = set(labels.items())
    found = [v for (n, have), v in samples(text).items() if n == name and want <= have]
    assert len(found) == 1, f"{len(found)} samples of {name} with {labels}"
    return found[0]


def test_exposition_carries_the_seed_series_and_values() -> None:
    text = populated().exposition().decode()
    names = {name for name, _ in samples(text)}
    assert names >= SEED_SERIES
    # The seed's counters are counters (the old gauge names are gone).
    assert "abstractfinance_execution_netting_savings_qty" not in names
    assert "abstractfinance_execution_orders_by_policy" not in names
    assert not [n for n in names if n.endswith("_created")]
    assert value(text, "abstractfinance_execution_notional_total", asset_class="ETF") == pytest.approx(59_014.75)
    assert value(text, "abstractfinance_execution_notional_total", asset_class="FUT") == 1_200_000.0
    assert value(text, "abstractfinance_execution_commission_total") == pytest.approx(4.35)
    assert value(text, "abstractfinance_execution_netting_savings_qty_total") == 1500.0
    assert value(text, "abstractfinance_execution_orders_by_policy_total", policy="marketable_limit") == 2.0
    assert value(text, "abstractfinance_execution_orders_by_policy_total", policy="auction_close") == 1.0
    assert value(text, "abstractfinance_execution_rejected_total", source="policy",
                 reason="stale_data") == 1.0
    assert value(text, "abstractfinance_execution_rejected_total", source="broker",
                 reason=BROKER_REJECTED) == 1.0
    assert value(text, "abstractfinance_execution_risk_blocks_total", control="max_order_notional") == 1.0
    spy = {"instrument": "SPY", "side": "BUY", "asset_class": "ETF"}
    bucket = "abstractfinance_execution_slippage_bps_bucket"
    assert value(text, bucket, le="2.0", **spy) == 0.0  # 2.5 bps lands in (2, 3]
    assert value(text, bucket, le="3.0", **spy) == 1.0
    assert value(text, "abstractfinance_execution_slippage_bps_sum", **spy) == pytest.approx(2.5)
    es = {"instrument": "ES", "side": "SELL", "asset_class": "FUT"}
    assert value(text, bucket, le="0.0", **es) == 1.0  # price improvement: first bucket
    assert value(text, "abstractfinance_execution_slippage_bps_sum", **es) == pytest.approx(-0.4)
    rc = "abstractfinance_execution_replace_count_bucket"
    assert value(text, rc, le="1.0", instrument="SPY") == 0.0
    assert value(text, rc, le="2.0", instrument="SPY") == 1.0


def test_registries_are_private_and_independent() -> None:
    a, b = populated(), ExecutionMetrics()
    assert "abstractfinance_execution_commission_total" not in {
        s.name for fam in REGISTRY.collect() for s in fam.samples
    }
    assert b.exposition() != a.exposition()
    assert ExecutionMetrics(namespace="other").exposition().decode().count("other_execution_") > 0


def test_unfilled_result_records_no_slippage() -> None:
    m = ExecutionMetrics()
    record_execution_result(m, spy_result(filled=0, avg=0.0, replaces=6))
    text = m.exposition().decode()
    names = {name for name, _ in samples(text)}
    assert "abstractfinance_execution_slippage_bps_count" not in names
    assert value(text, "abstractfinance_execution_replace_count_count", instrument="SPY") == 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda m: record_execution_fill(m, instrument="X", side=Side.BUY, asset_class=None,
                                        slippage_bps=float("nan"), notional=1.0),
        lambda m: record_execution_fill(m, instrument="X", side=Side.BUY, asset_class=None,
                                        slippage_bps=1.0, notional=-5.0),
        lambda m: record_execution_commission(m, -0.01),
        lambda m: record_netting_savings(m, -1),
        lambda m: record_execution_rejected(m, "x", source="elsewhere"),
        lambda m: record_run(m, outcome="great", finished_at=T0),
        lambda m: record_run(m, outcome="success", finished_at=T0.replace(tzinfo=None)),
    ],
)
def test_invalid_observations_raise(call: object) -> None:
    with pytest.raises(ValueError):
        call(ExecutionMetrics())  # type: ignore[operator]


def test_write_textfile_is_atomic_and_complete(tmp_path: Path) -> None:
    m = populated()
    target = tmp_path / "execution.prom"
    res = m.write_textfile(target)
    assert res.ok and res.target == str(target)
    res.raise_for_error()
    assert os.listdir(tmp_path) == ["execution.prom"]  # no temp file left behind
    assert {n for n, _ in samples(target.read_text())} >= SEED_SERIES


def test_write_textfile_failure_is_reported_not_raised(tmp_path: Path) -> None:
    res = ExecutionMetrics().write_textfile(tmp_path / "missing" / "x.prom")
    assert not res.ok and "FileNotFoundError" in res.detail
    with pytest.raises(ReportingError, match="x.prom"):
        res.raise_for_error()


def test_push_to_dead_gateway_is_reported_not_raised() -> None:
    gw = f"127.0.0.1:{free_port()}"
    res = populated().push(gw, grouping_key={"rebalance": "r1"}, timeout_seconds=2)
    assert not res.ok and res.target == gw and dict(res.grouping_key) == {"rebalance": "r1"}
    assert "refused" in res.detail.lower()
    with pytest.raises(ReportingError):
        res.raise_for_error()


# --- real Pushgateway and promtool ------------------------------------------------


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[PushgatewayProcess]:
    binary = binary_or_skip("prometheus-pushgateway", "EXEC_REQUIRE_PUSHGATEWAY", APT_HINT)
    with PushgatewayProcess(binary) as gw:
        yield gw


def test_push_to_real_pushgateway_groups_by_rebalance(pushgateway: PushgatewayProcess) -> None:
    rid = "main-2026-11-24-us-close"
    res = populated().push(pushgateway.address, job="rebalance", grouping_key={"rebalance": rid})
    assert res.ok, res.detail
    other = ExecutionMetrics()
    record_netting_savings(other, 7)
    assert other.push(pushgateway.address, grouping_key={"rebalance": "r-other"}).ok

    text = pushgateway.get("/metrics")
    grp = {"job": "rebalance", "rebalance": rid}
    assert value(text, "abstractfinance_execution_netting_savings_qty_total", **grp) == 1500.0
    assert value(text, "abstractfinance_execution_netting_savings_qty_total", job="rebalance",
                 rebalance="r-other") == 7.0
    assert value(text, "abstractfinance_execution_notional_total", asset_class="FUT", **grp) == 1_200_000.0
    assert value(text, "abstractfinance_execution_commission_total", **grp) == pytest.approx(4.35)
    assert value(text, "abstractfinance_execution_orders_by_policy_total", policy="marketable_limit",
                 **grp) == 2.0
    assert value(text, "abstractfinance_execution_slippage_bps_count", instrument="SPY", side="BUY",
                 asset_class="ETF", **grp) == 1.0
    pushed = {n for (n, labels) in samples(text) if ("rebalance", rid) in labels}
    assert pushed >= SEED_SERIES

    # A rerun of the same rebalance replaces its group (PUT), it does not add.
    rerun = ExecutionMetrics()
    record_netting_savings(rerun, 100)
    assert rerun.push(pushgateway.address, grouping_key={"rebalance": rid}).ok
    text = pushgateway.get("/metrics")
    assert value(text, "abstractfinance_execution_netting_savings_qty_total", **grp) == 100.0
    assert not [n for (n, labels) in samples(text)
                if n == "abstractfinance_execution_notional_total" and ("rebalance", rid) in labels]


def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    promtool = binary_or_skip("promtool", "EXEC_REQUIRE_PROMTOOL", APT_HINT)
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=populated().exposition(), capture_output=True,
        timeout=30, check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stdout.decode().strip() == ""  # no lint findings either


def test_missing_tool_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXEC_REQUIRE_NOSUCHTOOL", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-xyz not installed"):
        binary_or_skip("no-such-tool-xyz", "EXEC_REQUIRE_NOSUCHTOOL", APT_HINT)
    monkeypatch.setenv("EXEC_REQUIRE_NOSUCHTOOL", "1")
    with pytest.raises(pytest.fail.Exception, match="required because EXEC_REQUIRE_NOSUCHTOOL=1"):
        binary_or_skip("no-such-tool-xyz", "EXEC_REQUIRE_NOSUCHTOOL", APT_HINT)


# --- textfiles after many runs, the way node_exporter's textfile collector reads them --------


def run_metrics(rebalance: str, schedule: str = "us-open", *, outcome: str = "success",
                seconds: float = 42.0) -> ExecutionMetrics:
    m = populated(ExecutionMetrics(run_labels={"rebalance": rebalance, "schedule": schedule}))
    record_run(m, outcome=outcome, finished_at=T0, started_at=T0 - timedelta(seconds=seconds),
               orders=2)
    return m


def load_textfile_dir(folder: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], str]:
    """Merge every ``*.prom`` of ``folder`` into one scrape as node_exporter's
    textfile collector does: fail on a series (name + labels) that two files
    carry, and on a family whose TYPE or HELP differs between files."""
    seen: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}
    families: dict[str, tuple[str, str]] = {}
    dupes: list[str] = []
    for path in sorted(folder.glob("*.prom")):
        for fam in text_string_to_metric_families(path.read_text()):
            meta = (fam.type, fam.documentation)
            assert families.setdefault(fam.name, meta) == meta, f"{fam.name}: {meta} in {path.name}"
            for smp in fam.samples:
                key = (smp.name, frozenset(smp.labels.items()))
                if key in seen:
                    dupes.append(f"{smp.name}{dict(smp.labels)} in {seen[key]} and {path.name}")
                seen[key] = path.name
    if dupes:
        raise AssertionError(f"{len(dupes)} series collected before with the same name and "
                             f"label values, e.g. {dupes[0]}")
    return seen


def test_unlabelled_files_collide_as_node_exporter_reports(tmp_path: Path) -> None:
    # The old output: one file per rebalance with the same unlabelled series.
    for i in range(3):
        populated().write_textfile(tmp_path / f"r{i}.prom")
    with pytest.raises(AssertionError, match="collected before with the same name and label values"):
        load_textfile_dir(tmp_path)


def test_many_runs_load_without_duplicates(tmp_path: Path) -> None:
    ids = [f"main-2026-11-{d:02d}-{slug}" for d in range(1, 26) for slug in ("us-open", "eu-session")]
    for rid in ids:
        assert run_metrics(rid, rid.rsplit("-", 2)[-2] + "-" + rid.rsplit("-", 1)[-1]).write_textfile(
            tmp_path / f"{rid}.prom").ok
    # A rerun rewrites its own file (same rebalance): still one series per rebalance.
    assert run_metrics(ids[0], outcome="incomplete").write_textfile(tmp_path / f"{ids[0]}.prom").ok
    seen = load_textfile_dir(tmp_path)
    per_run = {dict(k[1])["rebalance"] for k in seen if k[0] == "abstractfinance_execution_commission_total"}
    assert per_run == set(ids)
    every = {k for k in seen if ("rebalance", ids[1]) in k[1]}
    assert {n for n, _ in every} >= SEED_SERIES
    assert all(dict(labels).get("schedule") for _, labels in every)


def test_batch_job_series_follow_the_convention() -> None:
    ok = samples(run_metrics("r1").exposition().decode())
    lbl = frozenset({("rebalance", "r1"), ("schedule", "us-open")})
    assert ok[("abstractfinance_rebalance_last_success_timestamp_seconds", lbl)] == T0.timestamp()
    assert ok[("abstractfinance_rebalance_last_run_timestamp_seconds", lbl)] == T0.timestamp()
    assert ok[("abstractfinance_rebalance_duration_seconds", lbl)] == 42.0
    assert ok[("abstractfinance_rebalance_orders", lbl)] == 2.0
    for o in OUTCOMES:
        assert ok[("abstractfinance_rebalance_outcome", lbl | {("outcome", o)})] == (o == "success")
    bad = samples(run_metrics("r1", outcome="incomplete").exposition().decode())
    # An incomplete run leaves the last success where the last successful run put it.
    assert not [n for n, _ in bad if n == "abstractfinance_rebalance_last_success_timestamp_seconds"]
    assert bad[("abstractfinance_rebalance_outcome", lbl | {("outcome", "incomplete")})] == 1.0
    # Without a run record there is no batch-job series at all (no 1970 timestamps).
    assert not [n for n, _ in samples(populated().exposition().decode()) if "rebalance_" in n]


def test_series_constant_lists_every_exported_name() -> None:
    names = {n for n, _ in samples(run_metrics("r1").exposition().decode())}
    assert names == {f"abstractfinance_{s}" for s in SERIES}


def test_prune_keeps_the_newest_files(tmp_path: Path) -> None:
    for i in range(5):
        p = tmp_path / f"r{i}.prom"
        p.write_text("x 1\n")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "other.txt").write_text("kept")
    gone = prune_textfiles(tmp_path, keep=2)
    assert sorted(p.name for p in gone) == ["r0.prom", "r1.prom", "r2.prom"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt", "r3.prom", "r4.prom"]
    with pytest.raises(ValueError):
        prune_textfiles(tmp_path, keep=-1)


def test_promtool_accepts_every_run_file(tmp_path: Path) -> None:
    promtool = binary_or_skip("promtool", "EXEC_REQUIRE_PROMTOOL", APT_HINT)
    for rid, outcome in (("r1", "success"), ("r2", "incomplete")):
        path = tmp_path / f"{rid}.prom"
        run_metrics(rid, outcome=outcome).write_textfile(path)
        proc = subprocess.run([promtool, "check", "metrics"], input=path.read_bytes(),
                              capture_output=True, timeout=30, check=False)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        assert proc.stdout.decode().strip() == ""


class NodeExporter:
    """A real ``prometheus-node-exporter`` with only the textfile collector."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [binary, f"--web.listen-address={self.address}", "--collector.disable-defaults",
             "--collector.textfile", f"--collector.textfile.directory={folder}"],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )

    def scrape(self) -> tuple[int, str]:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.address}/metrics", timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise
                time.sleep(0.05)  # waiting for a real process to bind

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=5)
        self._log.close()


@pytest.mark.parametrize("labelled", [False, True])
def test_real_node_exporter_textfile_collector(tmp_path: Path, labelled: bool) -> None:
    binary = binary_or_skip("prometheus-node-exporter", "EXEC_REQUIRE_NODE_EXPORTER",
                            "apt-get install -y prometheus-node-exporter")
    for i in range(20):
        m = run_metrics(f"r{i}") if labelled else populated()
        m.write_textfile(tmp_path / f"r{i}.prom")
    ne = NodeExporter(binary, tmp_path)
    try:
        status, body = ne.scrape()
        log = ne.log()
    finally:
        ne.stop()
    if not labelled:  # reproduces the reported failure
        assert "was collected before with the same name and label values" in log + body
        return
    assert status == 200, body[-2000:]
    assert "collected before" not in log + body
    text = "\n".join(line for line in body.splitlines()
                     if line.startswith(("# HELP abstractfinance", "# TYPE abstractfinance", "abstractfinance")))
    got = {dict(lbl)["rebalance"] for n, lbl in samples(text)
           if n == "abstractfinance_rebalance_last_success_timestamp_seconds"}
    assert got == {f"r{i}" for i in range(20)}
    assert "node_textfile_scrape_error 0" in body


# --- a failed run: outcome="failed", last success untouched -----------------------------

T1 = T0 + timedelta(hours=1)
LBL = frozenset({("rebalance", "r1"), ("schedule", "us-open")})
LAST_SUCCESS = "abstractfinance_rebalance_last_success_timestamp_seconds"


def outcome_of(s: dict[tuple[str, frozenset[tuple[str, str]]], float],
               labels: frozenset[tuple[str, str]] = LBL) -> dict[str, float]:
    return {o: s[("abstractfinance_rebalance_outcome", labels | {("outcome", o)})] for o in OUTCOMES}


def test_failed_run_after_a_success_keeps_last_success_in_the_textfile(tmp_path: Path) -> None:
    assert run_metrics("r1").write_textfile(tmp_path / "r1.prom").ok
    res = export_failed_run("r1", "us-open", finished_at=T1, started_at=T1 - timedelta(seconds=30),
                            folder=tmp_path)
    assert res.ok and res.target == str(tmp_path / "r1.prom")
    s = samples((tmp_path / "r1.prom").read_text())
    assert outcome_of(s) == {"success": 0.0, "incomplete": 0.0, "failed": 1.0}
    assert s[("abstractfinance_rebalance_last_run_timestamp_seconds", LBL)] == T1.timestamp()
    assert s[(LAST_SUCCESS, LBL)] == T0.timestamp()  # not advanced by the failure
    assert s[("abstractfinance_rebalance_duration_seconds", LBL)] == 30.0
    assert s[("abstractfinance_rebalance_orders", LBL)] == 2.0  # the earlier attempt's
    assert s[("abstractfinance_execution_commission_total", LBL)] == pytest.approx(4.35)
    load_textfile_dir(tmp_path)  # still one series per name and labels


def test_first_run_failing_writes_failed_and_no_last_success(tmp_path: Path) -> None:
    for rid in ("r2", "r3"):
        assert run_metrics(rid).write_textfile(tmp_path / f"{rid}.prom").ok
    assert export_failed_run("r1", "us-open", finished_at=T1, folder=tmp_path).ok
    s = samples((tmp_path / "r1.prom").read_text())
    assert outcome_of(s)["failed"] == 1.0
    assert not [n for n, _ in s if n == LAST_SUCCESS]
    assert not [n for n, _ in s if n in ("abstractfinance_rebalance_orders",
                                         "abstractfinance_rebalance_duration_seconds")]
    seen = load_textfile_dir(tmp_path)  # beside other runs' files, as node_exporter merges them
    assert {dict(k[1])["rebalance"] for k in seen if k[0] == LAST_SUCCESS} == {"r2", "r3"}


def test_failed_run_defaults_to_var_metrics_and_prunes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EXEC_PUSHGATEWAY", raising=False)
    folder = tmp_path / "var" / "metrics"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"old{i}.prom").write_text("x 1\n")
        os.utime(folder / f"old{i}.prom", (1_000_000 + i, 1_000_000 + i))
    (folder / "r1.prom").write_text("not { a metrics file\n")  # unreadable: replaced
    res = export_failed_run("r1", "us-open", finished_at=T1, textfiles_kept=2)
    assert res.ok and res.target == str(folder / "r1.prom")
    assert outcome_of(samples((folder / "r1.prom").read_text()))["failed"] == 1.0
    assert sorted(p.name for p in folder.glob("*.prom")) == ["old2.prom", "r1.prom"]


def test_failed_run_export_failure_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert not export_failed_run("r1", "s", finished_at=T1, folder=blocker / "metrics").ok
    dead = f"127.0.0.1:{free_port()}"
    res = export_failed_run("r1", "s", finished_at=T1, gateway=dead)
    assert not res.ok and res.target == dead


def test_promtool_accepts_a_failed_run_file(tmp_path: Path) -> None:
    promtool = binary_or_skip("promtool", "EXEC_REQUIRE_PROMTOOL", APT_HINT)
    run_metrics("r1").write_textfile(tmp_path / "r1.prom")
    export_failed_run("r1", "us-open", finished_at=T1, folder=tmp_path)
    proc = subprocess.run([promtool, "check", "metrics"], input=(tmp_path / "r1.prom").read_bytes(),
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0 and proc.stdout.decode().strip() == "", proc.stdout + proc.stderr


def test_failed_run_on_the_pushgateway_keeps_the_groups_last_success(
    pushgateway: PushgatewayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = "main-2026-11-24-failing"
    assert run_metrics(rid).push(pushgateway.address, job="rebalance").ok  # an earlier success
    monkeypatch.setenv("EXEC_PUSHGATEWAY", pushgateway.address)  # where the flow's hook finds it
    res = export_failed_run(rid, "us-open", finished_at=T1, started_at=T1 - timedelta(seconds=5))
    assert res.ok, res.detail
    assert res.grouping_key == {"rebalance": rid, "schedule": "us-open"}
    text = pushgateway.get("/metrics")
    grp = {"job": "rebalance", "rebalance": rid, "schedule": "us-open"}
    for o in OUTCOMES:
        assert value(text, "abstractfinance_rebalance_outcome", outcome=o, **grp) == (o == "failed")
    assert value(text, LAST_SUCCESS, **grp) == T0.timestamp()
    assert value(text, "abstractfinance_rebalance_last_run_timestamp_seconds", **grp) == T1.timestamp()
    assert value(text, "abstractfinance_execution_commission_total", **grp) == pytest.approx(4.35)
    # a first run that fails: failed, and no last success in its group
    assert export_failed_run("never-ok", "us-open", finished_at=T1).ok
    text = pushgateway.get("/metrics")
    assert value(text, "abstractfinance_rebalance_outcome", outcome="failed", rebalance="never-ok") == 1.0
    assert not [n for (n, labels) in samples(text)
                if n == LAST_SUCCESS and ("rebalance", "never-ok") in labels]
