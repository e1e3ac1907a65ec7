"""Matching of OUR orders against the simulated market.

* Marketable (on arrival, after latency): walk the displayed book up to the
  limit (``InstrumentMarket.take``); the rest rests at the limit.
* Passive: queue ahead = displayed size at our price on arrival (0 if the
  order improves the touch). The queue shrinks on exogenous trades printed at
  our price and by the per-second cancel share (applied lazily through a
  cumulative log factor, so a step costs O(orders at the touched levels)).
* Trade-through: when the exogenous quote moves strictly through our limit,
  or an exogenous market order sweeps past our price, we are filled at our
  limit -- the adverse selection that a naive simulator misses -- for at most
  the displayed size of the new touch (quote) per second, or (sweep) what that
  exogenous order printed at our price or through it (its volume at prices at
  least as bad for it as ours), never its whole size; a quote equal to our
  limit is a locked market, not a fill.

Resting orders are indexed by (side, price in ticks) with a sorted key list
per side, so each step only visits the levels the market actually reached.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from lib.brokers.base import BrokerOrderStatus
from lib.sim.market import InstrumentMarket, StepResult
from lib.types import OrderType, Side

__all__ = ["FillSink", "RestingBook", "SimOrder", "match_arrival", "match_step"]


@dataclass(slots=True)
class SimOrder:
    """The simulator's live record of one of our orders (times in sim seconds)."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: float | None
    limit_ticks: int | None
    status: BrokerOrderStatus
    created_s: float
    updated_s: float
    tif: str = "DAY"
    filled: int = 0
    notional: float = 0.0  # sum of price * qty over fills (price units)
    commission: float = 0.0
    reason: str | None = None
    resting: bool = False  # in the RestingBook price index
    taker_pending: bool = False  # walk the book at the next step (halt / forced partial)
    arrived: bool = False  # the new-order message reached the exchange
    queue_ref: float = 0.0  # queue ahead when last set ...
    queue_logf: float = 0.0  # ... and the book's cumulative cancel log-factor then
    cancel_inflight: bool = False
    last_arrival_s: float = 0.0  # FIFO per order: later messages never overtake
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def sign(self) -> int:
        return self.side.sign

    @property
    def avg_price(self) -> float:
        # rounded so that fills at one price report exactly that price
        return round(self.notional / self.filled, 10) if self.filled else 0.0

    @property
    def is_auction(self) -> bool:
        return self.order_type in (OrderType.MOC, OrderType.LOC)


#: fill sink: (order, quantity, price_ticks, liquidity "add"/"remove")
FillSink = Callable[[SimOrder, int, int, str], None]


class RestingBook:
    """Our resting orders of one instrument, by side and price (FIFO per level)."""

    def __init__(self) -> None:
        self.levels: dict[int, dict[int, list[SimOrder]]] = {1: {}, -1: {}}
        self.keys: dict[int, list[int]] = {1: [], -1: []}  # ascending price ticks
        self.taker_pending: list[SimOrder] = []
        self.logf = 0.0  # cumulative log share of queue surviving cancels

    def add(self, o: SimOrder) -> None:
        assert o.limit_ticks is not None
        lv = self.levels[o.sign]
        if o.limit_ticks not in lv:
            lv[o.limit_ticks] = []
            bisect.insort(self.keys[o.sign], o.limit_ticks)
        lv[o.limit_ticks].append(o)
        o.resting = True

    def remove(self, o: SimOrder) -> None:
        if o.taker_pending:
            self.taker_pending.remove(o)
            o.taker_pending = False
        if not o.resting or o.limit_ticks is None:
            return
        lv = self.levels[o.sign]
        level = lv.get(o.limit_ticks, [])
        if o in level:
            level.remove(o)
        if not level and o.limit_ticks in lv:
            del lv[o.limit_ticks]
            keys = self.keys[o.sign]
            keys.pop(bisect.bisect_left(keys, o.limit_ticks))
        o.resting = False

    def queue_ahead(self, o: SimOrder) -> float:
        return o.queue_ref * math.exp(self.logf - o.queue_logf)

    def set_queue(self, o: SimOrder, q: float) -> None:
        o.queue_ref = max(0.0, q)
        o.queue_logf = self.logf

    def best_first(self, side: int) -> list[int]:
        """Price keys of one side, most aggressive first (a snapshot copy)."""
        keys = self.keys[side]
        return list(reversed(keys)) if side > 0 else list(keys)

    def __len__(self) -> int:
        return sum(len(v) for lv in self.levels.values() for v in lv.values()) + len(self.taker_pending)


def _capped(qty: int, cap: int | None) -> int:
    return qty if cap is None else min(qty, cap)


