"""Generated broker messages fed to the OrderManager (issue 7), >= 1,000 cases:
statuses out of order, fills after a cancel, overfills, filled quantities that
go back, absurd fill prices, updates for order ids never sent, orders missing
from a poll, refused cancels and replaces.

Each case ends in a typed error (an ExecutionError) or a safe state: the
ticket's fills add up to its filled quantity, every fill is positive and has
a unique exec id, a terminal ticket stays terminal and stops growing, and an
update for an unknown id changes nothing. A report breaking an invariant
(overfill, absurd price) is recorded as a BrokerProtocolError (tests below).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.brokers.base import BrokerOrderStatus, OrderRequest, OrderUpdate
from lib.clock import VirtualClock
from lib.config import ExecutionConfig
from lib.errors import ExecutionError, TooLateToCancel, UnknownOrder
from lib.orders.manager import OrderManager
from lib.orders.states import TERMINAL
from lib.types import Fill, MarketDataSnapshot, OrderTicket
from tests.lib.orders.plans import make_plan

pytestmark = pytest.mark.fuzz

T0 = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
QTY = 100
COID = "fz:I1:s0:a0"


@dataclass(frozen=True)
class Msg:
    """One status message: for our order or an id we never sent."""

    to_unknown: bool
    status: BrokerOrderStatus
    filled: int
    avg_price: float
    limit: float | None


@dataclass(frozen=True)
class Step:
    """What the broker answers during one poll cycle."""

    messages: tuple[Msg, ...]
    omit_ours: bool = False
    cancel: str = "ok"  # ok | too_late | unknown
    modify: str = "ok"  # ok | too_late | unknown


@dataclass
class HostileBroker:
    """A BrokerTransport that answers each poll from a script, however
    inconsistent. Records what was sent."""

    clock: VirtualClock
    steps: list[Step]
    sent: list[OrderRequest] = field(default_factory=list)
    last: dict[str, OrderUpdate] = field(default_factory=dict)
    step_no: int = 0

    def _step(self) -> Step:
        return self.steps[min(self.step_no, len(self.steps) - 1)]

    def _update(self, coid: str, status: BrokerOrderStatus, filled: int, avg: float,
                limit: float | None) -> OrderUpdate:
        return OrderUpdate(coid, "B1", status, QTY, filled, avg, limit, self.clock.now())

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        self.sent.append(request)
        up = self._update(request.client_order_id, BrokerOrderStatus.SUBMITTED, 0, 0.0,
                          request.limit_price)
        self.last[request.client_order_id] = up
        return up

    def _command(self, coid: str, how: str, status: BrokerOrderStatus,
                 limit: float | None) -> OrderUpdate:
        if how == "too_late":
            raise TooLateToCancel(coid)
        if how == "unknown":
            raise UnknownOrder(coid)
        prev = self.last.get(coid) or self._update(coid, status, 0, 0.0, limit)
        up = self._update(coid, status, prev.filled_quantity, prev.avg_fill_price,
                          limit if limit is not None else prev.limit_price)
        self.last[coid] = up
        return up

    def cancel_order(self, client_order_id: str) -> OrderUpdate:
        return self._command(client_order_id, self._step().cancel, BrokerOrderStatus.CANCELLED,
                             None)

    def modify_order(self, client_order_id: str, limit_price: float,
                     quantity: int | None = None) -> OrderUpdate:
        return self._command(client_order_id, self._step().modify, BrokerOrderStatus.SUBMITTED,
                             limit_price)

    def get_order_status(self, client_order_id: str) -> OrderUpdate:
        if client_order_id not in self.last:
            raise UnknownOrder(client_order_id)
        return self.last[client_order_id]

    def get_order_statuses(self, client_order_ids: Iterable[str]) -> dict[str, OrderUpdate]:
        step = self._step()
        self.step_no += 1
        out: dict[str, OrderUpdate] = {}
        for coid in client_order_ids:
            for m in step.messages:
                target = "zz:unknown:s0:a0" if m.to_unknown else coid
                out[target] = self._update(target, m.status, m.filled, m.avg_price, m.limit)
            if step.omit_ours:
                out.pop(coid, None)
        for coid, up in out.items():
            self.last[coid] = up
        return out

    def get_market_data(self, symbol: str) -> MarketDataSnapshot:
        return MarketDataSnapshot(symbol, 99.99, 100.01, ts=self.clock.now())

    def get_positions(self) -> dict[str, int]:
        return {}

    def get_account_nav(self) -> float:
        return 1e7

    def get_open_orders(self) -> list[OrderUpdate]:
        return [u for u in self.last.values() if not u.is_terminal]

    def get_executions(self, client_order_id_prefix: str = "") -> list[Fill]:
        return []


PRICES = st.one_of(
    st.floats(99.0, 101.0), st.sampled_from([0.0, -1.0, math.nan, math.inf, 1e300, 100.0]),
)


@st.composite
def messages(draw: st.DrawFn, *, sane: bool) -> Msg:
    filled = draw(st.one_of(st.integers(0, QTY), st.integers(0, QTY * 3)) if not sane
                  else st.integers(0, QTY))
    return Msg(
        to_unknown=draw(st.booleans()) and draw(st.booleans()),
        status=draw(st.sampled_from(list(BrokerOrderStatus))),
        filled=filled,
        avg_price=draw(PRICES) if not sane else draw(st.floats(99.0, 101.0)),
        limit=draw(st.one_of(st.none(), st.floats(99.0, 101.0))),
    )


@st.composite
def scripts(draw: st.DrawFn, *, sane: bool = False) -> list[Step]:
    return [
        Step(
            messages=tuple(draw(st.lists(messages(sane=sane), min_size=0, max_size=2))),
            omit_ours=draw(st.integers(0, 9)) == 0,
            cancel=draw(st.sampled_from(["ok", "ok", "too_late", "unknown"])),
            modify=draw(st.sampled_from(["ok", "ok", "too_late", "unknown"])),
        )
        for _ in range(draw(st.integers(1, 12)))
    ]


def _run(steps: list[Step]) -> tuple[OrderManager, HostileBroker, list[tuple[str, Fill]], str]:
    clock = VirtualClock(T0)
    broker = HostileBroker(clock, steps)
    fills: list[tuple[str, Fill]] = []
    manager = OrderManager(broker, clock, ExecutionConfig(), poll_interval_seconds=5.0,
                           on_fill=lambda t, f: fills.append((t.client_order_id, f)))
    outcome = "safe"
    try:
        manager.submit(make_plan(quantity=QTY, ttl=60.0, interval=15.0), COID)
        terminal_fills: int | None = None
        for _ in range(len(steps) + 2):
            clock.advance(5.0)
            manager.poll()
            t = manager.ticket(COID)
            if terminal_fills is not None:  # terminal stays terminal and stops growing
                assert t.state in TERMINAL and t.filled_quantity == terminal_fills
            elif t.state in TERMINAL:
                terminal_fills = t.filled_quantity
        manager.cancel_all()
    except ExecutionError as exc:  # a typed error is an acceptable end
        outcome = type(exc).__name__
    return manager, broker, fills, outcome


def _assert_safe(manager: OrderManager, fills: list[tuple[str, Fill]]) -> OrderTicket:
    t = manager.ticket(COID)
    assert sum(f.quantity for f in t.fills) == t.filled_quantity
    assert all(f.quantity > 0 for f in t.fills)
    assert len({f.exec_id for f in t.fills}) == len(t.fills)
    assert [f for _, f in fills] == list(t.fills)  # on_fill once per fill
    assert all(coid == COID for coid, _ in fills)  # nothing for an id we never sent
    assert "zz:unknown:s0:a0" not in {x.client_order_id for x in manager.tickets}
    return t


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=scripts())
def test_fuzz_broker_messages_end_typed_or_safe(steps: list[Step]) -> None:
    manager, broker, fills, _ = _run(steps)
    _assert_safe(manager, fills)
    assert len(broker.sent) == 1  # one order, however chaotic the replies


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=scripts(sane=True))
def test_fuzz_sane_quantities_never_overfill_and_prices_stay_finite(steps: list[Step]) -> None:
    manager, _, fills, _ = _run(steps)
    t = _assert_safe(manager, fills)
    assert t.filled_quantity <= t.quantity
    assert all(math.isfinite(f.price) and f.price > 0 for f in t.fills)


# ------------------------------------------------ broker reports breaking an invariant


def _one_message(msg: Msg) -> list[Step]:
    return [Step(messages=(msg,))]


def test_overfill_is_refused_or_flagged() -> None:
    manager, _, _, outcome = _run(_one_message(
        Msg(False, BrokerOrderStatus.FILLED, QTY * 5 // 2, 100.0, 100.02)))
    t = manager.ticket(COID)
    assert outcome != "safe" or t.filled_quantity <= t.quantity
    assert [e.rule for e in manager.protocol_errors] == ["overfill"]


@pytest.mark.parametrize("price", [math.nan, -1.0])
def test_absurd_fill_price_is_refused(price: float) -> None:
    manager, _, fills, outcome = _run(_one_message(
        Msg(False, BrokerOrderStatus.PARTIALLY_FILLED, 10, price, 100.02)))
    assert outcome != "safe" or all(math.isfinite(f.price) and f.price > 0 for _, f in fills)
    assert [e.rule for e in manager.protocol_errors] == ["fill_price"]
