"""PairExecution: the legging-protection state machine of one pair group.

Created by :meth:`lib.pair.executor.PairExecutor.start`; call :meth:`step`
after every ``OrderManager.poll()``. Each step, in order:

1. Exposure bookkeeping: the integral grows by the last unhedged notional times
   the seconds since the last step; the current value updates the maximum.
2. Caps: a leg that finished short (expired, cancelled, rejected at fill
   fraction p < 1) caps its partners - a live leg whose fill fraction reaches p
   is cancelled, so no leg runs further ahead of a leg that can no longer
   follow. A leg rejected at submit therefore cancels its partner at once.
3. Legging episode: starts when :func:`lib.pair.legging.is_legged` (seed rule or
   a fill-fraction spread >= ``pair_min_hedge_trigger_fill_pct``); ends when the
   fractions are within ``rebalance_tolerance_pct`` or every leg is terminal.
   While it lasts:
   (a) every live lagging limit leg is modified once to the aggressive edge of
       ITS plan's collar (BUY: collar_high, SELL: collar_low) and pinned there
       (the ladder timer stops moving it); the OrderManager collar-checks it;
   (b) with ``pair_hedge_enabled`` and a ``hedge_symbol``, the hedge is resized
       to :func:`lib.pair.legging.target_hedge_position` by delta orders;
   (c) escalation policy: once legged for ``pair_max_legging_seconds`` the
       leading legs' remaining quantity is cancelled (the imbalance cannot grow),
       the hedge stays on, the lagging leg keeps working at its collar edge
       until it catches up, is capped, or its TTL ends, and one ESCALATED event
       (details: seconds legged, fill fractions, cancelled ids, unhedged notional,
       hedge position) goes to the alerting layer.
   Outside an episode the hedge target is 0: the hedge is unwound by an
   offsetting order. Hedge orders never overlap: a working hedge order that
   would overshoot the target is cancelled, and the next delta is sent only
   once the previous one is terminal. A residual imbalance left when every leg
   is terminal is reported (final_unhedged_notional), not hedged: a hedge kept
   past the run would be a position no sleeve owns.
4. PASSIVE_FIRST: after ``passive_seconds`` each still-passive leg moves to the
   current touch (clamped into its collar) and resumes its ladder from there.

Unhedged notional marks each leg at its plan's arrival mid and the hedge at the
mid seen when it was first deployed, so it measures quantity imbalance in
currency and does not move with prices (see lib/pair/legging.py for signs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import BrokerError, PlanRejected, RiskBlocked
from lib.orders.manager import OrderManager, make_client_order_id, order_type_for
from lib.orders.states import REPLACEABLE, TERMINAL
from lib.pair import legging
from lib.pair.model import LegResult, PairEvent, PairEventKind, PairMode, PairResult, PairSettings
from lib.policy import ExecutionPolicy
from lib.slippage import CollarEnforcer
from lib.types import (
    Instrument,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderTicket,
    OrderType,
    PairGroup,
    PolicyMode,
    Side,
)

__all__ = ["HedgePlanFactory", "PairExecution"]

#: ``factory(hedge_intent, fresh_snapshot) -> OrderPlan`` for a hedge order.
HedgePlanFactory = Callable[[OrderIntent, MarketDataSnapshot], OrderPlan]
_EPS = 1e-9


@dataclass(slots=True)
class _Leg:
    intent: OrderIntent
    plan: OrderPlan
    client_order_id: str
    instrument: Instrument
    ticket: OrderTicket | None = None
    passive: bool = False  # resting at the near touch (PASSIVE_FIRST window)
    pinned: bool = False  # sent to its collar edge
    capped: bool = False

    @property
    def live(self) -> bool:
        return self.ticket is not None and self.ticket.state not in TERMINAL

    @property
    def pct(self) -> float:
        filled = self.ticket.filled_quantity if self.ticket is not None else 0
        return legging.fill_pct(filled, self.plan.quantity)

    @property
    def edge(self) -> float:
        return self.plan.collar_high if self.plan.side is Side.BUY else self.plan.collar_low


class PairExecution:
    """Legging protection for one :class:`lib.types.PairGroup` (module docstring)."""

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
        self._manager, self._clock, self._config = manager, clock, config
        self._policy, self._market_data, self._factory = policy, market_data, hedge_plan_factory
        self._mode, self._settings, self._emit_cb = mode, settings, emit
        self._rebalance_id, self._attempt = rebalance_id, attempt
        self._collars = CollarEnforcer(config)
        self._legs = [self._make_leg(intent, plans) for intent in group.legs]
        if len({leg.intent.intent_id for leg in self._legs}) != len(self._legs):
            raise RiskBlocked("pair", f"{group.group_id}: duplicate leg intent ids")
        self._hedging = (
            config.pair_hedge_enabled and group.hedge_symbol is not None and group.hedge_ratio != 0
        )
        self._hedge_inst = (
            policy.instruments[group.hedge_symbol] if group.hedge_symbol is not None else None
        )
        self.hedge_tickets: list[OrderTicket] = []
        self._hedge_seq = 0
        self._hedge_ref: float | None = None  # mid at first deployment
        self._hedge_failures = 0
        self._hedge_seen: set[str] = set()
        self._hedge_gave_up = False
        self._legged_since: datetime | None = None
        self._escalated = False
        self.episodes = 0
        self.escalations = 0
        self.longest_legging = 0.0
        self.max_unhedged = 0.0
        self.integral = 0.0
        self._last_u = 0.0
        self.events: list[PairEvent] = []
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self._last_ts: datetime | None = None

    # ------------------------------------------------------------------ views
    @property
    def done(self) -> bool:
        return self.finished_at is not None

    @property
    def legs(self) -> list[OrderTicket]:
        return [leg.ticket for leg in self._legs if leg.ticket is not None]

    @property
    def fill_pcts(self) -> dict[str, float]:
        return {leg.intent.intent_id: leg.pct for leg in self._legs}

    @property
    def legged(self) -> bool:
        """True while a legging episode is open."""
        return self._legged_since is not None

    @property
    def hedge_position(self) -> int:
        """Signed hedge contracts filled so far (SELL negative)."""
        return sum(t.side.sign * t.filled_quantity for t in self.hedge_tickets)

    def unhedged_notional(self) -> float:
        """|excess + hedge offset| right now (currency)."""
        excess = legging.excess_notional(self._leg_fills())
        offset = 0.0
        if self._hedge_inst is not None and self._hedge_ref is not None:
            offset = legging.hedge_offset_notional(
                self.hedge_position,
                self._hedge_ref,
                self._hedge_inst.multiplier,
                self.group.hedge_ratio,
            )
        return abs(excess + offset)

    # ------------------------------------------------------------------ driving
    def start(self) -> None:
        """Submit every leg at the same instant (nothing is sent if any leg's
        plan is invalid; if a submit raises, the legs already sent are cancelled)."""
        if self.started_at is not None:
            raise RiskBlocked("pair", f"{self.group.group_id}: started twice")
        now = self._clock.now()
        self.started_at = self._last_ts = now
        submit_plans = [self._initial_plan(leg) for leg in self._legs]
        for leg, plan in zip(self._legs, submit_plans, strict=True):
            try:
                leg.ticket = self._manager.submit(
                    plan, leg.client_order_id, parent_id=self.group.group_id
                )
            except Exception:
                for sent in self._legs:
                    if sent.live and sent.ticket is not None:
                        self._manager.cancel(sent.ticket.client_order_id)
                raise
            if leg.passive:
                # Past the window by one poll: the manager's timers run before our step.
                hold = self._settings.passive_seconds + self._manager.poll_interval_seconds
                self._manager.hold_reprices(leg.client_order_id, hold)
        self._emit(
            PairEventKind.STARTED,
            f"{len(self._legs)} legs submitted ({self._mode.value})",
            legs={leg.intent.intent_id: leg.client_order_id for leg in self._legs},
        )
        self.step()

    def step(self) -> None:
        """One supervision cycle (see the module docstring)."""
        if self.started_at is None or self.finished_at is not None:
            return
        now = self._clock.now()
        self._observe(now)
        self._apply_caps()
        pcts = [leg.pct for leg in self._legs]
        legs_done = not any(leg.live for leg in self._legs)
        spread = legging.fill_imbalance(pcts)
        if self._legged_since is None:
            if not legs_done and legging.is_legged(
                pcts, self._config.pair_min_hedge_trigger_fill_pct
            ):
                self._open_episode(now)
        elif legs_done or spread <= self._settings.rebalance_tolerance_pct + _EPS:
            self._close_episode(now, "legs finished" if legs_done else "within tolerance")
        if self._legged_since is not None:
            self._reprice_laggards(pcts)
            self._maybe_escalate(now, pcts)
        if self._mode is PairMode.PASSIVE_FIRST:
            self._passive_switch(now)
        self._manage_hedge()
        self._observe(now)
        if legs_done and not any(t.state not in TERMINAL for t in self.hedge_tickets):
            if self.hedge_position == 0 or not self._can_hedge():
                self._finish(now)

    def cancel(self) -> None:
        """Stop: cancel the live legs; later steps unwind any hedge."""
        for leg in self._legs:
            if leg.live and leg.ticket is not None:
                self._manager.cancel(leg.ticket.client_order_id)

    def result(self) -> PairResult:
        """The outcome so far (``completed`` once every order is terminal)."""
        if self.started_at is None:
            raise RiskBlocked("pair", f"{self.group.group_id}: not started")
        legs = tuple(self._leg_result(leg) for leg in self._legs)
        return PairResult(
            group_id=self.group.group_id,
            completed=self.done,
            started_at=self.started_at,
            finished_at=self.finished_at,
            legs=legs,
            max_unhedged_notional=self.max_unhedged,
            unhedged_notional_seconds=self.integral,
            final_unhedged_notional=self.unhedged_notional(),
            hedge_symbol=self.group.hedge_symbol if self._hedging else None,
            hedge_orders_sent=len(self.hedge_tickets),
            hedge_filled_quantity=sum(t.filled_quantity for t in self.hedge_tickets),
            hedge_position=self.hedge_position,
            legging_episodes=self.episodes,
            escalations=self.escalations,
            max_legging_seconds=self.longest_legging,
            events=tuple(self.events),
        )

    # ------------------------------------------------------------------ legs
    def _make_leg(self, intent: OrderIntent, plans: Mapping[str, OrderPlan]) -> _Leg:
        plan = plans.get(intent.intent_id)
        gid = self.group.group_id
        if plan is None:
            raise RiskBlocked("pair", f"{gid}: no plan for leg {intent.intent_id}")
        pi = plan.intent
        if (pi.symbol, pi.side, pi.quantity) != (intent.symbol, intent.side, intent.quantity):
            raise RiskBlocked("pair", f"{gid}: plan for {intent.intent_id} does not match the leg")
        if plan.slices is not None and plan.slices.n_slices > 1:
            raise RiskBlocked(
                "pair", f"{gid}: leg {intent.intent_id} is sliced; pair legs go out as one order"
            )
        coid = make_client_order_id(self._rebalance_id, intent.intent_id, 0, self._attempt)
        return _Leg(intent, plan, coid, self._policy.instruments[intent.symbol])

    def _initial_plan(self, leg: _Leg) -> OrderPlan:
        plan = leg.plan
        if self._mode is not PairMode.PASSIVE_FIRST or order_type_for(plan) is not OrderType.LMT:
            return plan
        quotes = self._quotes(leg.intent.symbol)
        if quotes is None or plan.limit_price is None:
            return plan  # no usable quote: go straight to the plan's marketable limit
        bid, ask = quotes
        inst = leg.instrument
        near = inst.floor_to_tick(bid) if plan.side is Side.BUY else inst.ceil_to_tick(ask)
        near = self._collars.clamp(inst, plan.side, near, plan.collar_low, plan.collar_high)
        if plan.side.sign * (plan.limit_price - near) <= _EPS:
            return plan  # the near touch is no more passive than the plan's limit
        leg.passive = True
        return replace(plan, limit_price=near)

    def _quotes(self, symbol: str) -> tuple[float, float] | None:
        try:
            return self._policy.validate_snapshot(symbol, self._market_data(symbol))
        except (BrokerError, PlanRejected):
            return None

    def _apply_caps(self) -> None:
        finished = [leg.pct for leg in self._legs if leg.ticket is not None and not leg.live]
        if not finished or min(finished) >= 1.0 - _EPS:
            return
        cap = min(finished)
        for leg in self._legs:
            if leg.live and not leg.capped and leg.pct >= cap - _EPS and leg.ticket is not None:
                leg.capped = True
                self._manager.cancel(leg.client_order_id)
                self._emit(
                    PairEventKind.CAPPED,
                    f"{leg.intent.intent_id} reached {leg.pct:.1%}, a finished leg stopped at "
                    f"{cap:.1%}: remaining {leg.ticket.remaining} cancelled",
                    leg=leg.intent.intent_id,
                    cap_pct=cap,
                    remaining=leg.ticket.remaining,
                )

    def _reprice_laggards(self, pcts: list[float]) -> None:
        top = max(pcts)
        for leg, pct in zip(self._legs, pcts, strict=True):
            ticket = leg.ticket
            if ticket is None or not leg.live or leg.pinned or ticket.limit_price is None:
                continue
            if pct >= top - self._settings.rebalance_tolerance_pct - _EPS:
                continue
            if order_type_for(leg.plan) is not OrderType.LMT or ticket.state not in REPLACEABLE:
                continue  # not movable now; retried next cycle
            sent = self._manager.reprice_now(leg.client_order_id, leg.edge, next_rung=None)
            leg.pinned, leg.passive = True, False
            self._emit(
                PairEventKind.REPRICED,
                f"lagging leg {leg.intent.intent_id} ({pct:.1%} vs {top:.1%}) -> collar edge "
                f"{leg.edge:g}",
                leg=leg.intent.intent_id,
                price=leg.edge,
                modify_sent=sent,
            )

    def _passive_switch(self, now: datetime) -> None:
        assert self.started_at is not None
        if (now - self.started_at).total_seconds() < self._settings.passive_seconds - 1e-6:
            return
        for leg in self._legs:
            ticket = leg.ticket
            if not leg.passive or ticket is None:
                continue
            if not leg.live:
                leg.passive = False
                continue
            if ticket.state not in REPLACEABLE:
                continue
            plan, inst = leg.plan, leg.instrument
            assert plan.limit_price is not None  # passive legs are limit orders
            price = plan.limit_price
            quotes = self._quotes(leg.intent.symbol)
            if quotes is not None:
                bid, ask = quotes
                touch = inst.ceil_to_tick(ask) if plan.side is Side.BUY else inst.floor_to_tick(bid)
                price = self._collars.clamp(
                    inst, plan.side, touch, plan.collar_low, plan.collar_high
                )
            # Resume the ladder after the rungs this price already covers (no step back).
            rung = sum(1 for r in plan.reprice_ladder if plan.side.sign * (r - price) <= _EPS)
            self._manager.reprice_now(leg.client_order_id, price, next_rung=rung)
            leg.passive = False
            self._emit(
                PairEventKind.PASSIVE_SWITCH,
                f"{leg.intent.intent_id} passive window over -> {price:g}",
                leg=leg.intent.intent_id,
                price=price,
                next_rung=rung,
            )

    # ------------------------------------------------------------------ episodes
    def _open_episode(self, now: datetime) -> None:
        self._legged_since = now
        self._escalated = False
        self.episodes += 1
        self._emit(
            PairEventKind.LEGGED,
            "fill fractions " + ", ".join(f"{k}={v:.1%}" for k, v in self.fill_pcts.items()),
            fill_pcts=self.fill_pcts,
            unhedged_notional=self.unhedged_notional(),
        )

    def _close_episode(self, now: datetime, why: str) -> None:
        assert self._legged_since is not None
        lasted = (now - self._legged_since).total_seconds()
        self.longest_legging = max(self.longest_legging, lasted)
        self._legged_since = None
        self._emit(
            PairEventKind.REBALANCED,
            f"{why} after {lasted:g} s legged",
            fill_pcts=self.fill_pcts,
            legged_seconds=lasted,
        )

    def _maybe_escalate(self, now: datetime, pcts: list[float]) -> None:
        assert self._legged_since is not None
        lasted = (now - self._legged_since).total_seconds()
        if self._escalated or lasted < self._config.pair_max_legging_seconds - 1e-6:
            return
        self._escalated = True
        self.escalations += 1
        bottom = min(pcts)
        cancelled: dict[str, int] = {}
        for leg, pct in zip(self._legs, pcts, strict=True):
            if (
                leg.live
                and leg.ticket is not None
                and pct > bottom + self._settings.rebalance_tolerance_pct
            ):
                cancelled[leg.intent.intent_id] = leg.ticket.remaining
                self._manager.cancel(leg.client_order_id)
        self._emit(
            PairEventKind.ESCALATED,
            f"legged {lasted:g} s (max {self._config.pair_max_legging_seconds:g} s): cancelled "
            f"leading remainder {cancelled or 'none'}; hedge kept at {self.hedge_position}",
            legged_seconds=lasted,
            fill_pcts=self.fill_pcts,
            cancelled=cancelled,
            unhedged_notional=self.unhedged_notional(),
            hedge_position=self.hedge_position,
        )

    # ------------------------------------------------------------------ hedge
    def _can_hedge(self) -> bool:
        return self._hedging and not self._hedge_gave_up and not self._manager.closed

    def _manage_hedge(self) -> None:
        self._count_hedge_outcomes()
        if not self._can_hedge() or self._hedge_inst is None:
            return
        inst = self._hedge_inst
        snapshot: MarketDataSnapshot | None = None
        target = 0
        if self._legged_since is not None:
            if self._hedge_ref is None:
                snapshot = self._hedge_snapshot()
                if snapshot is None:
                    return
                bid, ask = self._policy.validate_snapshot(inst.symbol, snapshot)
                self._hedge_ref = (bid + ask) / 2.0
            target = legging.target_hedge_position(
                legging.excess_notional(self._leg_fills()),
                self._hedge_ref,
                inst.multiplier,
                self.group.hedge_ratio,
                min_contract_fraction=self._settings.min_hedge_contract_fraction,
                min_notional=self._config.min_trade_notional_usd,
            )
        position = self.hedge_position
        live = [t for t in self.hedge_tickets if t.state not in TERMINAL]
        if live:
            needed = target - position
            for t in live:
                working = t.side.sign * t.remaining
                if needed * working <= 0 or abs(working) > abs(needed):
                    self._manager.cancel(t.client_order_id)  # would overshoot the target
            return
        delta = target - position
        if delta != 0:
            self._send_hedge(delta, target, snapshot)

    def _hedge_snapshot(self) -> MarketDataSnapshot | None:
        assert self._hedge_inst is not None
        symbol = self._hedge_inst.symbol
        try:
            snapshot = self._market_data(symbol)
            self._policy.validate_snapshot(symbol, snapshot)
        except (BrokerError, PlanRejected) as exc:
            self._hedge_failed(f"no usable quote for {symbol}: {exc}")
            return None
        return snapshot

    def _send_hedge(self, delta: int, target: int, snapshot: MarketDataSnapshot | None) -> None:
        assert self._hedge_inst is not None
        inst, gid = self._hedge_inst, self.group.group_id
        if snapshot is None:
            snapshot = self._hedge_snapshot()
            if snapshot is None:
                return
        self._hedge_seq += 1
        n = self._hedge_seq
        intent = OrderIntent(
            intent_id=f"{gid}:hedge:{n}",
            symbol=inst.symbol,
            side=Side.from_signed(delta),
            quantity=abs(delta),
            asset_class=inst.asset_class,
            pair_group=gid,
            urgency="high",
            mode=PolicyMode.MARKETABLE_LIMIT,
        )
        coid = make_client_order_id(self._rebalance_id, f"{gid}.hedge.{n}", 0, self._attempt)
        try:
            # A hedge goes out whole: immediacy matters more than impact here.
            plan = replace(self._factory(intent, snapshot), slices=None)
            ticket = self._manager.submit(plan, coid, parent_id=gid)
        except (PlanRejected, RiskBlocked) as exc:
            self._hedge_failed(f"hedge {intent.intent_id} not sent: {exc}")
            return
        self.hedge_tickets.append(ticket)
        kind = "unwind" if target == 0 else "deploy" if self.hedge_position == 0 else "resize"
        self._emit(
            PairEventKind.HEDGE_SENT,
            f"{kind}: {intent.side.value} {intent.quantity} {inst.symbol} @ {plan.limit_price} "
            f"(position {self.hedge_position} -> target {target})",
            client_order_id=coid,
            side=intent.side.value,
            quantity=intent.quantity,
            limit=plan.limit_price,
            target=target,
            position=self.hedge_position,
        )

    def _count_hedge_outcomes(self) -> None:
        for t in self.hedge_tickets:
            if t.client_order_id in self._hedge_seen or t.state not in TERMINAL:
                continue
            self._hedge_seen.add(t.client_order_id)
            if t.filled_quantity > 0:
                self._hedge_failures = 0
            elif t.state in ("REJECTED", "FAILED"):
                self._hedge_failed(f"hedge {t.client_order_id} {t.state}: {t.reject_reason}")

    def _hedge_failed(self, why: str) -> None:
        self._hedge_failures += 1
        gave_up = self._hedge_failures > self._settings.max_hedge_failures
        if gave_up:
            self._hedge_gave_up = True
            why = f"{why}; hedging abandoned, position {self.hedge_position} left open"
        self._emit(PairEventKind.HEDGE_FAILED, why, failures=self._hedge_failures, gave_up=gave_up)

    # ------------------------------------------------------------------ bookkeeping
    def _leg_fills(self) -> list[legging.LegFill]:
        return [
            legging.LegFill(
                leg.plan.side,
                leg.plan.quantity,
                leg.ticket.filled_quantity if leg.ticket is not None else 0,
                leg.plan.arrival_mid,
                leg.instrument.multiplier,
            )
            for leg in self._legs
        ]

    def _observe(self, now: datetime) -> None:
        if self._last_ts is not None:
            self.integral += self._last_u * (now - self._last_ts).total_seconds()
        self._last_ts = now
        self._last_u = self.unhedged_notional()
        self.max_unhedged = max(self.max_unhedged, self._last_u)

    def _finish(self, now: datetime) -> None:
        self.finished_at = now
        self._emit(
            PairEventKind.COMPLETED,
            "fill fractions " + ", ".join(f"{k}={v:.1%}" for k, v in self.fill_pcts.items()),
            fill_pcts=self.fill_pcts,
            final_unhedged_notional=self.unhedged_notional(),
            hedge_position=self.hedge_position,
            max_unhedged_notional=self.max_unhedged,
        )

    def _leg_result(self, leg: _Leg) -> LegResult:
        t = leg.ticket
        filled = t.filled_quantity if t is not None else 0
        return LegResult(
            intent_id=leg.intent.intent_id,
            client_order_id=leg.client_order_id,
            symbol=leg.intent.symbol,
            side=leg.intent.side,
            quantity=leg.plan.quantity,
            filled_quantity=filled,
            avg_fill_price=t.avg_fill_price if t and filled else None,
            state=t.state if t is not None else "NOT_SENT",
            repriced_to_edge=leg.pinned,
            fills=tuple(t.fills) if t is not None else (),
        )

    def _emit(self, kind: PairEventKind, detail: str, **details: object) -> None:
        event = PairEvent(self._clock.now(), self.group.group_id, kind, detail, details)
        self.events.append(event)
        self._emit_cb(event)
