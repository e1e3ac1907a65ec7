"""A rebalance id is an idempotency key (issue 8): the CSV example then the
YAML example under the same id used to be a "rerun" that sent 10 orders,
SPY and CSPX among them a second time. Now the second run is refused before
anything is read from or sent to the broker; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lib import pipeline as P
from lib.errors import IdempotencyConflict
from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, open_runtime

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_env(
    request: pytest.FixtureRequest, params: RebalanceParams, monkeypatch: pytest.MonkeyPatch
) -> RebalanceParams:
    if request.param == "postgresql":
        monkeypatch.setenv("EXEC_DATABASE_URL", request.getfixturevalue("pg_url"))
        schema_factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
        monkeypatch.setenv("EXEC_DATABASE_SCHEMA", schema_factory())
    clear_runtimes()
    return params


def _run(params: RebalanceParams) -> int:
    """Prepare -> ... -> execute; returns the orders the broker has seen."""
    rt = open_runtime(params)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    legs = [leg for p in gate.pairs for leg in p.legs]
    intents = [*netting.net_intents, *legs]
    ctx = P.market_context(rt, intents)
    risk = P.pre_trade_risk(rt, intents, ctx)
    plans = P.make_plans(rt, risk.approved, ctx)
    P.execute(rt, plans.plans, gate.pairs)
    return len(rt.broker.get_executions(f"{rt.rebalance_id}:"))


def test_reusing_an_id_with_other_targets_is_refused_and_sends_nothing(
    ledger_env: RebalanceParams,
) -> None:
    csv = ledger_env.model_copy(update={"targets": str(ROOT / "config/targets.example.csv")})
    yaml = ledger_env.model_copy(update={"targets": str(ROOT / "config/targets.example.yaml")})
    fills_before = _run(csv)
    assert fills_before > 0
    rt = open_runtime(yaml)
    orders_before = len(rt.ledger.orders_for_rebalance(rt.rebalance_id))
    with pytest.raises(IdempotencyConflict, match="changed: targets") as err:
        P.prepare_trades(rt)
    assert err.value.rebalance_id == "task-test"
    assert len(rt.ledger.orders_for_rebalance(rt.rebalance_id)) == orders_before
    assert len(rt.broker.get_executions("task-test:")) == fills_before
    assert rt.broker.get_open_orders() == []
    attempts = rt.ledger.rebalance_attempts("task-test")
    assert [a.outcome for a in attempts] == ["accepted", "refused"]
    assert attempts[0].params["targets"].endswith("targets.example.csv")
    assert attempts[1].params["targets"].endswith("targets.example.yaml")


def test_reusing_an_id_with_another_forced_mode_is_refused(ledger_env: RebalanceParams) -> None:
    P.prepare_trades(open_runtime(ledger_env))
    other = RebalanceParams(**{**ledger_env.model_dump(), "mode": "passive_first"})
    with pytest.raises(IdempotencyConflict, match="changed: mode"):
        P.prepare_trades(open_runtime(other))


def test_a_rerun_with_the_same_inputs_is_accepted(ledger_env: RebalanceParams, tmp_path: Path) -> None:
    first = P.prepare_trades(open_runtime(ledger_env))
    # same content, another path, other comments/whitespace: the same targets
    copy = tmp_path / "copy.yaml"
    copy.write_text("# a comment\n" + Path(ledger_env.targets).read_text())
    again = P.prepare_trades(open_runtime(ledger_env.model_copy(update={"targets": str(copy)})))
    assert first.created and not again.created
    assert first.ledger == open_runtime(ledger_env).ledger_location != ""
    rt = open_runtime(ledger_env)
    assert [a.outcome for a in rt.ledger.rebalance_attempts("task-test")] == ["accepted", "accepted"]


def test_netting_benefit_is_recorded_in_the_base_currency(ledger_env: RebalanceParams) -> None:
    rt = open_runtime(ledger_env)
    prepared = P.prepare_trades(rt)
    netting = P.net_trades(rt, prepared, P.gate_sessions(rt, prepared))
    rows = {r.symbol: r.benefit_notional for r in rt.ledger.netting_for_rebalance(rt.rebalance_id)}
    crossed = {s: b.notional_saved for s, b in netting.benefit.per_symbol.items()}
    assert rows == pytest.approx(crossed) and sum(rows.values()) > 0  # SPY/TLT cross between sleeves


def test_a_rerun_reports_an_attempt_that_died_once(
    params: RebalanceParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGKILLed attempt cannot page (no failure hook runs): the next attempt
    of the same id warns that it did not finish, once, before trading."""
    from lib.pipeline.attempts import report_abandoned_attempts
    from tests.helpers import CaptureServer

    with CaptureServer() as capture:
        monkeypatch.setenv("EXEC_APPRISE_URLS", capture.url())
        first = P.prepare_trades(open_runtime(params))  # then killed: nothing else runs
        assert first.abandoned == () and capture.requests == []
        clear_runtimes()
        rt = open_runtime(params)
        rerun = P.prepare_trades(rt)
        assert rerun.abandoned == (0,)
        (alert,) = [r.json() for r in capture.requests]
        assert alert["type"] == "warning"
        assert alert["title"] == "Rebalance task-test: attempt 0 did not finish"
        assert "crashed, was killed or failed" in alert["message"]
        # the rerun runs to its last step, which stamps it finished
        gate = P.gate_sessions(rt, rerun)
        netting = P.net_trades(rt, rerun, gate)
        ctx = P.market_context(rt, netting.net_intents)
        plans = P.make_plans(rt, P.pre_trade_risk(rt, netting.net_intents, ctx).approved, ctx)
        report = P.execute(rt, plans.plans, ())
        P.export_metrics(rt, report.results, plans.plans, netting, [], {})
        assert report_abandoned_attempts(rt) == ()  # nothing new to report
        clear_runtimes()
        third = P.prepare_trades(open_runtime(params))
        assert third.abandoned == ()
        assert len(capture.requests) == 1  # attempt 0 was reported once, attempt 1 finished
    ends = {a.attempt: a.end_state for a in open_runtime(params).ledger.rebalance_attempts("task-test")}
    assert ends == {0: "abandoned", 1: "finished", 2: None}
