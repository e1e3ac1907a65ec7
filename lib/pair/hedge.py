"""HedgeBook: the temporary hedge of one pair group, resized by delta orders.

Each cycle :meth:`HedgeBook.manage` is given the legs' signed excess notional
and whether a legging episode is open. Target position (contracts, signed):
:func:`lib.pair.legging.target_hedge_position` during an episode, 0 outside
one (unwind). Orders never overlap: while a hedge order works, one that would
overshoot the target is cancelled and nothing new is sent; once none works, the
difference ``target - filled position`` goes out as one marketable-limit order
(intent ``"<group>:hedge:<n>"``, client order id from
``make_client_order_id(rebalance_id, "<group>.hedge.<n>")`` since ids may not
hold ``":"``). The hedge is marked at the mid seen at its first deployment
(fixed for the run, so a hedge that offset the excess keeps offsetting it).

Failures (no usable quote, plan refused, submit blocked, order rejected/failed
without fills) are HEDGE_FAILED events; more than ``max_hedge_failures`` in a
row abandon hedging for the pair, with the position left open named in the alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lib.config import ExecutionConfig
from lib.errors import BrokerError, PlanRejected, RiskBlocked
from lib.orders.manager import OrderManager, make_client_order_id
from lib.orders.states import TERMINAL, OrderState
from lib.pair import legging
from lib.pair.model import PairEventKind, PairSettings
from lib.policy import ExecutionPolicy
from lib.types import (
    Instrument,
    MarketDataSnapshot,
    OrderIntent,
    OrderPlan,
    OrderTicket,
    PolicyMode,
    Side,
)

__all__ = ["HedgeBook", "HedgePlanFactory"]

#: ``factory(hedge_intent, fresh_snapshot) -> OrderPlan`` for a hedge order.
HedgePlanFactory = Callable[[OrderIntent, MarketDataSnapshot], OrderPlan]
#: ``emit(kind, detail, **details)``.
Emit = Callable[..., None]
_FAILED = frozenset({OrderState.REJECTED, OrderState.FAILED})


class HedgeBook:
    """Hedge orders and position of one group (see the module docstring).
    ``instrument`` None (or ``enabled`` False, or ratio 0) means no hedging."""

    def __init__(
        self,
        group_id: str,
        instrument: Instrument | None,
        hedge_ratio: float,
        *,
        enabled: bool,
        manager: OrderManager,
        policy: ExecutionPolicy,
        market_data: Callable[[str], MarketDataSnapshot],
        factory: HedgePlanFactory,
        config: ExecutionConfig,
        settings: PairSettings,
        rebalance_id: str,
        attempt: int,
        emit: Emit,
    ) -> None:
        self.group_id = group_id
        self.instrument = instrument
        self.ratio = hedge_ratio
        self.enabled = enabled and instrument is not None and hedge_ratio != 0
        self._manager, self._policy, self._market_data = manager, policy, market_data
        self._factory, self._config, self._settings = factory, config, settings
        self._rebalance_id, self._attempt, self._emit = rebalance_id, attempt, emit
        self.tickets: list[OrderTicket] = []
        self.ref_price: float | None = None  # mid at first deployment
        self._seq = 0
        self._failures = 0
        self._seen: set[str] = set()
        self.gave_up = False

    # ------------------------------------------------------------------ views
    @property
    def position(self) -> int:
        """Signed contracts filled so far (SELL negative)."""
        return sum(t.side.sign * t.filled_quantity for t in self.tickets)

    @property
    def working(self) -> bool:
        return any(t.state not in TERMINAL for t in self.tickets)

    @property
    def active(self) -> bool:
        """Hedging is possible (enabled, not abandoned, manager open)."""
        return self.enabled and not self.gave_up and not self._manager.closed

    @property
    def settled(self) -> bool:
        """Nothing working and flat - or nothing more can be done."""
        return not self.working and (self.position == 0 or not self.active)

    def offset_notional(self) -> float:
        """The position in leg-notional units (signed; 0 before any deployment)."""
        if self.instrument is None or self.ref_price is None:
            return 0.0
        return legging.hedge_offset_notional(
            self.position, self.ref_price, self.instrument.multiplier, self.ratio
        )

    # ------------------------------------------------------------------ driving
    def manage(self, excess: float, legged: bool) -> None:
        """Move the position toward its target for this cycle."""
        self._count_outcomes()
        if not self.active or self.instrument is None:
            return
        inst = self.instrument
        snapshot: MarketDataSnapshot | None = None
        target = 0
        if legged:
            if self.ref_price is None:
                snapshot = self._snapshot()
                if snapshot is None:
                    return
                bid, ask = self._policy.validate_snapshot(inst.symbol, snapshot)
                self.ref_price = (bid + ask) / 2.0
            target = legging.target_hedge_position(
                excess,
                self.ref_price,
                inst.multiplier,
                self.ratio,
                min_contract_fraction=self._settings.min_hedge_contract_fraction,
                min_notional=self._config.min_trade_notional_usd,
            )
        needed = target - self.position
        live = [t for t in self.tickets if t.state not in TERMINAL]
        if live:
            for t in live:
                working = t.side.sign * t.remaining
                if needed * working <= 0 or abs(working) > abs(needed):
                    self._manager.cancel(t.client_order_id)  # would overshoot the target
            return
        if needed != 0:
            self._send(needed, target, snapshot)

    # ------------------------------------------------------------------ internals
    def _snapshot(self) -> MarketDataSnapshot | None:
        assert self.instrument is not None
        symbol = self.instrument.symbol
        try:
            snapshot = self._market_data(symbol)
            self._policy.validate_snapshot(symbol, snapshot)
        except (BrokerError, PlanRejected) as exc:
            self._failed(f"no usable quote for {symbol}: {exc}")
            return None
        return snapshot

    def _send(self, delta: int, target: int, snapshot: MarketDataSnapshot | None) -> None:
        assert self.instrument is not None
        inst, gid = self.instrument, self.group_id
        if snapshot is None:
            snapshot = self._snapshot()
            if snapshot is None:
                return
        self._seq += 1
        intent = OrderIntent(
            intent_id=f"{gid}:hedge:{self._seq}",
            symbol=inst.symbol,
            side=Side.from_signed(delta),
            quantity=abs(delta),
            asset_class=inst.asset_class,
            pair_group=gid,
            urgency="high",
            mode=PolicyMode.MARKETABLE_LIMIT,
        )
        coid = make_client_order_id(
            self._rebalance_id, f"{gid}.hedge.{self._seq}", 0, self._attempt
        )
        try:
            # A hedge goes out whole: immediacy matters more than impact here.
            plan = replace(self._factory(intent, snapshot), slices=None)
            ticket = self._manager.submit(plan, coid, parent_id=gid)
        except (PlanRejected, RiskBlocked) as exc:
            self._failed(f"hedge {intent.intent_id} not sent: {exc}")
            return
        position = self.position
        self.tickets.append(ticket)
        kind = "unwind" if target == 0 else "deploy" if position == 0 else "resize"
        self._emit(
            PairEventKind.HEDGE_SENT,
            f"{kind}: {intent.side.value} {intent.quantity} {inst.symbol} @ {plan.limit_price} "
            f"(position {position} -> target {target})",
            client_order_id=coid,
            side=intent.side.value,
            quantity=intent.quantity,
            limit=plan.limit_price,
            target=target,
            position=position,
        )

    def _count_outcomes(self) -> None:
        for t in self.tickets:
            if t.client_order_id in self._seen or t.state not in TERMINAL:
                continue
            self._seen.add(t.client_order_id)
            if t.filled_quantity > 0:
                self._failures = 0
            elif t.state in _FAILED:
                self._failed(f"hedge {t.client_order_id} {t.state}: {t.reject_reason}")

    def _failed(self, why: str) -> None:
        self._failures += 1
        gave_up = self._failures > self._settings.max_hedge_failures
        if gave_up:
            self.gave_up = True
            why = f"{why}; hedging abandoned, position {self.position} left open"
        self._emit(PairEventKind.HEDGE_FAILED, why, failures=self._failures, gave_up=gave_up)
