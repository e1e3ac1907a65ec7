"""Sliced pair legs in lockstep rounds, each round under full legging protection.

When a leg's plan is sliced (a leg too large for one order), the legs are
executed in rounds of one child per leg. Round ``r`` (client order ids with
slice index ``r``) targets the fill fraction ``f = min over legs of (filled /
quantity) + 1 / n`` (``n`` = the most children any leg's schedule has; ``f``
at most 1) and sends, for every leg, ``round_half_up(f * quantity) - filled``
(legs already there send nothing). So a leg is never more than one child ahead
of the slowest leg, whatever happens: a leg that cannot fill (a jump away
from its limit) keeps the others at most one child ahead, and the next round
sends only the laggard's catch-up.

A round with two or more legs to trade is one :class:`lib.pair.execution.PairExecution`
(caps, laggard to its collar edge, temporary hedge, escalation; group id
``<group>.r<r>``); a round with one leg is that leg's order alone (it can
only reduce the imbalance). Each child is priced at the current touch inside
the leg's band of its time (:class:`lib.orders.child_rules.ChildBand`: with a
parent risk budget the band widens with elapsed time inside the leg plan's
hard band), which is also its collar, so a laggard pinned to its collar edge
stays inside that band. TTL of a child: the leg's slice interval (its plan's
TTL for the last round). Round ``r + 1`` starts once round ``r`` is done and
``r x interval`` has elapsed. Rounds stop when every leg is filled, after
:meth:`cancel`, or after ``MAX_IDLE_ROUNDS`` rounds in a row that filled
nothing (the rest is reported, as an unfilled leg is by PairExecution).

Unhedged notional (reported in the :class:`lib.pair.model.PairResult`): the
legs' cumulative excess over the slowest leg, marked at each leg plan's
arrival mid, plus the current round's hedge offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import BrokerError, RiskBlocked
from lib.orders.child_rules import ChildBand
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.states import TERMINAL
from lib.pair import legging
from lib.pair.execution import HedgePlanFactory, PairExecution
from lib.pair.legs import leg_plans
from lib.pair.model import LegResult, PairEvent, PairMode, PairResult, PairSettings
from lib.policy import ExecutionPolicy
from lib.types import Fill, MarketDataSnapshot, OrderPlan, OrderTicket, PairGroup, Side

__all__ = ["MAX_IDLE_ROUNDS", "SlicedPairExecution", "is_sliced"]

#: rounds in a row without any fill after which the sliced pair stops
MAX_IDLE_ROUNDS = 3


def is_sliced(plans: Mapping[str, OrderPlan]) -> bool:
    """True when any leg's plan has more than one child."""
    return any(p.slices is not None and p.slices.n_slices > 1 for p in plans.values())


