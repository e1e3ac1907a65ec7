from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.brokers.base import BrokerOrderStatus, OrderRequest, OrderUpdate
from lib.brokers.fake import FakeBroker, ScriptedFill
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import BrokerTimeout, RiskBlocked
from lib.orders.events import OrderEventKind
from lib.orders.manager import (
    CLIENT_ORDER_ID_MAX_LEN,
    OrderManager,
    ladder_repricer,
    make_client_order_id,
)
from lib.orders.states import TERMINAL, OrderState, can_transition
from lib.types import Fill, OrderPlan, OrderTicket, OrderType, PolicyMode, Side
from tests.lib.orders.plans import BUY_LADDER, COLLAR, SELL_LADDER, make_plan

S = OrderState


@dataclass
class Recorder:
    fills: list[tuple[str, Fill]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)

    def on_fill(self, ticket: OrderTicket, fill: Fill) -> None:
        self.fills.append((ticket.client_order_id, fill))

    def on_complete(self, ticket: OrderTicket) -> None:
        assert ticket.state in TERMINAL
        self.completed.append(ticket.client_order_id)


@pytest.fixture
def broker(clock: VirtualClock) -> FakeBroker:
    return FakeBroker(clock)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def manager(
    broker: FakeBroker, clock: VirtualClock, exec_config: ExecutionConfig, rec: Recorder
) -> OrderManager:
    return OrderManager(
        broker, clock, exec_config, on_fill=rec.on_fill, on_complete=rec.on_complete
    )


def seconds_since(clock: VirtualClock, start: object) -> float:
    return (clock.now() - start).total_seconds()  # type: ignore[operator]


class TestOrderManagerStateMachine:
    def test_order_submission(
        self, manager: OrderManager, broker: FakeBroker, clock: VirtualClock
    ) -> None:
        t0 = clock.now()
        ticket = manager.submit(make_plan(Side.BUY, 100), "RB:I1:s0:a0")
        assert ticket.state == S.SUBMITTED
        assert ticket.submitted_at == t0 and ticket.messages == 1
        assert ticket.limit_price == 100.02 and ticket.quantity == 100
        req = broker.orders["RB:I1:s0:a0"].request
        assert (req.side, req.quantity, req.order_type, req.limit_price) == (
            Side.BUY,
            100,
            OrderType.LMT,
            100.02,
        )
        assert ticket.broker_order_id == broker.orders["RB:I1:s0:a0"].broker_order_id
        assert [e.kind for e in manager.events] == [
            OrderEventKind.SUBMIT_SENT,
            OrderEventKind.STATE_CHANGED,
        ]

    def test_order_fill_updates_status(
        self, manager: OrderManager, broker: FakeBroker, clock: VirtualClock, rec: Recorder
    ) -> None:
        t0 = clock.now()
        broker.script_fills("O1", ScriptedFill(after_seconds=3, price=100.01))
        ticket = manager.submit(make_plan(Side.BUY, 100), "O1")
        manager.run_until_complete()
        assert ticket.state == S.FILLED
        assert (ticket.filled_quantity, ticket.avg_fill_price, ticket.remaining) == (100, 100.01, 0)
        assert seconds_since(clock, t0) == 3.0  # noticed on the first poll after the fill
        assert ticket.last_update == t0 + timedelta(seconds=3)
        assert [(f.quantity, f.price, f.exec_id) for f in ticket.fills] == [(100, 100.01, "O1#100")]
        assert rec.completed == ["O1"] and ticket.replace_count == 0

    def test_partial_fill_status(
        self, manager: OrderManager, broker: FakeBroker, clock: VirtualClock
    ) -> None:
        broker.script_fills("O1", ScriptedFill(after_seconds=2, quantity=40, price=100.0))
        ticket = manager.submit(make_plan(Side.BUY, 100), "O1")
        clock.advance(1)
        manager.poll()
        assert ticket.state == S.SUBMITTED and ticket.filled_quantity == 0
        clock.advance(1)
        assert manager.poll() == [ticket]
        assert ticket.state == S.PARTIALLY_FILLED
        assert (ticket.filled_quantity, ticket.remaining, ticket.avg_fill_price) == (40, 60, 100.0)
        assert manager.poll() == []  # nothing new: no change reported

    def test_ttl_expiry_cancels_order(
        self, manager: OrderManager, broker: FakeBroker, clock: VirtualClock, rec: Recorder
    ) -> None:
        t0 = clock.now()
        ticket = manager.submit(make_plan(Side.BUY, 100, ttl=120), "O1")
        manager.run_until_complete()
        assert ticket.state == S.EXPIRED
        assert seconds_since(clock, t0) == 120.0
        assert broker.orders["O1"].status is BrokerOrderStatus.CANCELLED
        assert ticket.replace_count == 6 and ticket.messages == 1 + 6 + 1
        assert broker.calls["cancel_order"] == 1
        assert rec.completed == ["O1"]