def match_arrival(
    o: SimOrder, market: InstrumentMarket, book: RestingBook, sink: FillSink, cap: int | None
) -> None:
    """A new (or replaced, or pending) order meets the book: take what is
    marketable up to the limit, rest the remainder with its queue position."""
    want = _capped(o.remaining, cap)
    if want > 0:
        for ticks, n in market.take(o.sign, want, o.limit_ticks):
            sink(o, n, ticks, "remove")
    if o.remaining <= 0 or o.status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.REJECTED):
        return
    marketable = o.limit_ticks is None or (market.touch(o.sign) - o.limit_ticks) * o.sign <= 0
    if marketable and cap is not None:
        # the cap stopped a marketable order: keep taking at later steps
        if not o.taker_pending:
            o.taker_pending = True
            book.taker_pending.append(o)
        return
    if o.limit_ticks is None:
        return  # market order without a cap always completes on the deep book
    own_side = -o.sign  # a buy rests among the bids (-1 book side)
    touch = market.touch(own_side)
    improves = (o.limit_ticks - touch) * o.sign > 0
    book.set_queue(o, 0.0 if improves else float(market.displayed(own_side, o.limit_ticks)))
    book.add(o)


def _fill_level(
    book: RestingBook, side: int, key: int, sink: FillSink, cap: int | None, volume: int | None
) -> int:
    """Fill our orders resting at ``key``. volume None = traded through (fill
    all); otherwise queue logic with ``volume`` traded at the level. Returns
    the quantity we filled."""
    total = 0
    for o in list(book.levels[side].get(key, [])):
        if volume is None:
            n = _capped(o.remaining, cap)
        else:
            qa = book.queue_ahead(o)
            n = _capped(min(o.remaining, max(0, int(volume - qa))), cap)
            book.set_queue(o, qa - volume)
        if n > 0:
            sink(o, n, key, "add")
            total += n
        if o.remaining <= 0:
            book.remove(o)
    return total


def _sweep_level(
    book: RestingBook, side: int, key: int, sink: FillSink, cap: int | None, budget: int
) -> int:
    """Fill our orders at ``key`` in time priority with up to ``budget`` units
    that traded through the level (no queue ahead: the price went past it).
    Returns the quantity filled."""
    total = 0
    for o in list(book.levels[side].get(key, [])):
        n = _capped(min(o.remaining, budget - total), cap)
        if n > 0:
            sink(o, n, key, "add")
            total += n
        if o.remaining <= 0:
            book.remove(o)
        if total >= budget:
            break
    return total


def match_step(
    res: StepResult, market: InstrumentMarket, book: RestingBook, sink: FillSink, cap: int | None
) -> None:
    """Apply one market second to our resting orders (see module doc)."""
    book.logf += res.log_keep
    for o in list(book.taker_pending):
        book.taker_pending.remove(o)
        o.taker_pending = False
        match_arrival(o, market, book, sink, cap)
    q = res.quote
    # Quote trade-through: the new ask is strictly below our resting buy (the
    # new bid above our sell). Those sellers would have traded with us first,
    # but only for what they show: the sweep is capped at the displayed size
    # of the new touch, per second. A quote merely equal to our limit is a
    # locked market: our queue position decides (exogenous trades below).
    for side, bound, sizes in ((1, q.ask_ticks, q.ask_sizes), (-1, q.bid_ticks, q.bid_sizes)):
        budget = sizes[0] if sizes else 0
        for key in book.best_first(side):
            if (key - bound) * side <= 0 or budget <= 0:
                break
            budget -= _sweep_level(book, side, key, sink, cap, budget)
    for t in res.trades:
        side = -t.side  # a seller (-1) hits our buys (+1)
        touch = q.bid_ticks if side > 0 else q.ask_ticks
        last, last_qty = t.prints[-1]
        left = t.size
        for key in book.best_first(side):
            if (key - last) * side < 0:
                break
            if (key - touch) * side > 0:  # we improve the touch: first in line
                for o in list(book.levels[side].get(key, [])):
                    n = _capped(min(o.remaining, left), cap)
                    if n > 0:
                        sink(o, n, key, "add")
                        left -= n
                    if o.remaining <= 0:
                        book.remove(o)
            elif key != last:  # the sweep went past our price: we trade first ...
                # ... but for no more than it printed at our price or through it
                through = sum(n for px, n in t.prints if (px - key) * side <= 0)
                left -= _sweep_level(book, side, key, sink, cap, min(left, through))
                if left <= 0:
                    break
            else:
                _fill_level(book, side, key, sink, cap, last_qty)
