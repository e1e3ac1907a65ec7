"""Simulator fidelity rules the benchmark relies on (issue 10): one exogenous
sweep fills a resting order for at most what it printed at or through that
price; the closing auction prints and LOC orders meet it."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lib.brokers.base import BrokerOrderStatus, OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry, load_instruments
from lib.sim.config import SimConfig
from lib.sim.flow import ExoTrade
from lib.sim.market import InstrumentMarket, Quote, StepResult
from lib.sim.matching import RestingBook, SimOrder, match_step
from lib.sim.presets import bench_config
from lib.types import OrderType, Side

BID, ASK = 59_000, 59_001
_REG = load_instruments()


def _quote() -> Quote:
    return Quote(1, BID, ASK, (1000,) * 5, (1000,) * 5)


def _buy(qty: int, ticks: int) -> SimOrder:
    return SimOrder(
        client_order_id="b", broker_order_id="b", symbol="SPY", side=Side.BUY, quantity=qty,
        order_type=OrderType.LMT, limit_price=ticks / 100, limit_ticks=ticks,
        status=BrokerOrderStatus.SUBMITTED, created_s=0.0, updated_s=0.0,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    depth=st.integers(1, 4),  # our level, ticks below the touch
    qty=st.integers(1, 200_000),
    prints=st.lists(st.integers(1, 5000), min_size=1, max_size=8),
)
def test_one_sweep_fills_at_most_what_traded_through_our_price(depth: int, qty: int, prints: list[int]) -> None:
    m = InstrumentMarket(_REG["SPY"], SimConfig(seed=0, queue_cancel_rate_per_s=0.0))
    m.quote = _quote()
    book = RestingBook()
    o = _buy(qty, BID - depth)
    book.add(o)
    book.set_queue(o, 0.0)
    fills: list[int] = []

    def sink(order: SimOrder, n: int, ticks: int, liq: str) -> None:
        order.filled += n
        fills.append(n)

    levels = tuple((BID - i, n) for i, n in enumerate(prints))  # the seller walks the bids down
    trade = ExoTrade(-1, sum(prints), levels)
    match_step(StepResult(_quote(), (trade,), 0.0), m, book, sink, None)
    through = sum(n for px, n in levels if px <= BID - depth)
    assert sum(fills) <= min(qty, through)
    if levels[-1][0] < BID - depth:  # the sweep went past our price: we trade first, up to that volume
        assert sum(fills) == min(qty, through)


def test_closing_auction_prints_and_loc_orders_meet_it(instruments: InstrumentRegistry) -> None:
    clock = VirtualClock(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))
    broker = SimBroker(clock, bench_config(3, symbols=("SPY",), session_offset_s=0.0), instruments)
    session = instruments["SPY"].session_seconds
    clock.advance(session - 300)
    mid = broker.sim.mid("SPY")
    broker.submit_order(OrderRequest("loc-in", "SPY", Side.BUY, 500, OrderType.LOC, round(mid * 1.01, 2)))
    broker.submit_order(OrderRequest("loc-out", "SPY", Side.BUY, 500, OrderType.LOC, round(mid * 0.95, 2)))
    broker.submit_order(OrderRequest("moc", "SPY", Side.SELL, 200, OrderType.MOC, None))
    clock.advance(200)  # still before the close: nothing prints
    assert "SPY" not in broker.sim.closing_prints and not broker.fills
    clock.advance(101)
    px = broker.sim.closing_prints["SPY"]
    by = {f.client_order_id: f for f in broker.fills}
    assert set(by) == {"loc-in", "moc"}
    assert by["loc-in"].price == px and by["moc"].price == px and by["loc-in"].quantity == 500
    assert broker.sim.orders["loc-out"].status is BrokerOrderStatus.CANCELLED
    # after the print, a new auction order meets no auction
    broker.submit_order(OrderRequest("late", "SPY", Side.BUY, 1, OrderType.MOC, None))
    clock.advance(2)
    assert broker.sim.orders["late"].status is BrokerOrderStatus.CANCELLED
    assert broker.sim.orders["late"].reason == "closing auction already printed"
