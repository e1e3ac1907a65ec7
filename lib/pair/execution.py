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
from datetime import datetime

from lib.clock import Clock
from lib.config import ExecutionConfig
from lib.errors import BrokerError, PlanRejected, RiskBlocked
from lib.orders.manager import OrderManager
from lib.orders.states import REPLACEABLE
from lib.pair import legging
from lib.pair.hedge import HedgeBook, HedgePlanFactory
from lib.pair.legs import build_legs
from lib.pair.model import PairEvent, PairEventKind, PairMode, PairResult, PairSettings
from lib.policy import ExecutionPolicy
from lib.slippage import CollarEnforcer
from lib.types import (
    MarketDataSnapshot,
    OrderPlan,
    OrderTicket,
    PairGroup,
)

__all__ = ["HedgePlanFactory", "PairExecution"]

_EPS = 1e-9


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
        slice_index: int = 0,
    ) -> None:
        if ":" in group.group_id:
            raise ValueError(f"group_id must not contain ':' (got {group.group_id!r})")
        self.group = group
        self._manager, self._clock, self._config = manager, clock, config
        self._policy, self._market_data = policy, market_data
        self._mode, self._settings, self._emit_cb = mode, settings, emit
        self._rebalance_id, self._attempt = rebalance_id, attempt
        self._collars = CollarEnforcer(config)
        self._legs = build_legs(group, plans, policy.instruments, rebalance_id, attempt, slice_index)
        hedge_inst = (
            policy.instruments[group.hedge_symbol] if group.hedge_symbol is not None else None
        )
        self.hedge = HedgeBook(
            group.group_id,
            hedge_inst,
            group.hedge_ratio,
            enabled=config.pair_hedge_enabled,
            manager=manager,
            policy=policy,
            market_data=market_data,
            factory=hedge_plan_factory,
            config=config,
            settings=settings,
            rebalance_id=rebalance_id,
            attempt=attempt,
            emit=self._emit,
        )
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
        return self.hedge.position

    def unhedged_notional(self) -> float:
        """|excess + hedge offset| right now (currency)."""
        return abs(legging.excess_notional(self._leg_fills()) + self.hedge.offset_notional())

    # ------------------------------------------------------------------ driving
    def start(self) -> None:
        """Submit every leg at the same instant (nothing is sent if any leg's
        plan is invalid; if a submit raises, the legs already sent are cancelled)."""
        if self.started_at is not None:
            raise RiskBlocked("pair", f"{self.group.group_id}: started twice")
        now = self._clock.now()
        self.started_at = self._last_ts = now
        submit_plans = [leg.plan for leg in self._legs]
        if self._mode is PairMode.PASSIVE_FIRST:
            for i, leg in enumerate(self._legs):
                quotes = self._quotes(leg.intent.symbol)
                if quotes is not None:  # else straight to the plan's marketable limit
                    submit_plans[i] = leg.passive_plan(*quotes, self._collars)
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
        self.hedge.manage(legging.excess_notional(self._leg_fills()), self.legged)
        self._observe(now)
        if legs_done and self.hedge.settled:
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
        legs = tuple(leg.result() for leg in self._legs)
        return PairResult(
            group_id=self.group.group_id,
            completed=self.done,
            started_at=self.started_at,
            finished_at=self.finished_at,
            legs=legs,
            max_unhedged_notional=self.max_unhedged,
            unhedged_notional_seconds=self.integral,
            final_unhedged_notional=self.unhedged_notional(),
            hedge_symbol=self.group.hedge_symbol if self.hedge.enabled else None,
            hedge_orders_sent=len(self.hedge.tickets),
            hedge_filled_quantity=sum(t.filled_quantity for t in self.hedge.tickets),
            hedge_position=self.hedge_position,
            legging_episodes=self.episodes,
            escalations=self.escalations,
            max_legging_seconds=self.longest_legging,
            events=tuple(self.events),
        )

    # ------------------------------------------------------------------ legs
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
            if not leg.is_limit or ticket.state not in REPLACEABLE:
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
            assert leg.plan.limit_price is not None  # passive legs are limit orders
            quotes = self._quotes(leg.intent.symbol)
            price = leg.plan.limit_price if quotes is None else leg.touch(*quotes, self._collars)
            rung = leg.rungs_covered(price)
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

    # ------------------------------------------------------------------ bookkeeping
    def _leg_fills(self) -> list[legging.LegFill]:
        return [leg.fill() for leg in self._legs]

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

    def _emit(self, kind: PairEventKind, detail: str, **details: object) -> None:
        event = PairEvent(self._clock.now(), self.group.group_id, kind, detail, details)
        self.events.append(event)
        self._emit_cb(event)
