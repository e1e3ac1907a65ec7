"""Sliced parent execution: release a plan's child orders on schedule.

A :class:`SliceExecutor` takes one :class:`lib.types.OrderPlan` whose
``slices`` (a :class:`lib.types.SliceSchedule`) cut it into children and
releases child ``i`` through the shared :class:`OrderManager` at
``start + i * interval_seconds``, each with its own client order id
(``make_client_order_id(rebalance_id, intent_id, i, attempt)``).

* Child TTL: ``min(plan.ttl_seconds, interval_seconds)`` for every child but the
  last, so a child's leftover is known (EXPIRED) by the time the next one is
  due; the last child keeps the plan's full TTL.
* Roll-over: the unfilled quantity of children that ended EXPIRED or CANCELLED
  is pooled and added to later children (catch-up). A POV parent (schedule
  participation > 0) is held to its participation cap
  (:class:`lib.orders.child_rules.ParticipationCap`: committed quantity <=
  rate x (volume traded since the start + one interval's expected volume),
  traded volume from the snapshots when the feed reports it, else from ADV):
  every child, scheduled, rolled-over or completion, is cut to the cap and the
  rest waits in the pool. Time-sliced parents (TWAP/VWAP, no cap) grow a
  child to at most ``max_child_multiple`` x its scheduled size.
* Completion: what the schedule could not absorb (the pool left once every
  scheduled child is terminal) goes out as completion children, one at a time,
  each a limit at the aggressive edge of the band of its release time (it
  walks the book up to that price: limit-then-market inside the band) with a
  TTL of ``min(plan.ttl_seconds, COMPLETION_TTL_SECONDS)`` and no ladder; a
  POV parent's completion children respect the cap (one waits for volume when
  the cap is reached). After an empty completion child the next waits one
  interval; after ``MAX_IDLE_COMPLETIONS`` empty ones in a row completion stops
  (the rest is reported unfilled). Only for limit plans (not AUCTION_CLOSE), never after
  :meth:`cancel`. Quantity of REJECTED or FAILED children is never rolled (a
  FAILED order may have filled at the broker; a rejected one would be rejected
  again), so the parent can never send more than its quantity.
* Child limits: with a ``market_data(symbol)`` callable, each child of a
  sliced plan is priced at release from a fresh snapshot - the far touch (ask
  to buy, bid to sell; the near touch for PASSIVE_FIRST plans),
  rounded to the instrument tick when an instrument is given - then clamped into
  the child's band (:class:`lib.orders.child_rules.ChildBand`: with a parent
  risk budget the band of its release time, which widens as k x sigma x
  sqrt(elapsed) inside the parent's hard band; else the parent's collar), which
  is also the child's own collar, so its replaces stay in it. A
  missing/NaN/crossed quote falls back to the plan's limit. Without the
  callable every child uses ``plan.limit_price``. A child's reprice ladder
  keeps only the parent's rungs more aggressive than its limit.
* AUCTION_CLOSE plans (and plans without slices) go out as one child.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from lib.clock import Clock
from lib.errors import BrokerError, RiskBlocked
from lib.orders.child_rules import ChildBand, ParticipationCap, child_ladder, child_limit
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.states import TERMINAL, OrderState
from lib.types import Instrument, MarketDataSnapshot, OrderPlan, OrderTicket, PolicyMode, Side

__all__ = [
    "COMPLETION_TTL_SECONDS", "DEFAULT_MAX_CHILD_MULTIPLE", "MAX_IDLE_COMPLETIONS", "SliceExecutor", "run_parents",
]  # fmt: skip

#: A child may grow to this multiple of its scheduled size with rolled-over quantity.
DEFAULT_MAX_CHILD_MULTIPLE = 2.0
#: TTL of a completion child (seconds): it is marketable up to the band edge.
COMPLETION_TTL_SECONDS = 30.0
#: completion stops after this many consecutive completion children that filled nothing
#: (the market is beyond the band edge); the rest is reported unfilled.
MAX_IDLE_COMPLETIONS = 2
_ROLLABLE = frozenset({OrderState.EXPIRED, OrderState.CANCELLED})
_EPS = 1e-6


class SliceExecutor:
    """Releases one parent plan's children on schedule (see module docstring).

    Call :meth:`start` once, then :meth:`step` after every manager poll (or use
    :func:`run_parents` / :meth:`run`). Quantities in shares/contracts; prices
    per unit; times from ``clock``.
    """

    def __init__(
        self,
        manager: OrderManager,
        clock: Clock,
        plan: OrderPlan,
        *,
        rebalance_id: str,
        attempt: int = 0,
        market_data: Callable[[str], MarketDataSnapshot] | None = None,
        instrument: Instrument | None = None,
        max_child_multiple: float = DEFAULT_MAX_CHILD_MULTIPLE,
    ) -> None:
        if plan.mode is PolicyMode.AUCTION_CLOSE or plan.slices is None:
            quantities: tuple[int, ...] = (plan.quantity,)
            interval = 0.0
        else:
            quantities = plan.slices.child_quantities
            interval = plan.slices.interval_seconds
        if sum(quantities) != plan.quantity or any(q < 0 for q in quantities):
            raise RiskBlocked(
                "slicing",
                f"{plan.intent.intent_id}: children {quantities} do not sum to {plan.quantity}",
            )
        if max_child_multiple < 1:
            raise ValueError(f"max_child_multiple must be >= 1 (got {max_child_multiple})")
        self.plan = plan
        self.quantities = quantities
        self.interval_seconds = interval
        self._manager = manager
        self._clock = clock
        self._rebalance_id = rebalance_id
        self._attempt = attempt
        self._market_data = market_data
        self._instrument = instrument
        self._max_multiple = max_child_multiple
        self.children: list[OrderTicket] = []
        self.started_at: datetime | None = None
        self._next = 0
        self._pool = 0
        self._pooled: set[str] = set()
        self._stopped = False
        self._open: list[OrderTicket] = []  # children not settled yet (not terminal when last looked)
        self._settled_filled = 0  # filled quantity of the settled children
        self._tail_sent = 0
        self._tail_due: datetime | None = None
        self._band: ChildBand | None = None
        self._cap: ParticipationCap | None = None
        rate = plan.slices.participation if plan.slices is not None else 0.0
        if rate > 0 and interval > 0 and plan.mode is not PolicyMode.AUCTION_CLOSE:
            # the ADV the policy sized the schedule with (else the profile's)
            adv = plan.quantity / plan.adv_fraction if plan.adv_fraction > 0 else (
                instrument.profile.adv if instrument is not None else 0.0)
            session = instrument.session_seconds if instrument is not None else 0.0
            if adv > 0 and session > 0:
                self._cap = ParticipationCap(rate, adv, session, interval)

    # ------------------------------------------------------------------ views
    @property
    def parent_id(self) -> str:
        return self.plan.intent.intent_id

    @property
    def released(self) -> int:
        """Children released (or skipped for zero size) so far."""
        return self._next

    @property
    def done(self) -> bool:
        """Nothing left to release and every child terminal."""
        all_released = self._stopped or self._manager.closed or self._next >= len(self.quantities)
        return all_released and self._all_terminal() and not self._completion_due()

    @property
    def filled_quantity(self) -> int:
        return sum(c.filled_quantity for c in self.children)

    @property
    def unfilled_quantity(self) -> int:
        return self.plan.quantity - self.filled_quantity

    @property
    def avg_fill_price(self) -> float:
        """Volume-weighted price over every child fill (0.0 if nothing filled)."""
        filled = self.filled_quantity
        if filled == 0:
            return 0.0
        return sum(c.avg_fill_price * c.filled_quantity for c in self.children) / filled

    @property
    def messages(self) -> int:
        return sum(c.messages for c in self.children)

    @property
    def replace_count(self) -> int:
        return sum(c.replace_count for c in self.children)

    def due_at(self, index: int) -> datetime:
        """When child ``index`` is released (after :meth:`start`)."""
        if self.started_at is None:
            raise RiskBlocked("slicing", f"{self.parent_id}: not started")
        return self.started_at + timedelta(seconds=index * self.interval_seconds)

    # ------------------------------------------------------------------ driving
    def start(self) -> list[OrderTicket]:
        """Fix the schedule's origin at ``clock.now()`` and release child 0."""
        if self.started_at is not None:
            raise RiskBlocked("slicing", f"{self.parent_id}: started twice")
        self.started_at = self._clock.now()
        self._band = ChildBand(self.plan, self._instrument, getattr(self._manager, "config", None), self.started_at)
        return self.step()

    @property
    def volume_source(self) -> str | None:
        """How the participation cap measures volume: "traded", "adv", or None (no cap)."""
        return self._cap.source if self._cap is not None else None

    def step(self) -> list[OrderTicket]:
        """Pool leftovers of finished children, release every child now due."""
        if self.started_at is None:
            return self.start()
        self._settle()
        released: list[OrderTicket] = []
        now = self._clock.now()
        while (
            not self._stopped
            and not self._manager.closed
            and self._next < len(self.quantities)
            and (now - self.due_at(self._next)).total_seconds() >= -_EPS
        ):
            ticket = self._release(self._next)
            self._next += 1
            if ticket is not None:
                released.append(ticket)
        if self._completion_due():
            ticket = self._release_completion()
            if ticket is not None:
                released.append(ticket)
        return released

    def cancel(self) -> None:
        """Release nothing more and cancel the live children."""
        self._stopped = True
        for child in self.children:
            if child.state not in TERMINAL:
                self._manager.cancel(child.client_order_id)

    def run(self, timeout_seconds: float | None = None) -> None:
        run_parents(self._manager, self._clock, [self], timeout_seconds=timeout_seconds)

    # ------------------------------------------------------------------ internals
    def _settle(self) -> None:
        """Pool the leftovers of children that became terminal (once each)."""
        still: list[OrderTicket] = []
        for child in self._open:
            if child.state in TERMINAL:
                self._settled_filled += child.filled_quantity
                if child.state in _ROLLABLE and child.client_order_id not in self._pooled:
                    self._pooled.add(child.client_order_id)
                    self._pool += child.remaining
            else:
                still.append(child)
        self._open = still

    def _all_terminal(self) -> bool:
        return all(c.state in TERMINAL for c in self._open)

    def _submitted(self, ticket: OrderTicket) -> OrderTicket:
        self.children.append(ticket)
        self._open.append(ticket)
        return ticket

    def _leftover(self) -> int:
        """Pooled quantity, once the children that finished are settled."""
        self._settle()
        return self._pool

    def _committed(self) -> int:
        """Filled plus still working quantity of every child."""
        self._settle()
        return self._settled_filled + sum(c.filled_quantity + c.remaining for c in self._open)

    def _completion_due(self) -> bool:
        """Completion children are owed: the schedule is out, every child is terminal, something is left."""
        plan = self.plan
        return (
            not self._stopped
            and not self._manager.closed
            and self.started_at is not None
            and self._next >= len(self.quantities)
            and plan.limit_price is not None
            and plan.mode is not PolicyMode.AUCTION_CLOSE
            and self._all_terminal()
            and self._leftover() > 0
            and self._idle_completions() < MAX_IDLE_COMPLETIONS
        )

    def _idle_completions(self) -> int:
        """Consecutive completion children, newest first, that filled nothing."""
        idle = 0
        for child in reversed(self.children[len(self.children) - self._tail_sent:] if self._tail_sent else []):
            if child.filled_quantity > 0:
                break
            idle += 1
        return idle

    def _snapshot(self) -> MarketDataSnapshot | None:
        """A fresh snapshot (None without the callable or on a broker error); feeds the
        realised volatility of the band and the traded volume of the cap."""
        if self._market_data is None:
            return None
        try:
            snap = self._market_data(self.plan.symbol)
        except BrokerError:
            return None
        now = self._clock.now()
        if self._band is not None:
            self._band.observe(now, snap)
        if self._cap is not None:
            self._cap.observe(now, snap)
        return snap

    def _capped(self, want: int, now: datetime) -> int:
        """``want`` cut to the participation cap (no cap: ``want``)."""
        if self._cap is None:
            return want
        return max(0, min(want, self._cap.allowance(now, self._committed())))

    def _release_completion(self) -> OrderTicket | None:
        """One completion child: the rest (capped), at the aggressive edge of the band now."""
        now = self._clock.now()
        if self._tail_sent and self._tail_due is None and self._idle_completions() > 0:
            last = self.children[-1].last_update or now  # an empty one: wait an interval
            self._tail_due = last + timedelta(seconds=max(self.interval_seconds, 1.0))
        if self._tail_due is not None and now < self._tail_due:
            return None
        self._settle()
        self._snapshot()  # feeds the band's realised volatility and the cap's traded volume
        quantity = self._capped(self._pool, now)
        if quantity <= 0:  # at the cap: wait an interval for volume
            self._tail_due = now + timedelta(seconds=max(self.interval_seconds, 1.0))
            return None
        self._pool -= quantity
        self._tail_due = None
        plan = self.plan
        low, high = self._band.band(now) if self._band is not None else (plan.collar_low, plan.collar_high)
        edge = high if plan.side is Side.BUY else low
        ttl = min(plan.ttl_seconds, COMPLETION_TTL_SECONDS)
        child = replace(
            plan,
            intent=replace(plan.intent, quantity=quantity),
            limit_price=edge,
            collar_low=low,
            collar_high=high,
            ttl_seconds=ttl,
            replace_interval_seconds=min(plan.replace_interval_seconds, ttl),
            reprice_ladder=(),
            max_replace_attempts=0,
            slices=None,
        )
        index = len(self.quantities) + self._tail_sent
        self._tail_sent += 1
        coid = make_client_order_id(self._rebalance_id, self.parent_id, index, self._attempt)
        return self._submitted(self._manager.submit(child, coid, parent_id=self.parent_id))

    def _release(self, index: int) -> OrderTicket | None:
        now = self._clock.now()
        snap = self._snapshot() if self.plan.slices is not None else None
        base = self.quantities[index]
        if self._cap is not None:
            want = base + self._pool
            quantity = self._capped(want, now)
        else:
            cap = max(base, math.floor(base * self._max_multiple))
            want = base + self._pool
            quantity = base + min(self._pool, cap - base)
        self._pool = want - quantity
        if quantity <= 0:
            return None
        last = index == len(self.quantities) - 1
        ttl = self.plan.ttl_seconds
        if not last and self.interval_seconds > 0:
            ttl = min(ttl, self.interval_seconds)
        low, high = self.plan.collar_low, self.plan.collar_high
        if self._band is not None and self.plan.slices is not None:
            low, high = self._band.band(now)
        limit = child_limit(self.plan, snap, self._instrument, low, high)
        ladder = child_ladder(self.plan, limit, low, high)
        child = replace(
            self.plan,
            intent=replace(self.plan.intent, quantity=quantity),
            limit_price=limit,
            collar_low=low,
            collar_high=high,
            ttl_seconds=ttl,
            replace_interval_seconds=min(self.plan.replace_interval_seconds, ttl),
            reprice_ladder=ladder,
            # A child keeps only the rungs beyond its own limit: it has no
            # more replace attempts than rungs (a repricer indexes the ladder).
            max_replace_attempts=min(self.plan.max_replace_attempts, len(ladder)),
            slices=None,
        )
        coid = make_client_order_id(self._rebalance_id, self.parent_id, index, self._attempt)
        return self._submitted(self._manager.submit(child, coid, parent_id=self.parent_id))


def run_parents(
    manager: OrderManager,
    clock: Clock,
    parents: Sequence[SliceExecutor],
    *,
    timeout_seconds: float | None = None,
) -> None:
    """Supervise several parents on one manager: start them, then poll +
    step + ``clock.sleep(poll_interval)`` until every parent is done (and the
    manager has nothing live). On timeout (clock seconds) stop releasing,
    cancel the children and let the manager wait for confirmations."""
    for parent in parents:
        if parent.started_at is None:
            parent.start()
    start = clock.now()
    while not all(p.done for p in parents) or manager.live_tickets:
        if timeout_seconds is not None and (clock.now() - start).total_seconds() >= timeout_seconds:
            for parent in parents:
                parent.cancel()
            manager.run_until_complete(timeout_seconds=0.0)
            return
        clock.sleep(manager.poll_interval_seconds)
        manager.poll()
        for parent in parents:
            parent.step()
