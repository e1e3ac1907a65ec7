"""The supervisor on the simulated broker: reconciliation, residual trading,
pairs, hedge clean-up after a crash, and the timeout bound."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from lib.brokers.base import OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.orders.manager import make_client_order_id
from lib.policy import ExecutionPolicy
from lib.sim.presets import demo_config
from lib.supervisor import intent_key, parse_client_order_id, reconcile, supervise
from lib.types import OrderIntent, OrderPlan, OrderType, PairGroup, Side

START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@pytest.fixture
def env(instruments: InstrumentRegistry) -> tuple[VirtualClock, SimBroker, ExecutionPolicy, ExecutionConfig]:
    clock = VirtualClock(START)
    broker = SimBroker(clock, demo_config(seed=3, symbols=None), instruments)
    cfg = ExecutionConfig()
    return clock, broker, ExecutionPolicy(cfg, instruments, clock), cfg


def _plan(policy: ExecutionPolicy, broker: SimBroker, iid: str, sym: str, side: Side, qty: int,
          pair: str | None = None) -> OrderPlan:
    intent = OrderIntent(iid, sym, side, qty, pair_group=pair)
    return policy.create_plan(intent, broker.get_market_data(sym))


def _executed(broker: SimBroker, rid: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for f in broker.get_executions(f"{rid}:"):
        parsed = parse_client_order_id(rid, f.client_order_id)
        assert parsed is not None
        out[parsed[0]] += f.quantity
    return dict(out)


def test_ids_round_trip_and_long_intents_are_hashed() -> None:
    assert intent_key("rb1", "rb1:relval:QQQ") == "relval.QQQ"
    long_key = intent_key("rb1", "rb1:" + "x" * 40)
    assert len(long_key) == 20 and long_key.startswith("k")
    coid = make_client_order_id("rb1", "relval.QQQ", 3, 2)
    assert parse_client_order_id("rb1", coid) == ("relval.QQQ", 3, 2)
    assert parse_client_order_id("rb2", coid) is None
    with pytest.raises(ValueError, match="rebalance_id"):
        supervise([], transport=None, clock=VirtualClock(START), config=ExecutionConfig(),  # type: ignore[arg-type]
                  rebalance_id="bad:id")


def test_reconcile_cancels_leftovers_and_reads_executions(env) -> None:  # type: ignore[no-untyped-def]
    clock, broker, policy, cfg = env
    snap = broker.get_market_data("SPY")
    assert snap.bid is not None and snap.ask is not None
    # An earlier run left a passive order working and one that filled.
    broker.submit_order(OrderRequest("rb:SPY:s0:a0", "SPY", Side.BUY, 100, OrderType.LMT,
                                     round(snap.bid - 0.50, 2)))
    broker.submit_order(OrderRequest("rb:TLT:s0:a0", "TLT", Side.BUY, 200, OrderType.LMT, 90.5))
    clock.advance(5)
    rec = reconcile(broker, clock, "rb")
    assert rec.cancelled == ("rb:SPY:s0:a0",) and rec.max_attempt == 0
    assert rec.executed_by_key("rb") == {"TLT": 200}
    assert broker.get_open_orders() == []


def test_rerun_trades_only_the_residual(env) -> None:  # type: ignore[no-untyped-def]
    clock, broker, policy, cfg = env
    plan = _plan(policy, broker, "rb:TLT", "TLT", Side.BUY, 5000)
    # The earlier run got 1,200 done before dying.
    broker.submit_order(OrderRequest("rb:TLT:s0:a0", "TLT", Side.BUY, 1200, OrderType.LMT, 90.5))
    clock.advance(2)
    report = supervise([plan], transport=broker, clock=clock, config=cfg, rebalance_id="rb",
                       policy=policy)
    assert report.attempt == 1 and report.previously_executed == {"rb:TLT": 1200}
    assert _executed(broker, "rb") == {"TLT": 5000}
    assert sum(t.quantity for t in report.tickets) == 3800
    assert report.results[0].filled_quantity == 5000 and report.results[0].status == "filled"


def test_pairs_go_out_together_and_hedges_left_by_a_crash_are_flattened(env) -> None:  # type: ignore[no-untyped-def]
    clock, broker, policy, cfg = env
    legs = (OrderIntent("rb:relval:QQQ", "QQQ", Side.BUY, 500, pair_group="p1"),
            OrderIntent("rb:relval:IWM", "IWM", Side.SELL, 1100, pair_group="p1"))
    group = PairGroup("p1", legs, hedge_symbol="MES")
    plans = [policy.create_plan(leg, broker.get_market_data(leg.symbol)) for leg in legs]
    # A crashed earlier run had sold 3 MES as a hedge and never unwound it.
    mes = broker.get_market_data("MES")
    assert mes.bid is not None
    broker.submit_order(OrderRequest("rb:p1.hedge.0:s0:a0", "MES", Side.SELL, 3, OrderType.LMT,
                                     mes.bid - 1.0))
    clock.advance(2)
    assert broker.get_positions()["MES"] == -3
    report = supervise(plans, transport=broker, clock=clock, config=cfg, rebalance_id="rb",
                       pairs=[group], policy=policy, market_data=broker.get_market_data)
    (pair,) = report.pairs
    assert pair.completed and {leg.symbol for leg in pair.legs} == {"QQQ", "IWM"}
    assert broker.get_positions().get("MES", 0) == 0  # the stray hedge was bought back
    assert _executed(broker, "rb")["relval.QQQ"] == 500
    assert _executed(broker, "rb")["relval.IWM"] == 1100


def test_timeout_cancels_everything(env) -> None:  # type: ignore[no-untyped-def]
    clock, broker, policy, cfg = env
    broker.faults.halt("SPY")  # nothing can fill
    plan = _plan(policy, broker, "rb:SPY", "SPY", Side.BUY, 100)
    report = supervise([plan], transport=broker, clock=clock, config=cfg, rebalance_id="rb",
                       timeout_seconds=30)
    assert report.results[0].filled_quantity == 0 and report.results[0].status == "unfilled"
    assert [o for o in broker.get_open_orders() if o.client_order_id.startswith("rb:")] == []
