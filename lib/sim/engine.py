"""The market simulator: markets of several instruments stepped by a VirtualClock,
our order messages with latency, and matching.

Time: sim seconds since ``epoch`` (a tz-aware datetime, normally the clock's
time when the simulator was created). The market steps at every whole second;
a message arriving at time ``t`` meets the book of step ``floor(t)`` (messages
strictly before a step boundary are handled before that step). The simulator
subscribes to the clock and steps over exactly the interval that elapsed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from lib.brokers.base import TERMINAL_BROKER_STATUSES, BrokerOrderStatus
from lib.clock import VirtualClock
from lib.instruments import InstrumentRegistry
from lib.sim.config import SimConfig
from lib.sim.faults import Faults
from lib.sim.latency import LatencyModel, RejectModel
from lib.sim.market import InstrumentMarket
from lib.sim.matching import RestingBook, SimOrder, match_arrival, match_step
from lib.types import MarketDataSnapshot, OrderType, Side

__all__ = ["FillListener", "MarketSimulator"]

#: (order, quantity, price, liquidity, sim time s) for each fill of ours
FillListener = Callable[[SimOrder, int, float, str, float], None]

_ENUM_FIELDS = {"side": Side, "order_type": OrderType, "status": BrokerOrderStatus}


class MarketSimulator:
    """Seeded markets + our orders. Deterministic from ``cfg.seed``."""

    def __init__(self, cfg: SimConfig, instruments: InstrumentRegistry, epoch: datetime) -> None:
        if epoch.tzinfo is None:
            raise ValueError("simulator epoch must be timezone-aware")
        self.cfg = cfg
        self.epoch = epoch
        self.symbols: tuple[str, ...] = cfg.symbols if cfg.symbols is not None else tuple(instruments)
        self.instruments = {s: instruments[s] for s in self.symbols}
        self.markets = {s: InstrumentMarket(self.instruments[s], cfg) for s in self.symbols}
        self.books = {s: RestingBook() for s in self.symbols}
        self.latency = LatencyModel(cfg.seed, self.symbols, cfg.latency_median, cfg.latency_log_sd)
        self.rejects = RejectModel(cfg.seed, self.symbols)
        self.faults = Faults(self.live_snapshot)
        self.orders: dict[str, SimOrder] = {}
        self.open_ids: dict[str, None] = {}  # insertion-ordered set of non-terminal orders
        self.auctions: dict[str, list[str]] = {s: [] for s in self.symbols}
        self.last_trade: dict[str, float | None] = {s: None for s in self.symbols}
        #: the closing auction's uncrossing price per symbol, once the close is reached
        self.closing_prints: dict[str, float] = {}
        self.events: list[tuple[float, int, str, str, dict[str, Any]]] = []
        self.k = 0  # last market step
        self.now_s = 0.0  # sim time reached
        self._t = 0.0  # time of the event/step being processed
        self._seq = 0
        self.changed = False  # an order changed since the flag was last cleared
        self.fill_listeners: list[FillListener] = []

    # ----- time -----
    def time_of(self, t_s: float) -> datetime:
        return self.epoch + timedelta(seconds=t_s)

    def seconds_of(self, when: datetime) -> float:
        return (when - self.epoch).total_seconds()

    def attach(self, clock: VirtualClock) -> None:
        """Step the market whenever ``clock`` advances."""
        clock.subscribe(self.on_clock)

    def on_clock(self, start: datetime, end: datetime) -> None:
        self.advance_to(self.seconds_of(end))

    def session_position(self, symbol: str, t_s: float) -> float:
        """Seconds since the regular session opened (no wrap)."""
        return self.cfg.session_offset_s + t_s

    def advance_to(self, t1: float) -> None:
        """Process everything up to sim time ``t1`` (steps and arrivals in time order)."""
        while True:
            nxt_step = self.k + 1
            nxt_evt = self.events[0][0] if self.events else math.inf
            if nxt_evt < nxt_step and nxt_evt <= t1:
                self._process_event()
            elif nxt_step <= t1:
                self._step(nxt_step)
            elif nxt_evt <= t1:
                self._process_event()
            else:
                break
        self.now_s = max(self.now_s, t1)

    def _step(self, k: int) -> None:
        self.k = k
        self._t = float(k)
        cap = self.faults.partial_fill_cap
        for sym in self.symbols:
            mkt = self.markets[sym]
            res = mkt.step(k)
            if res.trades:
                last = res.trades[-1].prints[-1][0]
                self.last_trade[sym] = mkt.inst.round_to_tick(last * mkt.tick)
            if sym in self.faults.halted:
                self.books[sym].logf += res.log_keep
                continue
            match_step(res, mkt, self.books[sym], self._sink, cap)
            if sym not in self.closing_prints and self.session_position(sym, k) >= mkt.inst.session_seconds:
                self._run_auction(sym)

    # ----- our messages -----
    def _push(self, t: float, kind: str, coid: str, payload: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self.events, (t, self._seq, kind, coid, payload))

    def _arrival(self, o: SimOrder) -> float:
        lat = self.latency.draw(o.symbol) + self.faults.extra_latency_s
        t = max(self.now_s + lat, o.last_arrival_s)  # FIFO per order
        o.last_arrival_s = t
        return t

    def submit(self, o: SimOrder) -> None:
        """Accept a validated new order; it reaches the market after latency."""
        self.orders[o.client_order_id] = o
        self.open_ids[o.client_order_id] = None
        self._push(self._arrival(o), "new", o.client_order_id, {})
        self.changed = True
        self.advance_to(self.now_s)  # zero latency: match now

    def cancel(self, coid: str) -> None:
        o = self.orders[coid]
        o.status = BrokerOrderStatus.PENDING_CANCEL
        o.cancel_inflight = True
        o.updated_s = self.now_s
        self._push(self._arrival(o), "cancel", coid, {})
        self.changed = True
        self.advance_to(self.now_s)

    def modify(self, coid: str, limit_ticks: int, limit_price: float, quantity: int) -> None:
        o = self.orders[coid]
        payload = {"limit_ticks": limit_ticks, "limit_price": limit_price, "quantity": quantity}
        self._push(self._arrival(o), "modify", coid, payload)
        self.changed = True
        self.advance_to(self.now_s)

    def _process_event(self) -> None:
        t, _, kind, coid, payload = heapq.heappop(self.events)
        self._t = t
        o = self.orders[coid]
        self.changed = True
        if kind == "new":
            self._on_new(o)
        elif kind == "cancel":
            self._on_cancel(o)
        else:
            self._on_modify(o, payload)

    def _terminal(self, o: SimOrder) -> bool:
        return o.status in TERMINAL_BROKER_STATUSES

    def _finish(self, o: SimOrder, status: BrokerOrderStatus, reason: str | None = None) -> None:
        self.books[o.symbol].remove(o)
        if o.is_auction and o.client_order_id in self.auctions[o.symbol]:
            self.auctions[o.symbol].remove(o.client_order_id)
        o.status = status
        o.reason = reason if reason is not None else o.reason
        o.updated_s = self._t
        self.open_ids.pop(o.client_order_id, None)

    def _on_new(self, o: SimOrder) -> None:
        o.arrived = True
        o.updated_s = self._t
        rate = self.faults.reject_rate if self.faults.reject_rate is not None else self.cfg.random_reject_rate
        if self.rejects.hit(o.symbol, rate):
            self._finish(o, BrokerOrderStatus.REJECTED, "random reject (simulated)")
            return
        if o.status is BrokerOrderStatus.PENDING_SUBMIT:
            o.status = BrokerOrderStatus.SUBMITTED
        if o.is_auction:
            if o.symbol in self.closing_prints:
                self._finish(o, BrokerOrderStatus.CANCELLED, "closing auction already printed")
                return
            self.auctions[o.symbol].append(o.client_order_id)
            return
        self._enter_book(o)

    def _enter_book(self, o: SimOrder) -> None:
        book = self.books[o.symbol]
        if o.symbol in self.faults.halted:
            o.taker_pending = True  # meets the book when trading resumes
            book.taker_pending.append(o)
            return
        match_arrival(o, self.markets[o.symbol], book, self._sink, self.faults.partial_fill_cap)

    def _on_cancel(self, o: SimOrder) -> None:
        o.cancel_inflight = False
        if self._terminal(o):
            o.reason = "too late to cancel"
            return
        self._finish(o, BrokerOrderStatus.CANCELLED, "cancelled by client")

    def _on_modify(self, o: SimOrder, p: dict[str, Any]) -> None:
        if self._terminal(o) or o.cancel_inflight:
            o.reason = "too late to modify" if self._terminal(o) else o.reason
            return
        new_qty = int(p["quantity"])
        price_change = int(p["limit_ticks"]) != o.limit_ticks
        book = self.books[o.symbol]
        keep_queue = not price_change and new_qty <= o.quantity and o.resting
        qref, qlogf = o.queue_ref, o.queue_logf
        book.remove(o)
        o.limit_ticks, o.limit_price, o.quantity = int(p["limit_ticks"]), float(p["limit_price"]), new_qty
        o.updated_s = self._t
        if o.remaining <= 0:
            o.quantity = o.filled
            self._finish(o, BrokerOrderStatus.FILLED)
            return
        if o.is_auction:
            return
        if keep_queue:
            book.add(o)
            o.queue_ref, o.queue_logf = qref, qlogf
        else:
            self._enter_book(o)  # a replace loses queue priority

    def _run_auction(self, sym: str) -> None:
        """The closing auction at the first step at or past the session close:
        it prints once at the mid of the book then (half ticks allowed); our
        MOC orders and LOC orders whose limit reaches the print fill there."""
        mkt = self.markets[sym]
        q = mkt.quote
        mid2 = q.bid_ticks + q.ask_ticks  # the auction prints at the mid (half ticks allowed)
        self.closing_prints[sym] = round(mid2 * mkt.tick / 2.0, 10)
        self.last_trade[sym] = self.closing_prints[sym]
        for coid in list(self.auctions[sym]):
            o = self.orders[coid]
            if o.order_type is OrderType.LOC and o.limit_ticks is not None:
                if (2 * o.limit_ticks - mid2) * o.sign < 0:
                    self._finish(o, BrokerOrderStatus.CANCELLED, "LOC limit not reached at the close")
                    continue
            px = round(mid2 * mkt.tick / 2.0, 10)
            self._book_fill(o, o.remaining, px, "auction")

    def _sink(self, o: SimOrder, n: int, ticks: int, liquidity: str) -> None:
        mkt = self.markets[o.symbol]
        self._book_fill(o, n, mkt.inst.round_to_tick(ticks * mkt.tick), liquidity)

    def _book_fill(self, o: SimOrder, n: int, price: float, liquidity: str) -> None:
        if n <= 0:
            return
        o.filled += n
        o.notional += price * n
        o.updated_s = self._t
        self.markets[o.symbol].impact.on_fill(o.sign * n, self._t)
        if o.remaining <= 0:
            self._finish(o, BrokerOrderStatus.FILLED)
        elif o.status is not BrokerOrderStatus.PENDING_CANCEL:
            o.status = BrokerOrderStatus.PARTIALLY_FILLED
        self.changed = True
        for listener in self.fill_listeners:
            listener(o, n, price, liquidity, self._t)

    # ----- market data -----
    def live_snapshot(self, symbol: str) -> MarketDataSnapshot:
        """The displayed top of book now (ignores faults)."""
        mkt = self.markets[symbol]
        bt, bs = mkt.best_displayed(-1)
        at, asz = mkt.best_displayed(1)
        r = mkt.inst.round_to_tick
        return MarketDataSnapshot(
            symbol=symbol, bid=r(bt * mkt.tick), ask=r(at * mkt.tick), last=self.last_trade[symbol],
            close=mkt.inst.profile.price, ts=self.time_of(float(self.k)), bid_size=float(bs), ask_size=float(asz),
            volume=float(mkt.volume),  # the tape's exogenous volume printed so far
        )  # fmt: skip

    def snapshot(self, symbol: str) -> MarketDataSnapshot:
        """The snapshot a client sees: frozen when stale/halted, crossed on demand."""
        snap = self.faults.frozen.get(symbol) or self.live_snapshot(symbol)
        if symbol in self.faults.crossed and snap.bid is not None and snap.ask is not None:
            tick = self.instruments[symbol].tick_size
            snap = MarketDataSnapshot(
                symbol=symbol, bid=round(snap.ask + tick, 10), ask=snap.bid, last=snap.last,
                close=snap.close, ts=snap.ts, bid_size=snap.ask_size, ask_size=snap.bid_size, volume=snap.volume,
            )  # fmt: skip
        return snap

    def mid(self, symbol: str) -> float:
        """Mid of the exogenous (base) quote now, price units."""
        mkt = self.markets[symbol]
        return (mkt.quote.bid_ticks + mkt.quote.ask_ticks) * mkt.tick / 2.0

    # ----- persistence -----
    def to_state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch.isoformat(),
            "k": self.k,
            "now_s": self.now_s,
            "seq": self._seq,
            "markets": {s: m.to_state() for s, m in self.markets.items()},
            "books": {
                s: {
                    "logf": b.logf,
                    "levels": [o.client_order_id for side in (1, -1) for lv in b.levels[side].values() for o in lv],
                    "taker_pending": [o.client_order_id for o in b.taker_pending],
                }
                for s, b in self.books.items()
            },
            "orders": [_order_to_json(o) for o in self.orders.values()],
            "open_ids": list(self.open_ids),
            "auctions": self.auctions,
            "last_trade": self.last_trade,
            "closing_prints": self.closing_prints,
            "events": [list(e) for e in self.events],
            "latency": self.latency.to_state(),
            "rejects": self.rejects.to_state(),
            "faults": self.faults.to_state(),
        }

    def load_state(self, st: dict[str, Any]) -> None:
        self.epoch = datetime.fromisoformat(st["epoch"])
        self.k, self.now_s, self._seq = int(st["k"]), float(st["now_s"]), int(st["seq"])
        self._t = self.now_s
        for s, ms in st["markets"].items():
            self.markets[s].load_state(ms)
        self.orders = {d["client_order_id"]: _order_from_json(d) for d in st["orders"]}
        self.open_ids = dict.fromkeys(st["open_ids"])
        for s, bs in st["books"].items():
            b = RestingBook()
            b.logf = float(bs["logf"])
            for coid in bs["levels"]:
                o = self.orders[coid]
                qref, qlogf = o.queue_ref, o.queue_logf
                b.add(o)
                o.queue_ref, o.queue_logf = qref, qlogf
            b.taker_pending = [self.orders[c] for c in bs["taker_pending"]]
            self.books[s] = b
        self.auctions = {s: list(v) for s, v in st["auctions"].items()}
        self.last_trade = dict(st["last_trade"])
        self.closing_prints = {k: float(v) for k, v in st.get("closing_prints", {}).items()}
        self.events = [(float(t), int(q), str(k), str(c), dict(p)) for t, q, k, c, p in st["events"]]
        heapq.heapify(self.events)
        self.latency.load_state(st["latency"])
        self.rejects.load_state(st["rejects"])
        self.faults.load_state(st["faults"])


def _order_to_json(o: SimOrder) -> dict[str, Any]:
    d = {f.name: getattr(o, f.name) for f in fields(o)}
    for name in _ENUM_FIELDS:
        d[name] = d[name].value
    return d


def _order_from_json(d: dict[str, Any]) -> SimOrder:
    kw = dict(d)
    for name, enum in _ENUM_FIELDS.items():
        kw[name] = enum(kw[name])
    return SimOrder(**kw)