def test_replace_cadence_and_prices(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    ticket = manager.submit(make_plan(Side.BUY, 100), "O1")
    manager.run_until_complete()
    offsets = [(ts - t0).total_seconds() for _, ts, _ in broker.modifications]
    assert offsets == [15.0, 30.0, 45.0, 60.0, 75.0, 90.0]  # at most 6, then wait for TTL
    prices = [p for _, _, p in broker.modifications]
    assert prices == list(BUY_LADDER)
    assert all(COLLAR[0] <= p <= COLLAR[1] for p in prices)
    assert ticket.limit_price == BUY_LADDER[-1]


def test_sell_ladder_and_fill_after_second_reprice(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    broker.script_fills(
        "O1", ScriptedFill(min_limit=99.96)
    )  # fills once the sell limit is <= 99.96
    ticket = manager.submit(make_plan(Side.SELL, 50), "O1")
    manager.run_until_complete()
    assert ticket.state == S.FILLED and ticket.replace_count == 2
    assert ticket.avg_fill_price == SELL_LADDER[1]
    assert seconds_since(clock, t0) == 30.0


def test_ladder_repricer_clamps_into_collar() -> None:
    plan = make_plan(Side.BUY, ladder=(100.05, 100.20))
    assert ladder_repricer(plan, 1, None) == 100.05
    assert ladder_repricer(plan, 2, None) == COLLAR[1]  # 100.20 clamped
    assert ladder_repricer(plan, 9, None) == COLLAR[1]  # beyond the ladder: last rung
    with pytest.raises(ValueError):
        ladder_repricer(plan, 0, None)


def test_out_of_collar_reprice_raises_and_sends_nothing(
    broker: FakeBroker, clock: VirtualClock, exec_config: ExecutionConfig
) -> None:
    manager = OrderManager(broker, clock, exec_config, repricer=lambda plan, k, snap: 100.50)
    manager.submit(make_plan(Side.BUY), "O1")
    clock.advance(15)
    with pytest.raises(RiskBlocked, match="outside collar"):
        manager.poll()
    assert broker.calls["modify_order"] == 0 and broker.modifications == []


def test_submit_guards(
    manager: OrderManager, broker: FakeBroker, exec_config: ExecutionConfig, clock: VirtualClock
) -> None:
    with pytest.raises(RiskBlocked, match="collar"):
        manager.submit(make_plan(limit=101.0), "O1")
    with pytest.raises(RiskBlocked, match="allow_market_orders"):
        manager.submit(make_plan(mode=PolicyMode.MARKET), "O2")
    manager.submit(make_plan(), "O3")
    with pytest.raises(RiskBlocked, match="duplicate"):
        manager.submit(make_plan(), "O3")
    with pytest.raises(RiskBlocked, match="too long"):
        manager.submit(make_plan(), "x" * 65)
    assert broker.calls["submit_order"] == 1
    permissive = exec_config.model_copy(update={"allow_market_orders": True})
    m2 = OrderManager(broker, clock, permissive)
    t = m2.submit(make_plan(mode=PolicyMode.MARKET), "M1")
    assert broker.orders["M1"].request.order_type is OrderType.MKT and t.limit_price is None


def test_auction_close_goes_out_as_loc_and_is_not_repriced(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    ticket = manager.submit(make_plan(mode=PolicyMode.AUCTION_CLOSE, ttl=600), "C1")
    assert broker.orders["C1"].request.order_type is OrderType.LOC
    clock.advance(100)
    manager.poll()
    assert broker.calls["modify_order"] == 0 and ticket.state == S.SUBMITTED


def test_ttl_expiry_with_partial_fill_keeps_quantity(
    clock: VirtualClock, exec_config: ExecutionConfig, rec: Recorder
) -> None:
    broker = FakeBroker(clock, cancel_delay_seconds=2)
    manager = OrderManager(
        broker, clock, exec_config, on_fill=rec.on_fill, on_complete=rec.on_complete
    )
    broker.script_fills(
        "O1",
        ScriptedFill(after_seconds=5, quantity=30, price=100.02),
        ScriptedFill(
            after_seconds=121, quantity=20, price=100.08
        ),  # lands while the cancel is pending
        ScriptedFill(after_seconds=125, quantity=50, price=100.08),  # after the cancel: never
    )
    t0 = clock.now()
    ticket = manager.submit(make_plan(Side.BUY, 100), "O1")
    states: list[str] = []
    while ticket.state not in TERMINAL:
        clock.advance(1)
        manager.poll()
        states.append(ticket.state)
    assert S.PENDING_CANCEL in states
    assert ticket.state == S.EXPIRED and seconds_since(clock, t0) == 122.0
    assert ticket.filled_quantity == 50 and ticket.remaining == 50
    assert ticket.avg_fill_price == pytest.approx((30 * 100.02 + 20 * 100.08) / 50)
    assert [q for _, f in rec.fills for q in [f.quantity]] == [30, 20]
    assert rec.completed == ["O1"]


def test_transient_errors_retried_then_succeed(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    broker.fail_next("submit_order", times=2, error=BrokerTimeout)
    ticket = manager.submit(make_plan(), "O1")
    assert ticket.state == S.SUBMITTED and ticket.messages == 1
    assert broker.calls["submit_order"] == 3
    assert seconds_since(clock, t0) == 0.5 + 1.0  # exponential backoff on the clock
    errors = [e for e in manager.events if e.kind is OrderEventKind.BROKER_ERROR]
    assert len(errors) == 2 and "BrokerTimeout" in errors[0].detail


def test_retries_exhausted_fail_and_cleanup_cancels_at_broker(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, rec: Recorder
) -> None:
    # the first submit reached the broker, every answer was lost
    broker.fail_next("submit_order", times=4, reached_broker=True)
    ticket = manager.submit(make_plan(), "O1")
    assert ticket.state == S.FAILED and broker.calls["submit_order"] == 4
    assert manager.orphans == ["O1"] and rec.completed == ["O1"]
    assert broker.orders["O1"].status is BrokerOrderStatus.SUBMITTED  # working at the broker!
    clock.advance(1)
    manager.poll()
    assert broker.orders["O1"].status is BrokerOrderStatus.CANCELLED
    assert manager.orphans == [] and ticket.state == S.FAILED


def test_failed_submit_that_never_arrived_needs_no_cleanup(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    broker.fail_next("submit_order", times=4)
    ticket = manager.submit(make_plan(), "O1")
    assert ticket.state == S.FAILED and "O1" not in broker.orders
    manager.run_until_complete()
    assert manager.orphans == []
    assert [e.detail for e in manager.events if e.kind is OrderEventKind.CLEANUP] == [
        "not at the broker: nothing to cancel"
    ]


def test_lost_status_polls_fail_orders_then_cancel_them_when_broker_returns(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    tickets = [manager.submit(make_plan(), f"O{i}") for i in range(3)]
    broker.disconnect()
    for _ in range(3):
        manager.poll()
        assert all(t.state == S.SUBMITTED for t in tickets)
    manager.poll()  # 4th consecutive failure > 3 retries
    assert all(t.state == S.FAILED for t in tickets)
    assert sorted(manager.orphans) == ["O0", "O1", "O2"]
    manager.poll()  # still down: orphans kept
    assert len(manager.orphans) == 3
    broker.reconnect()
    manager.poll()
    assert manager.orphans == [] and broker.get_open_orders() == []


def test_reject_is_not_retried(manager: OrderManager, broker: FakeBroker, rec: Recorder) -> None:
    broker.reject("O1", "price too far through the market")
    ticket = manager.submit(make_plan(), "O1")
    assert ticket.state == S.REJECTED
    assert ticket.reject_reason == "price too far through the market"
    assert broker.calls["submit_order"] == 1 and rec.completed == ["O1"]
    assert manager.orphans == []


def test_refused_replace_keeps_order_working(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    t0 = clock.now()
    broker.reject_modify("O1", "rate limit")
    ticket = manager.submit(make_plan(), "O1")
    clock.advance(15)
    manager.poll()
    assert (
        ticket.state == S.SUBMITTED and ticket.limit_price == 100.02 and ticket.replace_count == 1
    )
    clock.advance(15)
    manager.poll()
    assert ticket.limit_price == BUY_LADDER[1]  # attempt 2 uses rung 2
    assert [(ts - t0).total_seconds() for _, ts, _ in broker.modifications] == [30.0]


def test_too_late_to_cancel_resolves_to_filled(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, rec: Recorder
) -> None:
    broker.fill_before_cancel("O1")
    ticket = manager.submit(make_plan(max_replaces=0), "O1")
    clock.advance(120)
    manager.poll()
    assert ticket.state == S.PENDING_CANCEL  # TooLateToCancel: wait for the broker's word
    clock.advance(1)
    manager.poll()
    assert ticket.state == S.FILLED and ticket.filled_quantity == 100
    assert rec.completed == ["O1"] and len(rec.fills) == 1


def test_too_late_to_modify_resolves_to_filled(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    broker.fill_before_cancel("O1")
    ticket = manager.submit(make_plan(), "O1")
    clock.advance(15)
    manager.poll()
    assert ticket.state == S.PENDING_REPLACE
    manager.run_until_complete()
    assert ticket.state == S.FILLED and ticket.avg_fill_price == 100.02


def test_cancel_all_on_exception_leaves_nothing_working(
    clock: VirtualClock, exec_config: ExecutionConfig
) -> None:
    broker = FakeBroker(clock, cancel_delay_seconds=3)
    with (
        pytest.raises(RuntimeError, match="boom"),
        OrderManager(broker, clock, exec_config) as manager,
    ):
        for i in range(5):
            manager.submit(make_plan(), f"O{i}")
        clock.advance(2)
        manager.poll()
        raise RuntimeError("boom")
    assert broker.get_open_orders() == []
    assert {t.state for t in manager.tickets} == {S.CANCELLED}
    with pytest.raises(RiskBlocked, match="shut down"):
        manager.submit(make_plan(), "late")


def test_callbacks_fire_once_per_fill_and_once_per_completion(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock, rec: Recorder
) -> None:
    broker.script_fills(
        "O1",
        ScriptedFill(after_seconds=2, quantity=30, price=100.00),
        ScriptedFill(after_seconds=4, quantity=30, price=100.01),
        ScriptedFill(after_seconds=6, quantity=40, price=100.02),
    )
    broker.script_fills("O2", ScriptedFill(after_seconds=1, price=99.99))
    t1 = manager.submit(make_plan(), "O1")
    manager.submit(make_plan(Side.SELL, limit=99.98), "O2")
    manager.run_until_complete()
    for _ in range(5):  # polling after completion changes nothing
        clock.advance(1)
        manager.poll()
    assert [(c, f.quantity) for c, f in rec.fills] == [
        ("O2", 100),
        ("O1", 30),
        ("O1", 30),
        ("O1", 40),
    ]
    assert sorted(rec.completed) == ["O1", "O2"]
    assert t1.avg_fill_price == pytest.approx((30 * 100.00 + 30 * 100.01 + 40 * 100.02) / 100)
    assert [f.exec_id for f in t1.fills] == ["O1#30", "O1#60", "O1#100"]


def test_one_batch_status_call_per_poll(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    for i in range(50):
        manager.submit(make_plan(), f"O{i}")
    for n in range(1, 6):
        clock.advance(1)
        manager.poll()
        assert broker.calls["get_order_statuses"] == n
    assert broker.calls["get_order_status"] == 0 and broker.calls["modify_order"] == 0


def test_run_until_complete_timeout_cancels_everything(
    manager: OrderManager, broker: FakeBroker, clock: VirtualClock
) -> None:
    ticket = manager.submit(make_plan(ttl=600, interval=15, max_replaces=0), "O1")
    manager.run_until_complete(timeout_seconds=30)
    assert ticket.state == S.CANCELLED and broker.get_open_orders() == []


def test_events_follow_the_table(manager: OrderManager, broker: FakeBroker) -> None:
    broker.script_fills("O1", ScriptedFill(after_seconds=20, quantity=10))
    manager.submit(make_plan(), "O1")
    manager.run_until_complete()
    changes = [e for e in manager.events if e.kind is OrderEventKind.STATE_CHANGED]
    assert all(e.previous is not None and e.state is not None for e in changes)
    assert all(can_transition(e.previous, e.state) for e in changes)  # type: ignore[arg-type]
    assert changes[-1].state is S.EXPIRED


# ---------------------------------------------------------------- property test
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fills=st.lists(
        st.tuples(
            st.integers(0, 130), st.integers(1, 60), st.sampled_from([100.02, 100.05, 100.08])
        ),
        max_size=6,
    ),
    side=st.sampled_from(list(Side)),
)
def test_any_fill_script_ends_consistent(
    fills: list[tuple[int, int, float]],
    side: Side,
    exec_config: ExecutionConfig,
    clock: VirtualClock,
) -> None:
    broker = FakeBroker(clock)
    manager = OrderManager(broker, clock, exec_config)
    broker.script_fills(
        "O1", *(ScriptedFill(after_seconds=t, quantity=q, price=p) for t, q, p in fills)
    )
    ticket = manager.submit(make_plan(side, 100), "O1")
    manager.run_until_complete()
    assert ticket.state in {S.FILLED, S.EXPIRED}
    assert (
        ticket.filled_quantity
        == sum(f.quantity for f in ticket.fills)
        == broker.orders["O1"].filled_quantity
    )
    if ticket.filled_quantity:
        vwap = sum(f.quantity * f.price for f in ticket.fills) / ticket.filled_quantity
        assert vwap == pytest.approx(ticket.avg_fill_price)
    assert all(COLLAR[0] <= p <= COLLAR[1] for _, _, p in broker.modifications)
    assert len(broker.modifications) <= 6
    assert broker.get_open_orders() == []


# ---------------------------------------------------------------- client order ids
def test_make_client_order_id_format_and_limit() -> None:
    assert (
        make_client_order_id("main-2026-11-24-open", "SPY-BUY", 3, 1)
        == "main-2026-11-24-open:SPY-BUY:s3:a1"
    )
    long_id = make_client_order_id("main-2026-11-24-open", "x" * 80, 12, 2)
    assert len(long_id) == CLIENT_ORDER_ID_MAX_LEN
    assert long_id.startswith("main-2026-11-24-open:xxx") and long_id.endswith(":s12:a2")
    assert long_id == make_client_order_id("main-2026-11-24-open", "x" * 80, 12, 2)
    assert long_id != make_client_order_id("main-2026-11-24-open", "x" * 81, 12, 2)
    for bad in (("a:b", "I"), ("RB", "I:1"), ("", "I")):
        with pytest.raises(ValueError):
            make_client_order_id(*bad)
    with pytest.raises(ValueError):
        make_client_order_id("RB", "I", -1)


@given(
    rb=st.text(
        st.characters(blacklist_characters=":", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=70,
    ),
    intent=st.text(
        st.characters(blacklist_characters=":", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=70,
    ),
    idx=st.integers(0, 999),
    attempt=st.integers(0, 9),
)
def test_client_order_ids_short_and_distinct(rb: str, intent: str, idx: int, attempt: int) -> None:
    a = make_client_order_id(rb, intent, idx, attempt)
    assert len(a) <= CLIENT_ORDER_ID_MAX_LEN and a.endswith(f":s{idx}:a{attempt}")
    assert a != make_client_order_id(rb, intent, idx, attempt + 1)
    assert a != make_client_order_id(rb, intent + "z", idx, attempt)


# ---------------------------------------------------------------- efficiency
class StaticTransport(FakeBroker):
    """Answers every batch poll from a prebuilt dict: measures the manager alone."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self.static: dict[str, OrderUpdate] = {}

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        upd = OrderUpdate(
            request.client_order_id,
            "B",
            BrokerOrderStatus.SUBMITTED,
            request.quantity,
            0,
            0.0,
            request.limit_price,
            self._clock.now(),
        )
        self.static[request.client_order_id] = upd
        return upd

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        self.calls["get_order_statuses"] += 1
        return self.static


def test_poll_of_1000_live_orders_is_one_batch_call(
    clock: VirtualClock, exec_config: ExecutionConfig
) -> None:
    # The cost of a poll is measured in bench/lifecycle_scale.py, never here:
    # a busy CI machine must not fail a test. What a test can pin is the shape
    # of the work: one batch status round trip per poll, whatever the order count.
    transport = StaticTransport(clock)
    manager = OrderManager(transport, clock, exec_config)
    plan: OrderPlan = make_plan(ttl=10_000, max_replaces=0)
    for i in range(1000):
        manager.submit(plan, f"O{i}")
    for _ in range(20):
        clock.advance(1)
        manager.poll()
    assert transport.calls["get_order_statuses"] == 20
    assert len(manager.live_tickets) == 1000
