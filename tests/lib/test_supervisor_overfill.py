"""A broker that overfills (reports filled above the order quantity) is
reported as a ``broker_overfill`` block of the original intent (so it is
recorded and alerted), and the excess is never booked on the ticket."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

from lib.brokers.base import BrokerOrderStatus, OrderUpdate
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.instruments import InstrumentRegistry
from lib.policy import ExecutionPolicy
from lib.sim.presets import demo_config
from lib.supervisor import OVERFILL_CONTROL, supervise
from lib.types import OrderIntent, Side

START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


class OverfillingBroker(SimBroker):
    """The simulator, except a FILLED status reports twice the quantity."""

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        out = super().get_order_statuses(client_order_ids)
        return {
            k: dataclasses.replace(u, filled_quantity=2 * u.quantity)
            if u.status is BrokerOrderStatus.FILLED else u
            for k, u in out.items()
        }


def _run(instruments: InstrumentRegistry, broker_cls: type[SimBroker]):  # type: ignore[no-untyped-def]
    clock = VirtualClock(START)
    broker = broker_cls(clock, demo_config(seed=3, symbols=None), instruments)
    cfg = ExecutionConfig()
    policy = ExecutionPolicy(cfg, instruments, clock)
    plan = policy.create_plan(OrderIntent("rb:SPY", "SPY", Side.BUY, 100),
                              broker.get_market_data("SPY"))
    return supervise([plan], transport=broker, clock=clock, config=cfg, rebalance_id="rb",
                     policy=policy, timeout_seconds=600)


def test_overfill_is_a_block_of_the_original_intent(instruments: InstrumentRegistry) -> None:
    report = _run(instruments, OverfillingBroker)
    blocks = [b for b in report.blocks if b.control == OVERFILL_CONTROL]
    assert len(blocks) >= 1
    assert {(b.symbol, b.intent_id) for b in blocks} == {("SPY", "rb:SPY")}
    assert "over the order quantity" in blocks[0].detail
    assert all(t.filled_quantity <= t.quantity for t in report.tickets)
    assert all(sum(f.quantity for f in t.fills) == t.filled_quantity for t in report.tickets)


def test_an_honest_broker_reports_no_overfill(instruments: InstrumentRegistry) -> None:
    report = _run(instruments, SimBroker)
    assert [b for b in report.blocks if b.control == OVERFILL_CONTROL] == []
    assert report.results[0].filled_quantity == 100
