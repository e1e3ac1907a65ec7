from __future__ import annotations

import math

import pytest

from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import BrokerError, RiskBlocked
from lib.instruments import InstrumentRegistry
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.parent import MAX_IDLE_COMPLETIONS, SliceExecutor, run_parents
from lib.orders.states import OrderState
from lib.types import MarketDataSnapshot, OrderType, PolicyMode, Side, SliceSchedule
from tests.lib.orders.plans import COLLAR, make_plan

S = OrderState


def cid(i: int, intent: str = "I1") -> str:
    return make_client_order_id("RB1", intent, i, 0)


def twap(qty: tuple[int, ...], interval: float = 20.0) -> SliceSchedule:
    return SliceSchedule("TWAP", qty, interval, 0.1)


@pytest.fixture
def broker(clock: VirtualClock) -> FakeBroker:
    return FakeBroker(clock)


@pytest.fixture
def manager(broker: FakeBroker, clock: VirtualClock, exec_config: ExecutionConfig) -> OrderManager:
    return OrderManager(broker, clock, exec_config)


def test_children_released_on_schedule_with_rollover(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    plan = make_plan(Side.BUY, 400, slices=twap((100, 100, 100, 100)))
    broker.script_fills(cid(0), ScriptedFill(after_seconds=1, price=100.01))
    broker.script_fills(cid(1), ScriptedFill(after_seconds=1, quantity=60, price=100.02))  # 40 left
    broker.script_fills(cid(2), ScriptedFill(after_seconds=2, price=100.03))
    broker.script_fills(cid(3), ScriptedFill(after_seconds=2, price=100.04))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1")
    parent.run()
    assert parent.done
    released = [(broker.orders[cid(i)].submitted_at - t0).total_seconds() for i in range(4)]
    assert released == [0.0, 20.0, 40.0, 60.0]
    assert [c.quantity for c in parent.children] == [100, 100, 140, 100]
    assert [c.state for c in parent.children] == [S.FILLED, S.EXPIRED, S.FILLED, S.FILLED]
    assert parent.children[1].plan.ttl_seconds == 20.0  # a non-final child lives one interval
    assert parent.children[3].plan.ttl_seconds == 120.0
    assert {c.parent_id for c in parent.children} == {"I1"}
    assert parent.filled_quantity == 400 and parent.unfilled_quantity == 0
    expected = (100 * 100.01 + 60 * 100.02 + 140 * 100.03 + 100 * 100.04) / 400
    assert parent.avg_fill_price == pytest.approx(expected)


def test_rollover_is_capped_and_the_rest_goes_to_completion_children(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    # Behaviour change (issue 10): what the capped roll-over cannot absorb is no
    # longer left undone; completion children for all of it go out at the
    # collar's aggressive edge once the schedule is over, until MAX_IDLE_COMPLETIONS
    # of them in a row filled nothing.
    plan = make_plan(Side.SELL, 300, slices=twap((100, 100, 100)))
    broker.script_fills(cid(0), ScriptedFill(after_seconds=1, price=99.99))
    # child 1 never fills; children 2 fills fully whatever its size; the completion children never fill here
    broker.script_fills(cid(2), ScriptedFill(after_seconds=1, price=99.98))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1", max_child_multiple=1.5)
    parent.run()
    assert [c.quantity for c in parent.children] == [100, 100, 150] + [50] * MAX_IDLE_COMPLETIONS
    done = parent.children[3]
    assert done.plan.limit_price == plan.collar_low and done.plan.reprice_ladder == ()
    assert done.plan.ttl_seconds == 30.0 and done.client_order_id == cid(3)
    assert parent.children[4].client_order_id == cid(4)
    # the second empty completion child waited one interval after the first ended
    gap = (parent.children[4].submitted_at - parent.children[3].last_update).total_seconds()  # type: ignore[operator]
    assert gap >= plan.slices.interval_seconds  # type: ignore[union-attr]
    assert parent.filled_quantity == 250 and parent.unfilled_quantity == 50 and parent.done
    # never more working than the parent's quantity: each completion child is what is left
    assert all(c.quantity <= 300 - parent.filled_quantity for c in parent.children[3:])


def test_no_completion_child_after_cancel(manager: OrderManager, broker: FakeBroker, clock: VirtualClock) -> None:
    plan = make_plan(Side.BUY, 200, slices=twap((100, 100), interval=10))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1")
    parent.start()
    parent.cancel()
    manager.run_until_complete(timeout_seconds=5.0)
    parent.step()
    assert len(parent.children) == 1 and parent.done


def test_failed_child_quantity_is_not_rolled(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    plan = make_plan(Side.BUY, 200, slices=twap((100, 100), interval=10))
    broker.script_fills(cid(0), ScriptedFill(after_seconds=1, price=100.02))
    broker.script_fills(cid(1), ScriptedFill(after_seconds=1, price=100.02))
    broker.fail_next("submit_order", times=4)  # child 0 submit fails for good
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1")
    parent.run()
    assert [c.state for c in parent.children] == [S.FAILED, S.FILLED]
    assert [c.quantity for c in parent.children] == [100, 100]
    assert parent.filled_quantity == 100


def test_auction_close_is_one_loc_child(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    plan = make_plan(Side.BUY, 500, mode=PolicyMode.AUCTION_CLOSE, ttl=300, slices=twap((250, 250)))
    broker.script_fills(cid(0), ScriptedFill(after_seconds=200, price=100.0))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1")
    parent.run()
    assert len(parent.children) == 1
    child = parent.children[0]
    assert broker.orders[child.client_order_id].request.order_type is OrderType.LOC
    assert child.quantity == 500 and parent.filled_quantity == 500


def test_child_limits_from_fresh_snapshot_inside_parent_collar(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, instruments: InstrumentRegistry
) -> None:
    quotes = iter(
        [
            MarketDataSnapshot("SPY", bid=100.03, ask=100.046),  # rounds to 100.05
            MarketDataSnapshot("SPY", bid=100.40, ask=100.50),  # beyond the collar: clamped
            MarketDataSnapshot("SPY", bid=math.nan, ask=100.0),  # bad quote: plan limit
        ]
    )
    plan = make_plan(Side.BUY, 300, slices=twap((100, 100, 100)), max_replaces=0)
    for i in range(3):
        broker.script_fills(cid(i), ScriptedFill(after_seconds=1))
    parent = SliceExecutor(
        manager,
        clock,
        plan,
        rebalance_id="RB1",
        market_data=lambda s: next(quotes),
        instrument=instruments["SPY"],
    )
    parent.run()
    limits = [broker.orders[cid(i)].request.limit_price for i in range(3)]
    assert limits == [100.05, COLLAR[1], 100.02]
    assert all(COLLAR[0] <= p <= COLLAR[1] for p in limits if p is not None)
    # the child keeps only rungs more aggressive than its own limit ...
    assert parent.children[0].plan.reprice_ladder == (100.06, 100.07, 100.08)
    # ... and no more replace attempts than it has rungs (a repricer indexes them)
    assert parent.children[0].plan.max_replace_attempts == 0  # the plan allowed 0


def test_child_replace_attempts_never_exceed_its_ladder(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, instruments: InstrumentRegistry
) -> None:
    plan = make_plan(Side.BUY, 200, slices=twap((100, 100), interval=200.0))
    feed = lambda s: MarketDataSnapshot("SPY", bid=100.03, ask=100.05)  # noqa: E731
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1", market_data=feed,
                           instrument=instruments["SPY"])
    parent.run()
    child = parent.children[0].plan
    assert child.reprice_ladder == (100.06, 100.07, 100.08)
    assert child.max_replace_attempts == 3 and parent.children[0].replace_count == 3


def test_passive_first_children_rest_at_the_near_touch(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, instruments: InstrumentRegistry
) -> None:
    plan = make_plan(Side.BUY, 200, slices=twap((100, 100)), mode=PolicyMode.PASSIVE_FIRST)
    feed = lambda s: MarketDataSnapshot("SPY", bid=99.99, ask=100.01)  # noqa: E731
    for i in range(2):
        broker.script_fills(cid(i), ScriptedFill(after_seconds=1))
    SliceExecutor(manager, clock, plan, rebalance_id="RB1", market_data=feed,
                  instrument=instruments["SPY"]).run()
    assert [broker.orders[cid(i)].request.limit_price for i in range(2)] == [99.99, 99.99]


def test_a_single_order_keeps_the_plan_limit(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    plan = make_plan(Side.BUY, 100, mode=PolicyMode.PASSIVE_FIRST, limit=99.99)
    feed = lambda s: MarketDataSnapshot("SPY", bid=99.99, ask=100.01)  # noqa: E731
    SliceExecutor(manager, clock, plan, rebalance_id="RB1", market_data=feed).start()
    assert broker.orders[cid(0)].request.limit_price == 99.99


def test_market_data_error_falls_back_to_plan_limit(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    def feed(symbol: str) -> MarketDataSnapshot:
        raise BrokerError("no quote")

    plan = make_plan(Side.SELL, 100, slices=twap((100,)))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1", market_data=feed)
    parent.start()
    assert broker.orders[cid(0)].request.limit_price == 99.98


def test_several_parents_share_one_manager(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    a = SliceExecutor(
        manager,
        clock,
        make_plan(Side.BUY, 200, intent_id="A", slices=twap((100, 100))),
        rebalance_id="RB1",
    )
    b = SliceExecutor(
        manager,
        clock,
        make_plan(Side.SELL, 90, intent_id="B", slices=twap((30, 30, 30), 5)),
        rebalance_id="RB1",
    )
    for i in range(2):
        broker.script_fills(cid(i, "A"), ScriptedFill(after_seconds=3))
    for i in range(3):
        broker.script_fills(cid(i, "B"), ScriptedFill(after_seconds=1))
    run_parents(manager, clock, [a, b])
    assert (a.filled_quantity, b.filled_quantity) == (200, 90)
    assert len(manager.tickets) == 5 and manager.live_tickets == []


def test_timeout_stops_releases_and_cancels(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    plan = make_plan(Side.BUY, 400, slices=twap((100, 100, 100, 100)))
    parent = SliceExecutor(manager, clock, plan, rebalance_id="RB1")
    run_parents(manager, clock, [parent], timeout_seconds=25)
    assert len(parent.children) == 2 and parent.done
    assert broker.get_open_orders() == []


def test_bad_schedule_is_blocked(manager: OrderManager, clock: VirtualClock) -> None:
    with pytest.raises(RiskBlocked, match="do not sum"):
        SliceExecutor(
            manager, clock, make_plan(Side.BUY, 300, slices=twap((100, 100))), rebalance_id="RB1"
        )
