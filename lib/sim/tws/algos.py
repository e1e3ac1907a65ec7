"""IB algos at the simulated gateway: validation of algoStrategy / algoParams
and the working of Twap and Vwap orders over their window.

Accepted (IB's names): ``Adaptive`` (``adaptivePriority`` Urgent / Normal /
Patient; worked as the limit order it caps, like IB's Adaptive which never
trades through its limit), ``Twap`` (``strategyType`` Marketable / Matching
Midpoint / Matching Same Side / Matching Last, ``startTime``, ``endTime``,
``allowPastEndTime``) and ``Vwap`` (``maxPctVol`` 0.01-0.5, ``startTime``,
``endTime``, ``allowPastEndTime``, ``noTakeLiq``), on LMT or MKT orders.
Refusals, IB-like: an unknown strategy or an algo on another order type is
201 "Order rejected"; an unknown tag, a bad value or an empty window is 145
"Error in validating entry fields".

Times: ``YYYYMMDD-HH:MM:SS`` (UTC), ``YYYYMMDD HH:MM:SS Zone`` or
``HH:MM:SS Zone`` (today in that zone); no start = now, no end = the NYSE
close of the day.

Working (the :class:`AlgoDesk`): the window is cut into ``n`` equal slices
(about 20, never shorter than :data:`MIN_SLICE_S` virtual seconds) on a fixed
grid from the start (a late step never delays later slices); at slice ``k``
(due at start + k x slice) the target is ``ceil(total * (k + 1) / n)`` and one child order for
target - filled - still working goes to the account's SimBroker (a live
child of the previous slice is cancelled first; its remainder joins a later
slice). Twap children are priced by ``strategyType`` (far touch, mid, near
touch or last); Vwap children take the far touch (the near touch with
``noTakeLiq``) and keep cumulative fills within ``maxPctVol`` of the market
volume printed since the start (the time-even target stands in for IB's
volume profile over a window of minutes). Every child is capped at the
parent's limit. Past the end time the parent is cancelled with what it filled
unless ``allowPastEndTime`` (then it keeps going at the far touch). Before the
start time the parent is PreSubmitted, as IB shows a waiting algo. Children
are ``<parent key>~<n>`` at the SimBroker; IB's side sees only the parent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from lib.brokers.base import TERMINAL_BROKER_STATUSES, BrokerOrderStatus, OrderRequest
from lib.brokers.sim import SimBroker
from lib.calendars import get_market_calendar
from lib.errors import BrokerError
from lib.sim.tws.encode import parse_ib_time
from lib.sim.tws.model import GatewayOrder, TagValue
from lib.sim.tws.rules import Refusal
from lib.types import Instrument, OrderType, Side

__all__ = ["MIN_SLICE_S", "AlgoDesk", "AlgoSpec", "parse_algo"]

_NY = ZoneInfo("America/New_York")
#: Shortest slice of a Twap/Vwap (virtual seconds).
MIN_SLICE_S = 2.0
_TARGET_SLICES = 20
_PRIORITIES = ("Urgent", "Normal", "Patient")
_TWAP_TYPES = ("Marketable", "Matching Midpoint", "Matching Same Side", "Matching Last")
_TAGS = {
    "Adaptive": frozenset({"adaptivePriority"}),
    "Twap": frozenset({"strategyType", "startTime", "endTime", "allowPastEndTime"}),
    "Vwap": frozenset({"maxPctVol", "startTime", "endTime", "allowPastEndTime", "noTakeLiq"}),
}
_FLAGS = {"0": False, "1": True, "false": False, "true": True}
_CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d)(?: (\S+))?$")


@dataclass(frozen=True, slots=True)
class AlgoSpec:
    """A validated algo. ``start``/``end`` only for Twap/Vwap."""

    strategy: str
    params: tuple[TagValue, ...]
    start: datetime | None = None
    end: datetime | None = None
    strategy_type: str = "Marketable"
    max_pct_vol: float | None = None
    allow_past_end: bool = False
    no_take_liq: bool = False

    @property
    def worked(self) -> bool:
        """True when the gateway slices it (Twap/Vwap); Adaptive is one limit order."""
        return self.strategy in ("Twap", "Vwap")


def _bad(text: str) -> Refusal:
    return Refusal(145, f"Error in validating entry fields - {text}")


def _time(value: str, now: datetime) -> datetime:
    m = _CLOCK.match(value.strip())
    if m:
        zone = ZoneInfo(m.group(4)) if m.group(4) else _NY
        day = now.astimezone(zone)
        return day.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=int(m.group(3)), microsecond=0)
    return parse_ib_time(value)


def _close(now: datetime) -> datetime:
    session = get_market_calendar("NYSE").session(now.astimezone(_NY).date())
    if session is not None:
        return session[1]
    return now.astimezone(_NY).replace(hour=16, minute=0, second=0, microsecond=0)


def parse_algo(strategy: str, params: tuple[TagValue, ...], order_type: str, now: datetime) -> AlgoSpec | Refusal | None:
    """The algo of a placeOrder (None: none), or IB's refusal of it."""
    if not strategy:
        return None
    if strategy not in _TAGS:
        return Refusal(201, f"Order rejected - reason:Unknown algo strategy {strategy!r} "
                            f"(this gateway works {', '.join(_TAGS)})")  # fmt: skip
    if order_type not in ("LMT", "MKT"):
        return Refusal(201, f"Order rejected - reason:The {strategy} algo does not accept {order_type} orders")
    values: dict[str, str] = {}
    for tag, value in params:
        if tag not in _TAGS[strategy]:
            return _bad(f"unknown {strategy} parameter {tag!r}")
        values[tag] = value
    if strategy == "Adaptive":
        priority = values.get("adaptivePriority", "Normal")
        if priority not in _PRIORITIES:
            return _bad(f"adaptivePriority {priority!r} is not one of {'/'.join(_PRIORITIES)}")
        return AlgoSpec(strategy, tuple(params))
    try:
        start = max(_time(values["startTime"], now), now) if values.get("startTime") else now
        end = _time(values["endTime"], now) if values.get("endTime") else _close(now)
    except (ValueError, KeyError, IndexError) as exc:
        return _bad(f"startTime/endTime: {exc!r} is not a time")
    flags: dict[str, bool] = {}
    for tag in ("allowPastEndTime", "noTakeLiq"):
        raw = values.get(tag, "0").strip().lower()
        if raw not in _FLAGS:
            return _bad(f"{tag} {values[tag]!r} is not 0 or 1")
        flags[tag] = _FLAGS[raw]
    if end <= start and not flags["allowPastEndTime"]:
        return _bad(f"endTime {end:%Y%m%d-%H:%M:%S} is not after startTime / now {start:%Y%m%d-%H:%M:%S} UTC")
    spec = AlgoSpec(strategy, tuple(params), start=start, end=max(end, start),
                    allow_past_end=flags["allowPastEndTime"], no_take_liq=flags["noTakeLiq"])  # fmt: skip
    if strategy == "Twap":
        kind = values.get("strategyType", "Marketable")
        if kind not in _TWAP_TYPES:
            return _bad(f"strategyType {kind!r} is not one of {', '.join(_TWAP_TYPES)}")
        return replace(spec, strategy_type=kind)
    try:
        pct = float(values.get("maxPctVol", "0.1"))
    except ValueError:
        return _bad(f"maxPctVol {values['maxPctVol']!r} is not a number")
    if not 0.01 <= pct <= 0.5:
        return _bad(f"maxPctVol {pct:g} is outside 0.01-0.5")
    return replace(spec, max_pct_vol=pct)


