"""Queue model and trade-through on synthetic steps (no randomness involved)."""

from __future__ import annotations

import pytest

from lib.brokers.base import BrokerOrderStatus
from lib.instruments import InstrumentRegistry
from lib.sim.config import SimConfig
from lib.sim.flow import ExoTrade
from lib.sim.market import InstrumentMarket, Quote, StepResult
from lib.sim.matching import RestingBook, SimOrder, match_arrival, match_step
from lib.types import OrderType, Side

BID, ASK = 59_000, 59_001  # SPY 590.00 / 590.01 in ticks


def _quote(bid: int = BID, ask: int = ASK, size: int = 1000) -> Quote:
    return Quote(1, bid, ask, (size,) * 5, (size,) * 5)


def _order(coid: str, side: Side, qty: int, ticks: int) -> SimOrder:
    return SimOrder(
        client_order_id=coid, broker_order_id=coid, symbol="SPY", side=side, quantity=qty,
        order_type=OrderType.LMT, limit_price=ticks / 100, limit_ticks=ticks,
        status=BrokerOrderStatus.SUBMITTED, created_s=0.0, updated_s=0.0,
    )  # fmt: skip


class Sink:
    def __init__(self) -> None:
        self.fills: list[tuple[str, int, int, str]] = []

    def __call__(self, o: SimOrder, n: int, ticks: int, liq: str) -> None:
        o.filled += n
        self.fills.append((o.client_order_id, n, ticks, liq))


@pytest.fixture
def setup(instruments: InstrumentRegistry) -> tuple[InstrumentMarket, RestingBook, Sink]:
    m = InstrumentMarket(instruments["SPY"], SimConfig(seed=0, queue_cancel_rate_per_s=0.0))
    m.quote = _quote()
    return m, RestingBook(), Sink()


def _sell(size: int, *prints: tuple[int, int]) -> ExoTrade:
    return ExoTrade(-1, size, tuple(prints))


def test_passive_order_waits_for_queue_ahead(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 300, BID)
    match_arrival(o, m, book, sink, None)
    assert sink.fills == [] and book.queue_ahead(o) == 1000  # queue = displayed bid size
    match_step(StepResult(_quote(), (_sell(600, (BID, 600)),), 0.0), m, book, sink, None)
    assert sink.fills == [] and book.queue_ahead(o) == 400
    match_step(StepResult(_quote(), (_sell(500, (BID, 500)),), 0.0), m, book, sink, None)
    assert sink.fills == [("b1", 100, BID, "add")]  # 400 ahead, 100 left for us
    assert book.queue_ahead(o) == 0
    match_step(StepResult(_quote(), (_sell(50, (BID, 50)),), 0.0), m, book, sink, None)
    assert sink.fills[-1] == ("b1", 50, BID, "add") and o.remaining == 150


def test_buy_trades_do_not_touch_resting_buys(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 300, BID)
    match_arrival(o, m, book, sink, None)
    match_step(StepResult(_quote(), (ExoTrade(1, 5000, ((ASK, 5000),)),), 0.0), m, book, sink, None)
    assert sink.fills == [] and book.queue_ahead(o) == 1000


def test_improving_order_has_no_queue(instruments: InstrumentRegistry, setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    m.quote = _quote(BID, BID + 3)
    o = _order("b1", Side.BUY, 300, BID + 1)
    match_arrival(o, m, book, sink, None)
    assert book.queue_ahead(o) == 0
    match_step(StepResult(_quote(BID, BID + 3), (_sell(120, (BID, 120)),), 0.0), m, book, sink, None)
    assert sink.fills == [("b1", 120, BID + 1, "add")]


def test_quote_trade_through_fills_at_our_limit(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 300, BID)
    s = _order("s1", Side.SELL, 200, ASK + 5)
    match_arrival(o, m, book, sink, None)
    match_arrival(s, m, book, sink, None)
    # the market drops 3 ticks: the new ask is below our bid -> filled at our limit
    match_step(StepResult(_quote(BID - 4, BID - 3), (), 0.0), m, book, sink, None)
    assert sink.fills == [("b1", 300, BID, "add")]
    assert len(book) == 1  # the sell is still resting far above
    match_step(StepResult(_quote(ASK + 6, ASK + 7), (), 0.0), m, book, sink, None)
    assert sink.fills[-1] == ("s1", 200, ASK + 5, "add")


def test_sweep_through_our_level_fills_us(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 300, BID - 1)
    match_arrival(o, m, book, sink, None)
    assert book.queue_ahead(o) == 1000
    sweep = _sell(2500, (BID, 1000), (BID - 1, 1000), (BID - 2, 500))
    match_step(StepResult(_quote(), (sweep,), 0.0), m, book, sink, None)
    assert sink.fills == [("b1", 300, BID - 1, "add")]


def test_cancels_advance_the_queue(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 300, BID)
    match_arrival(o, m, book, sink, None)
    import math

    match_step(StepResult(_quote(), (), math.log(0.5)), m, book, sink, None)
    assert book.queue_ahead(o) == pytest.approx(500)


def test_forced_partial_fill_cap(setup: tuple[InstrumentMarket, RestingBook, Sink]) -> None:
    m, book, sink = setup
    o = _order("b1", Side.BUY, 25, ASK)  # marketable
    match_arrival(o, m, book, sink, 10)
    assert sink.fills == [("b1", 10, ASK, "remove")] and o.taker_pending
    match_step(StepResult(_quote(), (), 0.0), m, book, sink, 10)
    match_step(StepResult(_quote(), (), 0.0), m, book, sink, 10)
    assert [f[1] for f in sink.fills] == [10, 10, 5] and o.remaining == 0
