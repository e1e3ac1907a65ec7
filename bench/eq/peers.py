"""Independent peer executions: what a user would pick instead of this layer.

Every peer trades straight on the simulated broker (``SimBroker.submit_order``
/ ``cancel_order``; no ExecutionPolicy, no OrderManager, no SliceExecutor), so
none of them inherits the layer's collar, ladder or roll-over rules:

* ``P0``   one market order at arrival;
* ``TWAP`` equal shares of the order over ``T`` (below), one child per interval;
* ``POV10`` / ``POV25`` 10 % / 25 % of the exogenous volume *actually printed*
  since arrival (the simulator's tape), plus that rate times one interval of
  expected volume so the first child is not empty;
* ``AC``   Almgren-Chriss (2000) trajectory ``x(t) = X sinh(k(T-t))/sinh(kT)``
  at the stated urgency ``k T = AC_KAPPA_T`` (risk aversion
  ``lambda = (AC_KAPPA_T / T)^2 * eta / sigma^2`` for linear temporary impact
  ``eta`` and price variance ``sigma^2`` per second);
* ``PF``   passive first: each child rests at the near touch for
  ``PASSIVE_S`` seconds, then whatever is still due is taken at the far touch.

Schedule length ``T = clamp(Q / (0.10 * ADV / session), interval, 0.9 * H)``
(what a 10 % participation needs, inside the cell's horizon ``H``). Every child
is a limit at the far touch for the whole deficit ``target(t + interval) -
filled`` (uncapped catch-up: what a child left unfilled is due in the next
one); it works one interval and is cancelled. The runner then completes
whatever is left at the horizon with a market sweep (and charges it), so every
peer is complete by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lib.brokers.base import TERMINAL_BROKER_STATUSES, OrderRequest
from lib.brokers.sim import SimBroker
from lib.clock import VirtualClock
from lib.errors import BrokerError
from lib.types import Instrument, OrderType, Side

__all__ = ["AC_KAPPA_T", "PASSIVE_S", "PEERS", "PEER_INTERVAL_S", "PeerSpec", "PeerRun", "run_peer", "schedule_seconds"]

PEER_INTERVAL_S = 20.0
PASSIVE_S = 10.0
AC_KAPPA_T = 2.0
_TWAP_REF_RATE = 0.10
_SETTLE_S = 1.0


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """kind: market | twap | pov | ac; rate: POV participation; passive_s: rest at the near touch first."""

    name: str
    kind: str
    rate: float = 0.0
    passive_s: float = 0.0
    #: stop trading at this share of the order (1.0 = complete); < 1 only in tests (a deliberately incomplete peer)
    max_fraction: float = 1.0


PEERS: tuple[PeerSpec, ...] = (
    PeerSpec("P0", "market"),
    PeerSpec("TWAP", "twap"),
    PeerSpec("POV10", "pov", rate=0.10),
    PeerSpec("POV25", "pov", rate=0.25),
    PeerSpec("AC", "ac"),
    PeerSpec("PF", "twap", passive_s=PASSIVE_S),
)


@dataclass(frozen=True, slots=True)
class PeerRun:
    messages: int
    orders: int
    max_child_qty: int


def schedule_seconds(quantity: int, inst: Instrument, horizon_s: float) -> float:
    """T: the time a 10 % participation needs, in [interval, 0.9 * horizon]."""
    need = quantity / (_TWAP_REF_RATE * inst.profile.adv / inst.session_seconds)
    return max(PEER_INTERVAL_S, min(need, 0.9 * horizon_s))


def _target(spec: PeerSpec, qty: int, t: float, sched: float, traded: float, rate_per_s: float) -> float:
    """Cumulative quantity due by elapsed time ``t`` (s)."""
    if spec.kind == "market":
        return float(qty)
    if spec.kind == "pov":
        return min(float(qty), spec.rate * (traded + rate_per_s * PEER_INTERVAL_S))
    u = min(1.0, t / sched)
    if spec.kind == "ac":
        k = AC_KAPPA_T / sched
        return qty * (1.0 - math.sinh(k * sched * (1.0 - u)) / math.sinh(AC_KAPPA_T))
    return qty * u


def run_peer(
    spec: PeerSpec, symbol: str, side: Side, quantity: int, clock: VirtualClock, broker: SimBroker,
    inst: Instrument, horizon_s: float,
) -> PeerRun:  # fmt: skip
    """Run one peer until it is done or ``horizon_s`` has elapsed (mutates the fork)."""
    t0 = clock.now()
    mkt = broker.sim.markets[symbol]
    v0 = mkt.volume
    rate = inst.profile.adv / inst.session_seconds
    sched = schedule_seconds(quantity, inst, horizon_s)
    seq = [0]
    msgs = [0]
    max_child = [0]

    def filled() -> int:
        return sum(f.quantity for f in broker.fills if f.symbol == symbol)

    def elapsed() -> float:
        return (clock.now() - t0).total_seconds()

    def send(qty: int, price: float | None) -> str | None:
        seq[0] += 1
        coid = f"peer-{spec.name}-{seq[0]}"
        otype = OrderType.MKT if price is None else OrderType.LMT
        try:
            broker.submit_order(OrderRequest(coid, symbol, side, qty, otype, price))
        except BrokerError:
            return None
        msgs[0] += 1
        max_child[0] = max(max_child[0], qty)
        return coid

    def cancel(coid: str | None) -> None:
        if coid is None or broker.sim.orders[coid].status in TERMINAL_BROKER_STATUSES:
            return
        try:
            broker.cancel_order(coid)
            msgs[0] += 1
        except BrokerError:
            return
        clock.advance(_SETTLE_S)

    def price(far: bool) -> float:
        snap = broker.get_market_data(symbol)
        buy = side is Side.BUY
        px = (snap.ask if far else snap.bid) if buy else (snap.bid if far else snap.ask)
        assert px is not None
        return inst.round_to_tick(px)

    def run_for(seconds: float) -> None:
        if seconds > 0:
            clock.advance(seconds)

    if spec.kind == "market":
        send(quantity, None)
        run_for(_SETTLE_S)
        return PeerRun(msgs[0], seq[0], max_child[0])
    step: Callable[[float], float] = lambda el: min(PEER_INTERVAL_S, horizon_s - el)  # noqa: E731
    while True:
        el = elapsed()
        done = filled()
        if done >= quantity or el >= horizon_s - 1e-6:
            break
        span = step(el)
        due = min(_target(spec, quantity, el + span, sched, mkt.volume - v0, rate), spec.max_fraction * quantity)
        deficit = int(math.ceil(due - 1e-9)) - done
        if deficit <= 0:
            run_for(span)
            continue
        used = 0.0
        if spec.passive_s > 0 and span > spec.passive_s + _SETTLE_S:
            coid = send(deficit, price(far=False))
            run_for(spec.passive_s)
            cancel(coid)
            used = spec.passive_s + _SETTLE_S
            deficit = int(math.ceil(due - 1e-9)) - filled()
        if deficit > 0:
            coid = send(deficit, price(far=True))
            run_for(span - used - _SETTLE_S)
            cancel(coid)
        else:
            run_for(span - used)
    return PeerRun(msgs[0], seq[0], max_child[0])