@dataclass(slots=True)
class AlgoWork:
    """One Twap/Vwap parent being worked."""

    order: GatewayOrder
    spec: AlgoSpec
    slice_s: float
    n_slices: int
    volume0: int  # market volume when it started (Vwap's participation base)
    children: list[str] = field(default_factory=list)  # SimBroker keys, in release order
    released: int = 0  # slices released
    last_release: datetime | None = None
    cancelling: bool = False
    failed: str = ""


class AlgoDesk:
    """Works Twap/Vwap parents through the accounts' SimBrokers (see module doc).
    ``register(account, child_key, perm_id)`` tells the book whose child a
    SimBroker order is (its fills are the parent's executions)."""

    def __init__(self, brokers: dict[str, SimBroker], registry: Callable[[str], Instrument],
                 register: Callable[[str, str, int], None]) -> None:  # fmt: skip
        self.brokers = brokers
        self.instrument = registry
        self.register = register
        self.works: dict[int, AlgoWork] = {}  # permId -> work

    def get(self, perm_id: int) -> AlgoWork | None:
        return self.works.get(perm_id)

    def start(self, o: GatewayOrder, spec: AlgoSpec) -> None:
        assert spec.start is not None and spec.end is not None
        window = (spec.end - spec.start).total_seconds()
        n = max(1, min(_TARGET_SLICES, int(window // MIN_SLICE_S)))
        volume0 = self.brokers[o.account].sim.markets[o.contract.symbol].volume
        self.works[o.perm_id] = AlgoWork(o, spec, window / n if window > 0 else MIN_SLICE_S, n, volume0)

    # ----- views -----
    def _sim(self, w: AlgoWork) -> list[tuple[BrokerOrderStatus, int, float]]:
        orders = self.brokers[w.order.account].sim.orders
        return [(so.status, so.filled, so.avg_price) for c in w.children if (so := orders.get(c)) is not None]

    def view(self, w: AlgoWork, now: datetime) -> tuple[str, int, float, str]:
        """(IB status, filled, average price, reason) of the parent."""
        kids = self._sim(w)
        filled = sum(f for _, f, _ in kids)
        avg = sum(f * p for _, f, p in kids) / filled if filled else 0.0
        live = any(s not in TERMINAL_BROKER_STATUSES for s, _, _ in kids)
        if filled >= w.order.total_quantity:
            return "Filled", filled, avg, ""
        if w.failed and not live:
            return "Inactive", filled, avg, w.failed
        if w.cancelling:
            return ("PendingCancel" if live else "Cancelled"), filled, avg, ""
        assert w.spec.start is not None
        return ("PreSubmitted" if now < w.spec.start else "Submitted"), filled, avg, ""

    # ----- commands -----
    def cancel(self, w: AlgoWork) -> None:
        w.cancelling = True
        self._cancel_live(w)

    def modified(self, w: AlgoWork) -> None:
        """New limit/quantity on the parent: live children go; the next slice uses the new terms."""
        self._cancel_live(w)

    def _cancel_live(self, w: AlgoWork) -> None:
        broker = self.brokers[w.order.account]
        for c in w.children:
            so = broker.sim.orders.get(c)
            if so is not None and so.status not in TERMINAL_BROKER_STATUSES and not so.cancel_inflight:
                try:
                    broker.cancel_order(c)
                except BrokerError:
                    pass  # done meanwhile

    # ----- the pacer's step -----
    def step(self, now: datetime) -> None:
        for w in list(self.works.values()):
            if w.order.is_done or w.cancelling or w.failed:
                continue
            self._step(w, now)

    def _step(self, w: AlgoWork, now: datetime) -> None:
        spec = w.spec
        assert spec.start is not None and spec.end is not None
        kids = self._sim(w)
        if any(s is BrokerOrderStatus.REJECTED for s, _, _ in kids):
            w.failed = "an algo child order was rejected"
            self._cancel_live(w)
            return
        if now < spec.start:
            return
        past_end = now >= spec.end
        if past_end and not spec.allow_past_end:
            w.cancelling = True  # IB ends the algo at its end time with what it filled
            self._cancel_live(w)
            return
        k = int((now - spec.start).total_seconds() / w.slice_s + 1e-9)  # the slice due now, on a fixed grid
        if w.last_release is not None and k < w.released:
            return
        target = w.order.total_quantity if past_end or k >= w.n_slices - 1 else math.ceil(
            w.order.total_quantity * (k + 1) / w.n_slices)  # fmt: skip
        self._cancel_live(w)
        filled = sum(f for _, f, _ in kids)
        working = sum(self._remaining(w, c) for c in w.children)
        qty = target - filled - working
        if spec.max_pct_vol is not None and not past_end:
            traded = self.brokers[w.order.account].sim.markets[w.order.contract.symbol].volume - w.volume0
            qty = min(qty, math.floor(spec.max_pct_vol * traded) - filled - working)
        w.released, w.last_release = k + 1, now
        if qty > 0:
            self._send(w, qty, far=past_end)

    def _remaining(self, w: AlgoWork, child: str) -> int:
        so = self.brokers[w.order.account].sim.orders.get(child)
        return so.quantity - so.filled if so is not None and so.status not in TERMINAL_BROKER_STATUSES else 0

    def _send(self, w: AlgoWork, qty: int, *, far: bool) -> None:
        o = w.order
        broker = self.brokers[o.account]
        symbol = o.contract.symbol
        side = Side(o.action)
        price = self._price(w, side, far=far)
        otype = OrderType.LMT
        if price is None:
            if o.lmt_price is None:
                otype = OrderType.MKT
            else:
                price = o.lmt_price
        if price is not None and o.lmt_price is not None:
            price = min(price, o.lmt_price) if side is Side.BUY else max(price, o.lmt_price)
        key = f"{o.coid}~{len(w.children)}"
        self.register(o.account, key, o.perm_id)
        w.children.append(key)
        try:
            broker.submit_order(OrderRequest(key, symbol, side, qty, otype, price, tif="DAY"))
        except BrokerError as exc:
            w.failed = f"algo child refused: {exc}"

    def _price(self, w: AlgoWork, side: Side, *, far: bool) -> float | None:
        """The child's limit before the cap (None: no usable quote)."""
        o, spec = w.order, w.spec
        snap = self.brokers[o.account].get_market_data(o.contract.symbol)
        bid, ask = snap.bid, snap.ask
        if bid is None or ask is None or not (0 < bid <= ask):
            return None
        far_px, near_px = (ask, bid) if side is Side.BUY else (bid, ask)
        if far:
            return far_px
        inst = self.instrument(o.contract.symbol)
        if spec.strategy == "Vwap":
            return near_px if spec.no_take_liq else far_px
        kind = spec.strategy_type
        if kind == "Matching Midpoint":
            mid = (bid + ask) / 2
            return inst.floor_to_tick(mid) if side is Side.BUY else -inst.floor_to_tick(-mid)
        if kind == "Matching Same Side":
            return near_px
        if kind == "Matching Last" and snap.last is not None and snap.last > 0:
            return inst.round_to_tick(snap.last)
        return far_px

