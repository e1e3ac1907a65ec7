"""The kill switch is honoured inside supervision within one poll (issue 8):
a sliced DIS parent used to send children for 41 virtual minutes after the
switch was checked before planning. Now, once engaged, live orders are
cancelled and no child, replace or hedge goes out; the blocks are recorded
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from lib import pipeline as P
from lib.clock import Clock
from lib.params import RebalanceParams
from lib.runtime import clear_runtimes, open_runtime

ENGAGE_AFTER_SECONDS = 45.0
POLL_SECONDS = 1.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_params(
    request: pytest.FixtureRequest, params: RebalanceParams, monkeypatch: pytest.MonkeyPatch
) -> RebalanceParams:
    if request.param == "postgresql":
        monkeypatch.setenv("EXEC_DATABASE_URL", request.getfixturevalue("pg_url"))
        schema_factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
        monkeypatch.setenv("EXEC_DATABASE_SCHEMA", schema_factory())
    clear_runtimes()
    return params


class EngagesAt:
    """A kill switch an operator flips at ``at`` (clock time)."""

    def __init__(self, clock: Clock, at: datetime) -> None:
        self.clock, self.at = clock, at

    def is_engaged(self) -> tuple[bool, str]:
        return (True, "ops: stop now") if self.clock.now() >= self.at else (False, "")


def test_kill_switch_stops_a_sliced_parent_within_one_poll(ledger_params: RebalanceParams) -> None:
    rt = open_runtime(ledger_params)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    legs = [leg for p in gate.pairs for leg in p.legs]
    intents = [*netting.net_intents, *legs]
    ctx = P.market_context(rt, intents)
    plans = P.make_plans(rt, P.pre_trade_risk(rt, intents, ctx).approved, ctx)
    dis = next(p for p in plans.plans if p.symbol == "DIS")
    assert dis.slices is not None and len(dis.slices.child_quantities) > 2  # a long schedule
    engage = rt.clock.now() + timedelta(seconds=ENGAGE_AFTER_SECONDS)
    report = P.execute(rt, plans.plans, gate.pairs, kill_switch=EngagesAt(rt.clock, engage))
    cutoff = engage + timedelta(seconds=POLL_SECONDS + 1e-6)

    orders = rt.ledger.orders_for_rebalance(rt.rebalance_id)
    sent = [o for o in orders if o.submitted_at is not None]
    assert sent and all(o.submitted_at <= cutoff for o in sent)  # type: ignore[operator]
    for o in orders:
        for ev in rt.ledger.order_events(o.client_order_id):
            if ev.kind in ("submit_sent", "modify_sent"):
                assert ev.ts <= cutoff, (o.client_order_id, ev.kind, ev.ts)
    assert rt.broker.get_open_orders() == []  # every live order was cancelled
    dis_result = next(r for r in report.results if r.symbol == "DIS")
    assert dis_result.filled_quantity < dis.quantity  # the rest of the schedule never went out
    blocked = {b.intent_id for b in report.blocks if b.control == "kill_switch"}
    assert any("DIS" in i for i in blocked)
    done = {r.intent_id for r in report.results if r.filled_quantity == r.requested_quantity}
    assert not blocked & done  # only what was still to trade is reported blocked
    assert all("ops: stop now" in b.detail for b in report.blocks)
    ledger_blocks = rt.ledger.risk_blocks_for_rebalance(rt.rebalance_id)
    assert {b.intent_id for b in ledger_blocks if b.control == "kill_switch"} == blocked


def test_kill_switch_engaged_before_the_first_send_sends_nothing(ledger_params: RebalanceParams) -> None:
    rt = open_runtime(ledger_params)
    prepared = P.prepare_trades(rt)
    gate = P.gate_sessions(rt, prepared)
    netting = P.net_trades(rt, prepared, gate)
    intents = [*netting.net_intents, *(leg for p in gate.pairs for leg in p.legs)]
    ctx = P.market_context(rt, intents)
    plans = P.make_plans(rt, P.pre_trade_risk(rt, intents, ctx).approved, ctx)
    report = P.execute(rt, plans.plans, gate.pairs, kill_switch=EngagesAt(rt.clock, rt.clock.now()))
    assert report.orders_sent == 0 and rt.broker.get_executions("task-test:") == []
    assert {b.intent_id for b in report.blocks} >= {p.intent.intent_id for p in plans.plans}
    outcome = P.run_outcome(intents=len(intents), plans=len(plans.plans), blocks=report.blocks,
                            results=report.results)
    assert outcome.name == "Blocked" and outcome.failed