class SlicedPairExecution:
    """Lockstep rounds of child pairs (module docstring); the same driving API
    as PairExecution: start, step, done, cancel, result."""

    def __init__(
        self,
        group: PairGroup,
        plans: Mapping[str, OrderPlan],
        rebalance_id: str,
        *,
        manager: OrderManager,
        clock: Clock,
        config: ExecutionConfig,
        policy: ExecutionPolicy,
        market_data: Callable[[str], MarketDataSnapshot],
        hedge_plan_factory: HedgePlanFactory,
        mode: PairMode,
        settings: PairSettings,
        emit: Callable[[PairEvent], None],
        attempt: int = 0,
    ) -> None:
        if ":" in group.group_id:
            raise ValueError(f"group_id must not contain ':' (got {group.group_id!r})")
        self.group = group
        self._plans: dict[str, OrderPlan] = leg_plans(group, plans)
        sliced = [p.slices for p in self._plans.values() if p.slices is not None]
        self.n_rounds = max(s.n_slices for s in sliced) if sliced else 1
        self.interval_seconds = min(s.interval_seconds for s in sliced) if sliced else 0.0
        self._manager, self._clock, self._config = manager, clock, config
        self._policy, self._market_data = policy, market_data
        self._factory, self._mode, self._settings = hedge_plan_factory, mode, settings
        self._emit, self._rebalance_id, self._attempt = emit, rebalance_id, attempt
        self._bands = {
            iid: ChildBand(p, policy.instruments[p.symbol], config, clock.now()) for iid, p in self._plans.items()
        }
        self.rounds: list[PairExecution | OrderTicket] = []
        self.events: list[PairEvent] = []
        self._tickets: dict[str, list[OrderTicket]] = {iid: [] for iid in self._plans}
        self._stopped = False
        self._idle = 0
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.max_unhedged = 0.0
        self.integral = 0.0
        self._last_u = 0.0
        self._last_ts: datetime | None = None

    # ------------------------------------------------------------------ views
    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def filled(self, intent_id: str) -> int:
        return sum(t.filled_quantity for t in self._tickets[intent_id])

    def _leg_fills(self) -> list[legging.LegFill]:
        return [
            legging.LegFill(p.side, p.quantity, self.filled(iid), p.arrival_mid,
                            self._policy.instruments[p.symbol].multiplier)
            for iid, p in self._plans.items()
        ]  # fmt: skip

    def unhedged_notional(self) -> float:
        """|cumulative excess over the slowest leg + the current round's hedge offset|."""
        hedge = 0.0
        if self.rounds and isinstance(self.rounds[-1], PairExecution):
            hedge = self.rounds[-1].hedge.offset_notional()
        return abs(legging.excess_notional(self._leg_fills()) + hedge)

    # ------------------------------------------------------------------ driving
    def start(self) -> None:
        if self.started_at is not None:
            raise RiskBlocked("pair", f"{self.group.group_id}: started twice")
        self.started_at = self._last_ts = self._clock.now()
        self._next_round()
        self._observe(self.started_at)

    def step(self) -> None:
        if self.started_at is None or self.finished_at is not None:
            return
        now = self._clock.now()
        current = self.rounds[-1] if self.rounds else None
        if isinstance(current, PairExecution):
            current.step()
        self._observe(now)
        if current is not None and not self._round_done(current):
            return
        complete = all(self.filled(iid) >= p.quantity for iid, p in self._plans.items())
        if complete or self._stopped or self._idle >= MAX_IDLE_ROUNDS:
            self.finished_at = now
            return
        due = self.started_at + timedelta(seconds=len(self.rounds) * self.interval_seconds)
        if now >= due:
            self._next_round()
            self._observe(now)

    def cancel(self) -> None:
        self._stopped = True
        current = self.rounds[-1] if self.rounds else None
        if isinstance(current, PairExecution):
            current.cancel()
        elif current is not None and current.state not in TERMINAL:
            self._manager.cancel(current.client_order_id)

    # ------------------------------------------------------------------ rounds
    @staticmethod
    def _round_done(current: PairExecution | OrderTicket) -> bool:
        if isinstance(current, PairExecution):
            return current.done
        return current.state in TERMINAL

    def _next_round(self) -> None:
        if self.rounds:
            before = self._round_fill_total(self.rounds[-1])
            self._idle = 0 if before > 0 else self._idle + 1
            if self._idle >= MAX_IDLE_ROUNDS:
                return
        r = len(self.rounds)
        slowest = min(self.filled(iid) / p.quantity for iid, p in self._plans.items())
        target = min(1.0, slowest + 1.0 / self.n_rounds)
        last = target >= 1.0 - 1e-12
        now = self._clock.now()
        children: dict[str, OrderPlan] = {}
        for iid, plan in self._plans.items():
            qty = min(plan.quantity, legging.round_half_up(target * plan.quantity)) - self.filled(iid)
            if qty > 0:
                children[iid] = self._child_plan(plan, qty, now, last)
        if not children:
            self._idle = MAX_IDLE_ROUNDS
            return
        if len(children) == 1:
            ((iid, plan),) = children.items()
            coid = make_client_order_id(self._rebalance_id, iid, r, self._attempt)
            ticket = self._manager.submit(plan, coid, parent_id=self.group.group_id)
            self._tickets[iid].append(ticket)
            self.rounds.append(ticket)
            return
        sub = PairGroup(f"{self.group.group_id}.r{r}", tuple(children[i.intent_id].intent for i in self.group.legs
                                                              if i.intent_id in children),
                        self.group.hedge_symbol, self.group.hedge_ratio)  # fmt: skip
        execution = PairExecution(
            sub, children, self._rebalance_id, manager=self._manager, clock=self._clock, config=self._config,
            policy=self._policy, market_data=self._market_data, hedge_plan_factory=self._factory, mode=self._mode,
            settings=self._settings, emit=self._on_event, attempt=self._attempt, slice_index=r,
        )  # fmt: skip
        self.rounds.append(execution)
        execution.start()
        for ticket in execution.legs:
            self._tickets[ticket.plan.intent.intent_id].append(ticket)

    def _round_fill_total(self, current: PairExecution | OrderTicket) -> int:
        if isinstance(current, PairExecution):
            return sum(t.filled_quantity for t in current.legs)
        return current.filled_quantity

    def _child_plan(self, plan: OrderPlan, qty: int, now: datetime, last: bool) -> OrderPlan:
        """The leg's child of ``qty``: at the touch now, inside the leg's band of this time."""
        low, high = self._bands[plan.intent.intent_id].band(now)
        limit = plan.limit_price
        if limit is not None:
            touch = self._touch(plan)
            limit = min(max(touch if touch is not None else limit, low), high)
        ttl = plan.ttl_seconds if last or self.interval_seconds <= 0 else min(plan.ttl_seconds, self.interval_seconds)
        sign = plan.side.sign
        ladder = tuple(p for p in plan.reprice_ladder
                       if limit is not None and sign * (p - limit) > 1e-9 and low <= p <= high)  # fmt: skip
        return replace(
            plan, intent=replace(plan.intent, quantity=qty), limit_price=limit, collar_low=low, collar_high=high,
            ttl_seconds=ttl, replace_interval_seconds=min(plan.replace_interval_seconds, ttl), reprice_ladder=ladder,
            max_replace_attempts=min(plan.max_replace_attempts, len(ladder)), slices=None,
        )  # fmt: skip

    def _touch(self, plan: OrderPlan) -> float | None:
        try:
            snap = self._market_data(plan.symbol)
        except BrokerError:
            return None
        self._bands[plan.intent.intent_id].observe(self._clock.now(), snap)
        px = snap.ask if plan.side is Side.BUY else snap.bid
        if px is None or not math.isfinite(px) or px <= 0 or snap.bid is None or snap.ask is None or snap.bid > snap.ask:
            return None
        return self._policy.instruments[plan.symbol].round_to_tick(px)

    # ------------------------------------------------------------------ bookkeeping
    def _on_event(self, event: PairEvent) -> None:
        self.events.append(event)
        self._emit(event)

    def _observe(self, now: datetime) -> None:
        if self._last_ts is not None:
            self.integral += self._last_u * (now - self._last_ts).total_seconds()
        self._last_ts = now
        self._last_u = self.unhedged_notional()
        self.max_unhedged = max(self.max_unhedged, self._last_u)

    def result(self) -> PairResult:
        if self.started_at is None:
            raise RiskBlocked("pair", f"{self.group.group_id}: not started")
        subs = [r for r in self.rounds if isinstance(r, PairExecution)]
        parts = [s.result() for s in subs]
        legs = []
        for iid, plan in self._plans.items():
            tickets = self._tickets[iid]
            filled = self.filled(iid)
            fills: tuple[Fill, ...] = tuple(f for t in tickets for f in t.fills)
            avg = sum(t.avg_fill_price * t.filled_quantity for t in tickets) / filled if filled else None
            state = "FILLED" if filled >= plan.quantity else (tickets[-1].state if tickets else "NOT_SENT")
            legs.append(LegResult(
                intent_id=iid, client_order_id=tickets[0].client_order_id if tickets else "", symbol=plan.symbol,
                side=plan.side, quantity=plan.quantity, filled_quantity=filled, avg_fill_price=avg, state=state,
                repriced_to_edge=any(leg.repriced_to_edge for p in parts for leg in p.legs if leg.intent_id == iid),
                fills=fills,
            ))  # fmt: skip
        return PairResult(
            group_id=self.group.group_id, completed=self.done, started_at=self.started_at,
            finished_at=self.finished_at, legs=tuple(legs), max_unhedged_notional=self.max_unhedged,
            unhedged_notional_seconds=self.integral, final_unhedged_notional=self.unhedged_notional(),
            hedge_symbol=parts[0].hedge_symbol if parts else None,
            hedge_orders_sent=sum(p.hedge_orders_sent for p in parts),
            hedge_filled_quantity=sum(p.hedge_filled_quantity for p in parts),
            hedge_position=sum(p.hedge_position for p in parts),
            legging_episodes=sum(p.legging_episodes for p in parts), escalations=sum(p.escalations for p in parts),
            max_legging_seconds=max((p.max_legging_seconds for p in parts), default=0.0), events=tuple(self.events),
        )  # fmt: skip
