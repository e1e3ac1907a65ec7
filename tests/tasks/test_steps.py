"""Every task on its own, through ``task.fn`` (no Prefect API), on the
simulated broker and a temporary SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.states import Completed, Failed

from lib import pipeline as P
from lib.errors import BrokerDisconnected, BrokerRejected, InputError
from lib.params import RebalanceParams
from lib.runtime import open_runtime
from tasks import steps


def _upto_plans(params: RebalanceParams):  # type: ignore[no-untyped-def]
    rt = open_runtime(params)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    legs = [leg for p in gate.pairs for leg in p.legs]
    intents = [*netting.net_intents, *legs]
    ctx = P.market_context(rt, intents)
    risk = P.pre_trade_risk(rt, intents, ctx)
    plans = P.make_plans(rt, risk.approved, ctx)
    return rt, prepared, gate, netting, legs, intents, ctx, risk, plans


def test_prepare_trades_loads_diffs_and_records(params: RebalanceParams) -> None:
    prepared = steps.prepare_trades.fn(params)
    assert prepared.rebalance_id == "task-test" and prepared.created
    assert len(prepared.trades.intents) == 8
    assert prepared.nav == pytest.approx(10_000_000)
    assert set(prepared.prices) >= {"SPY", "TLT", "ES", "DIS", "QQQ", "IWM"}
    rt = open_runtime(params)
    assert len(rt.ledger.intents_for_rebalance("task-test")) == 8
    again = steps.prepare_trades.fn(params)
    assert not again.created  # a rerun finds the rebalance


def test_prepare_trades_bad_targets_names_file_and_row(params: RebalanceParams, tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("sleeve,symbol,side,quantity\ntrend,SPY,BUY,10\ntrend,NOPE,BUY,5\n")
    with pytest.raises(InputError, match=r"t.csv: row 2: symbol: unknown symbol 'NOPE'"):
        steps.prepare_trades.fn(params.model_copy(update={"targets": str(bad)}))
    rt = open_runtime(params.model_copy(update={"targets": str(bad)}))
    assert rt.broker.get_open_orders() == []  # nothing was sent


def test_gate_sessions_goes_in_session_and_defers_near_close(params: RebalanceParams) -> None:
    prepared = steps.prepare_trades.fn(params)
    gate = steps.gate_sessions.fn(params, prepared)
    assert len(gate.go) == 8 and gate.deferred == ()
    assert [p.group_id for p in gate.pairs] == ["qqq_iwm"]
    # 15:55 New York: the last 10 minutes -> everything US is deferred, with a window.
    late = params.model_copy(update={
        "rebalance_id": "task-late",
        "sim_start": params.sim_start.replace(hour=20, minute=55),  # type: ignore[union-attr]
    })
    prepared = steps.prepare_trades.fn(late)
    gate = steps.gate_sessions.fn(late, prepared)
    us = {d.symbol for d in gate.deferred}
    assert {"SPY", "TLT", "DIS", "QQQ", "IWM"} <= us
    assert all(d.next_window_start is not None and d.next_window_start > prepared_time(late)
               for d in gate.deferred)


def prepared_time(params: RebalanceParams):  # type: ignore[no-untyped-def]
    return open_runtime(params).clock.now()


def test_net_trades_nets_across_sleeves_and_keeps_pair_legs_out(params: RebalanceParams) -> None:
    prepared = steps.prepare_trades.fn(params)
    gate = steps.gate_sessions.fn(params, prepared)
    netting = steps.net_trades.fn(params, prepared, gate)
    net = {i.symbol: (i.side.value, i.quantity) for i in netting.net_intents}
    assert net == {"ES": ("BUY", 2), "SPY": ("BUY", 2000), "TLT": ("BUY", 3000), "DIS": ("BUY", 8000)}
    assert [i.symbol for i in netting.net_intents][:1] == ["ES"]  # futures first
    assert netting.benefit.qty_saved == 2 * 1000 + 2 * 1000
    rows = open_runtime(params).ledger.netting_for_rebalance("task-test")
    assert {r.symbol for r in rows} == {"ES", "SPY", "TLT", "DIS"}


def test_market_context_and_risk(params: RebalanceParams) -> None:
    rt, _, _, _, _, intents, _, _, _ = _upto_plans(params)
    ctx = steps.market_context.fn(params, intents)
    assert set(ctx.snapshots) == {i.symbol for i in intents}
    assert ctx.adv["SPY"] == 70_000_000
    report = steps.pre_trade_risk.fn(params, intents, ctx)
    assert report.ok and len(report.approved) == len(intents)


def test_kill_switch_blocks_everything_and_is_recorded(params: RebalanceParams, tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    kill.write_text("ops: halt all trading")
    settings = tmp_path / "settings.yaml"
    text = Path(params.settings).read_text().replace("kill_switch_file: null", f"kill_switch_file: {kill}")
    settings.write_text(text)
    p = params.model_copy(update={"settings": str(settings), "rebalance_id": "task-kill"})
    rt, *_, intents, ctx, risk, plans = _upto_plans(p)
    report = steps.pre_trade_risk.fn(p, intents, ctx)
    assert report.approved == () and {b.control for b in report.blocks} == {"kill_switch"}
    assert all("halt all trading" in b.detail for b in report.blocks)
    assert len(rt.ledger.risk_blocks_for_rebalance("task-kill")) >= len(intents)


def test_make_plans_records_plans_inside_collars(params: RebalanceParams) -> None:
    rt, _, _, _, _, _, ctx, risk, _ = _upto_plans(params)
    planset = steps.make_plans.fn(params, risk.approved, ctx)
    assert planset.rejected == {} and len(planset.plans) == 6
    for plan in planset.plans:
        assert plan.limit_price is not None and plan.in_collar(plan.limit_price)
    dis = next(p for p in planset.plans if p.symbol == "DIS")
    assert dis.slices is not None and sum(dis.slices.child_quantities) == 8000


def test_make_plans_rejects_stale_quotes(params: RebalanceParams) -> None:
    rt, _, _, netting, _, _, ctx, risk, _ = _upto_plans(params)
    rt.clock.advance(120)  # the snapshots are now 120 s old (> max_data_age_seconds 30)
    planset = steps.make_plans.fn(params, risk.approved, ctx)
    assert planset.plans == ()
    assert all("stale_data" in why for why in planset.rejected.values())
    assert set(planset.reject_reasons.values()) == {"stale_data"}
    # Metrics count each policy rejection under its code.
    out = steps.export_metrics.fn(params, [], [], netting, [], dict(planset.reject_reasons))
    assert out.endswith(": ok")
    prom = (rt.var_dir / "metrics" / "task-test.prom").read_text()
    assert _sample(prom, "abstractfinance_execution_rejected_total", source="policy",
                   reason="stale_data", rebalance="task-test") == 6.0


def test_execute_supervises_to_completion_and_rerun_is_a_no_op(params: RebalanceParams) -> None:
    rt, _, gate, *_, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans, gate.pairs)
    (pair,) = report.pairs  # the QQQ/IWM legs went out together, protected
    assert pair.group_id == "qqq_iwm" and pair.completed and pair.hedge_position == 0
    assert {leg.symbol for leg in pair.legs} == {"QQQ", "IWM"}
    assert {r.symbol: r.filled_quantity for r in report.results} == {
        "ES": 2, "SPY": 2000, "TLT": 3000, "DIS": 8000, "QQQ": 600, "IWM": 1400}
    assert rt.broker.get_open_orders() == []
    # Every order's history is in the ledger, from the send to its fill.
    for order in rt.ledger.orders_for_rebalance("task-test"):
        events = rt.ledger.order_events(order.client_order_id)
        assert events[0].kind == "submit_sent" and events[-1].to_state == order.status
        assert order.status in ("FILLED", "EXPIRED", "CANCELLED")
    again = steps.execute.fn(params, plans.plans, gate.pairs)
    assert again.attempt == report.attempt + 1 and again.orders_sent == 0 and again.pairs == ()
    assert [r.filled_quantity for r in again.results] == [r.filled_quantity for r in report.results]


def test_execute_retries_only_transient_errors() -> None:
    assert steps._transient(None, None, Failed(data=BrokerDisconnected("down")))
    assert not steps._transient(None, None, Failed(data=BrokerRejected("x", "no")))
    assert not steps._transient(None, None, Completed(data=1))


def test_allocate_analyse_alerts_metrics(params: RebalanceParams, tmp_path: Path) -> None:
    rt, prepared, _, netting, legs, _, ctx, _, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans)
    alloc = steps.allocate.fn(params, netting, legs, report, prepared)
    got = {(a.sleeve, a.symbol): a.allocated_qty for a in alloc.netted}
    assert got[("trend", "SPY")] == 3000 and got[("carry", "SPY")] == 1000
    assert rt.ledger.sleeve_positions("relval") == {"QQQ": 600, "IWM": -1400}
    assert rt.ledger.sleeve_positions("carry") == {"SPY": -1000, "TLT": 4000}
    run = steps.analyse.fn(params, report.results, netting, ctx)
    assert run.summary is not None and run.summary.orders == 6 and "task-test" in run.text
    sent = steps.send_alerts.fn(params, run, [])
    assert [(r.sent, r.failed) for r in sent] == [(False, ())]  # no destinations: log only
    out = steps.export_metrics.fn(params, report.results, plans.plans, netting, [], {})
    assert out.endswith(": ok")
    prom = (tmp_path / "var" / "metrics" / "task-test.prom").read_text()
    assert "abstractfinance_execution_slippage_bps_bucket" in prom
    assert _sample(prom, "abstractfinance_execution_orders_by_policy_total",
                   policy="marketable_limit", rebalance="task-test") == 6.0
    # Outside a flow run the start is unknown: no duration, but the run's outcome and time.
    assert _sample(prom, "abstractfinance_rebalance_outcome", outcome="success") == 1.0
    assert _sample(prom, "abstractfinance_rebalance_last_success_timestamp_seconds") > 0


def _sample(prom: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    found = [s.value for fam in text_string_to_metric_families(prom) for s in fam.samples
             if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return float(found[0])


def test_dry_run_plans_nothing_sent(params: RebalanceParams) -> None:
    p = params.model_copy(update={"dry_run": True})
    rt, *_, plans = _upto_plans(p)
    assert plans.plans and rt.broker.get_open_orders() == [] and rt.broker.get_executions() == []

