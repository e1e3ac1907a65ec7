"""A simulated rebalance leaves an auditable ledger and a TCA that adds up:
broker ids and send times on every order, decision mids, market samples
during and after the run, shortfall = delay + spread + impact + opportunity
+ fees per order and per rebalance, markouts at +1/+5/+30 min."""

from __future__ import annotations

import pytest

from lib.ledger_tca import rebalance_tca
from lib.params import RebalanceParams
from lib.runtime import open_runtime
from tasks import steps
from tests.tasks.test_steps import _upto_plans

PARTS = ("delay", "spread", "impact", "opportunity", "fees")


def test_simulated_rebalance_ledger_and_tca(params: RebalanceParams) -> None:
    rt, prepared, gate, netting, legs, _, ctx, _, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans, gate.pairs)
    steps.analyse.fn(params, report.results, netting, ctx, prepared)
    orders = rt.ledger.orders_for_rebalance("task-test")
    assert orders
    for o in orders:  # NULL in every demo row before
        assert o.submitted_at is not None and o.broker_order_id, o.client_order_id
        assert o.wall_created_at is not None and o.wall_submitted_at is not None
    decisions = rt.ledger.decisions_for_rebalance("task-test")
    assert set(decisions) >= {p.symbol for p in plans.plans}
    phases = {s.phase for s in rt.ledger.samples_for_rebalance("task-test")}
    assert phases == {"during", "after"}

    tca = rebalance_tca(rt.ledger, rt.registry, "task-test",
                        fx_rate=lambda c: (1.0, "") if c == "USD" else (1.08, ""))
    assert len(tca.orders) == len(plans.plans)
    for r in tca.orders:
        t = r.tca
        assert t.decision_mid == decisions[t.symbol][0]
        assert sum(getattr(t, f"{p}_bps") for p in PARTS) == pytest.approx(t.shortfall_bps)
        assert sum(t.component_money(p) for p in PARTS) == pytest.approx(t.shortfall_money)
        if t.filled_quantity:
            assert r.bench.interval_vwap is not None and r.bench.vwap_source == "tape"
            assert all(r.bench.markouts_bps[k] is not None for k in (1, 5, 30)), r.bench
            assert r.broker_order_ids
    d = tca.summary
    parts = sum(getattr(d, f"{p}_bps") for p in PARTS)
    assert d.shortfall_bps == pytest.approx(parts)
    for ccy, comp in tca.components_by_currency.items():
        assert sum(comp.values()) == pytest.approx(tca.shortfall_by_currency[ccy])
    assert tca.unconverted == ()
    expected = sum(v * (1.0 if c == "USD" else 1.08) for c, v in tca.shortfall_by_currency.items())
    assert tca.shortfall_base == pytest.approx(expected)


def test_unknown_currency_is_left_out_not_added(params: RebalanceParams) -> None:
    rt, prepared, gate, netting, _, _, ctx, _, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans, gate.pairs)
    steps.analyse.fn(params, report.results, netting, ctx, prepared)
    tca = rebalance_tca(open_runtime(params).ledger, rt.registry, "task-test",
                        fx_rate=lambda c: (None, "no rate"))
    assert tca.shortfall_base == 0.0 and set(tca.unconverted) == set(tca.shortfall_by_currency)


def test_history_loads_from_the_ledger(params: RebalanceParams) -> None:
    from lib.history import load_history, rolling

    rt, prepared, gate, netting, _, _, ctx, _, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans, gate.pairs)
    steps.analyse.fn(params, report.results, netting, ctx, prepared)
    day = rt.ledger.get_rebalance("task-test").session_date  # type: ignore[union-attr]
    rows, nets = load_history(rt.ledger, rt.registry, since=day, until=day)
    assert {r.instrument for r in rows} == {p.symbol for p in plans.plans}
    assert sum(n.saved_qty for n in nets) == netting.benefit.qty_saved
    (total,) = [s for s in rolling(rows, nets, until=day, windows=(1,)) if s.dimension == "all"]
    assert total.orders == len(plans.plans) and total.netting_saved_qty == netting.benefit.qty_saved


def test_cli_history_show_report_json(params: RebalanceParams,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from flows.cli import main

    rt, prepared, gate, netting, _, _, ctx, _, plans = _upto_plans(params)
    report = steps.execute.fn(params, plans.plans, gate.pairs)
    steps.analyse.fn(params, report.results, netting, ctx, prepared)
    day = rt.ledger.get_rebalance("task-test").session_date  # type: ignore[union-attr]
    settings = ["--settings", params.settings]
    assert main(["history", "--json", *settings]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["rebalance_id"] == "task-test" and row["orders"] > 0
    assert main(["show", "task-test", "--json", *settings]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["orders"]) == len(plans.plans)
    assert main(["show", "nope", *settings]) == 2
    capsys.readouterr()
    assert main(["report", "--date", day.isoformat(), "--json", *settings]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["rebalances"] == ["task-test"] and rep["summary"]["orders"] == len(plans.plans)
    assert main(["report", "--days", "5", "--until", day.isoformat(), "--by", "mode", *settings]) == 0
    assert "by mode" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("afx ")
